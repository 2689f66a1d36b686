import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, dockerInspect, startStack, volumeExists, type Stack } from "../src/index.js";

const MiB = 1024 * 1024;

describe("PostgreSQL addon, end to end through API, Redis, worker, Docker and a platform stand-in", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("provisions, serves data, changes plan keeping the data, and deprovisions leaving nothing", async () => {
    const driver = stack.driver("postgresql");
    const appId = `app-${randomUUID().slice(0, 8)}`;

    const provisioned = await driver.provision({ plan: "postgresql-sandbox", app_id: appId, options: {} });
    expect(provisioned.status).toBe(202);
    const { id, message } = provisioned.body as { id: string; message: string };
    expect(id).toMatch(/^postgresql-/);
    expect(message).toContain("SCALINGO_POSTGRESQL_URL");

    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    const url = stack.standIn.addonConfig(id)?.SCALINGO_POSTGRESQL_URL;
    expect(url).toMatch(/^postgres:\/\/u_[a-z0-9]+:[A-Za-z0-9]{32}@127\.0\.0\.1:\d+\/db_[a-z0-9]+$/);
    // The config came before the provision action, each exactly once.
    const calls = stack.standIn.calls.filter((call) => call.resourceId === id).map((call) => `${call.method} ${call.path}`);
    expect(calls).toEqual([
      `PATCH /v1/provider/addons/${id}/config`,
      `POST /v1/provider/addons/${id}/actions/provision`,
    ]);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("CREATE TABLE notes (body text)");
    await client.query("INSERT INTO notes VALUES ('kept across plans')");
    expect((await client.query("SELECT body FROM notes")).rows).toEqual([{ body: "kept across plans" }]);
    expect((await client.query("SHOW max_connections")).rows[0].max_connections).toBe("20");
    await client.end();

    const containerName = `berth-${id}`;
    const before = await dockerInspect(containerName);
    expect(before?.HostConfig.Memory).toBe(256 * MiB);
    expect(before?.HostConfig.NanoCpus).toBe(0.5e9);
    expect(before?.HostConfig.SecurityOpt).toContain("no-new-privileges");

    const changed = await driver.changePlan(id, "postgresql-starter-512");
    expect(changed.status).toBe(200);
    expect((changed.body as { message: string }).message).toContain("Starter 512M");
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.plan, { timeout: 120_000, interval: 250 }).toBe(
      "postgresql-starter-512",
    );
    const after = await dockerInspect(containerName);
    expect(after?.HostConfig.Memory).toBe(512 * MiB);
    expect(after?.HostConfig.NanoCpus).toBe(1e9);
    expect(after?.State.Running).toBe(true);

    const again = new pg.Client({ connectionString: url });
    await again.connect();
    expect((await again.query("SELECT body FROM notes")).rows).toEqual([{ body: "kept across plans" }]);
    expect((await again.query("SHOW max_connections")).rows[0].max_connections).toBe("50");
    await again.end();

    const deprovisioned = await driver.deprovision(id);
    expect(deprovisioned.status).toBe(204);
    expect(deprovisioned.body).toBe("");
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 60_000, interval: 250 }).toBe(
      "deprovisioned",
    );
    expect(await containersOf(id)).toEqual([]);
    expect(await volumeExists(`berth-${id}-data`)).toBe(false);
    const record = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(record.credentials).toBeNull();
    expect(record.port).toBeNull();
    const operations = await stack.db.operation.findMany({ where: { resourceId: id }, orderBy: { seq: "asc" } });
    expect(operations.map((op) => [op.kind, op.status])).toEqual([
      ["provision", "succeeded"],
      ["change_plan", "succeeded"],
      ["deprovision", "succeeded"],
    ]);
  });

  it("answers the same provision twice, also concurrently, with one id and one container", async () => {
    const driver = stack.driver("postgresql");
    const uuid = randomUUID();
    const body = { plan: "postgresql-sandbox", app_id: "app-dedupe", uuid };
    const responses = await Promise.all([driver.provision(body), driver.provision(body), driver.provision(body)]);
    const ids = new Set(responses.map((response) => (response.body as { id: string }).id));
    expect(responses.map((response) => response.status)).toEqual([202, 202, 202]);
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];

    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    const late = await driver.provision(body);
    expect((late.body as { id: string }).id).toBe(id);
    expect(await containersOf(id)).toEqual([`berth-${id}`]);
    expect(await stack.db.resource.count({ where: { platformUuid: uuid } })).toBe(1);
    expect(stack.standIn.provisionActions(id)).toBe(1);

    expect((await driver.deprovision(id)).status).toBe(204);
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => containersOf(id), { timeout: 60_000, interval: 250 }).toEqual([]);
  });

  it("retries callbacks while the platform answers 503, then reports exactly once", async () => {
    const driver = stack.driver("postgresql");
    stack.standIn.injectFaults({ status: 503, times: 2, retryAfterSeconds: 1, paths: /\/config$/ });
    const { body } = await driver.provision({ plan: "postgresql-sandbox", app_id: "app-retry" });
    const { id } = body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    const configCalls = stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config"));
    expect(configCalls.map((call) => call.status)).toEqual([503, 503, 200]);
    expect(stack.standIn.provisionActions(id)).toBe(1);
    // The worker records success right after the platform answers the action.
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 30_000, interval: 100 }).toBe(
      "provisioned",
    );
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => containersOf(id), { timeout: 60_000, interval: 250 }).toEqual([]);
  });

  it("runs a plan change (PATCH) and a deprovision sent during provisioning after it, in order", async () => {
    const driver = stack.driver("postgresql");
    const { body } = await driver.provision({ plan: "postgresql-sandbox", app_id: "app-queued" });
    const { id } = body as { id: string };
    expect((await driver.changePlan(id, "postgresql-starter-512", { method: "PATCH" })).status).toBe(200);
    expect((await driver.deprovision(id)).status).toBe(204);
    // Once a deprovision is accepted, the resource is gone for the platform.
    expect((await driver.changePlan(id, "postgresql-sandbox")).status).toBe(404);

    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 120_000, interval: 250 }).toBe(
      "deprovisioned",
    );
    const operations = await stack.db.operation.findMany({ where: { resourceId: id }, orderBy: { seq: "asc" } });
    expect(operations.map((op) => [op.kind, op.status])).toEqual([
      ["provision", "succeeded"],
      ["change_plan", "succeeded"],
      ["deprovision", "succeeded"],
    ]);
    expect(operations[1]!.startedAt!.getTime()).toBeGreaterThanOrEqual(operations[0]!.finishedAt!.getTime());
    expect(operations[2]!.startedAt!.getTime()).toBeGreaterThanOrEqual(operations[1]!.finishedAt!.getTime());
    expect(await containersOf(id)).toEqual([]);
    expect(await volumeExists(`berth-${id}-data`)).toBe(false);
  });
});

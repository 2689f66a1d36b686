import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPrivateDockerEngine, startStack, type PrivateDockerEngine, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 250 };

/** The Docker Engine restarts: databases come back through their restart policy, with their data, and queued work resumes. */
describe("the Docker Engine restarts", () => {
  let engine: PrivateDockerEngine;
  let stack: Stack;
  beforeAll(async () => {
    engine = await startPrivateDockerEngine();
    const image = process.env.BERTH_ADDON_POSTGRESQL_IMAGE ?? "postgres:15";
    await engine.loadImage(image);
    stack = await startStack({ env: { DOCKER_HOST: engine.host, BERTH_ADDON_POSTGRESQL_IMAGE: image } });
  });
  afterAll(async () => {
    try {
      await stack?.close();
    } finally {
      await engine?.destroy();
    }
  });

  const running = async (name: string) => (await engine.docker("inspect", "-f", "{{.State.Running}}", name).catch(() => "false")).trim() === "true";

  it("brings databases back with their data, and finishes a provisioning sent while it was down", async () => {
    const driver = stack.driver("postgresql");
    const first = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "engine-restart" })).body as { id: string }).id;
    await stack.standIn.waitForProvisioned(first, { timeoutMs: WAIT.timeout });
    const url = stack.standIn.addonConfig(first)!.SCALINGO_POSTGRESQL_URL!;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("CREATE TABLE survivors (name text); INSERT INTO survivors VALUES ('still here')");
    await client.end();

    await engine.stopDaemon();
    expect(await running(`berth-${first}`)).toBe(false);
    // Work arrives while the engine is down: the worker's attempts fail and are retried.
    const second = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "engine-down" })).body as { id: string }).id;
    await expect.poll(async () => (await stack.db.operation.findFirst({ where: { resourceId: second } }))?.error ?? "", WAIT).not.toBe("");
    await engine.startDaemon();

    await expect.poll(() => running(`berth-${first}`), WAIT).toBe(true);
    const again = new pg.Client({ connectionString: url });
    await expect.poll(async () => again.connect().then(() => true, () => false), WAIT).toBe(true);
    expect((await again.query("SELECT name FROM survivors")).rows).toEqual([{ name: "still here" }]);
    await again.end();

    await stack.standIn.waitForProvisioned(second, { timeoutMs: WAIT.timeout });
    const operation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: second } });
    console.log(`engine restart: first database back with its data; second provisioned after ${operation.attempts} attempts`);
    expect(operation.attempts).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: second } }))?.status, WAIT).toBe("provisioned");

    for (const id of [first, second]) expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => stack.db.resource.count({ where: { id: { in: [first, second] }, status: "deprovisioned" } }), WAIT).toBe(2);
    expect((await engine.docker("ps", "-aq")).trim()).toBe("");
  });
});

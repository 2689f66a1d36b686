import { OPERATION_STEPS } from "@berth/worker/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, volumeExists, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 200 };

/**
 * The steps of provisioning, as the worker lists them, but the warm pool's password hand-over,
 * which a database built on demand never takes (the warm pool's tests cover it).
 */
const PROVISION_STEPS = OPERATION_STEPS.provision.filter((step) => step !== "rotate-credentials");

/**
 * A worker killed with SIGKILL as each step of provisioning begins: the job
 * comes back to another worker, which finishes it. Every resource must end
 * provisioned exactly once — one container, one volume, one provision action,
 * the same credentials in every callback.
 */
describe("a worker killed at each step of provisioning", () => {
  let stack: Stack;
  beforeAll(async () => {
    // A short job lock: a killed worker's job goes to the next one within seconds.
    stack = await startStack({ inProcessWorker: false, env: { BERTH_JOB_LOCK_SECONDS: "2" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each(PROVISION_STEPS)("killed as '%s' begins, the next worker provisions once", async (step) => {
    const driver = stack.driver("postgresql");
    const victim = await stack.spawnWorker({ killAtStep: step });
    const response = await driver.provision({ plan: "postgresql-sandbox", app_id: `fault-${step}` });
    expect(response.status).toBe(202);
    const id = (response.body as { id: string }).id;
    expect((await victim.exited).signal).toBe("SIGKILL");

    const survivor = await stack.spawnWorker();
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
    await survivor.stop();

    const configCalls = stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config") && call.status === 200);
    const urls = new Set(configCalls.map((call) => JSON.stringify(call.body)));
    const operation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id } });
    const found = {
      containers: await containersOf(id),
      volume: await volumeExists(`berth-${id}-data`),
      provisionActions: stack.standIn.provisionActions(id),
      distinctConfigs: urls.size,
      operation: [operation.status, operation.attempts],
    };
    console.log(`killed at ${step}: config callbacks ${configCalls.length}, found ${JSON.stringify(found)}`);
    expect(found.containers).toEqual([`berth-${id}`]);
    expect(found.volume).toBe(true);
    expect(found.provisionActions).toBe(1);
    expect(found.distinctConfigs).toBe(1);
    expect(operation.status).toBe("succeeded");
    expect(operation.attempts).toBeGreaterThanOrEqual(2);

    // The URL the platform holds works: no second database, no other credentials.
    const client = new pg.Client({ connectionString: stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL });
    await client.connect();
    expect((await client.query("SELECT 1 AS ok")).rows).toEqual([{ ok: 1 }]);
    await client.end();

    const cleaner = await stack.spawnWorker();
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("deprovisioned");
    await cleaner.stop();
    expect(await containersOf(id)).toEqual([]);
  });

  it("killed while deprovisioning, the next worker removes everything", async () => {
    const driver = stack.driver("postgresql");
    const helper = await stack.spawnWorker();
    const id = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "fault-deprovision" })).body as { id: string }).id;
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
    await helper.stop();

    const victim = await stack.spawnWorker({ killAtStep: "volume", killKind: "deprovision" });
    expect((await driver.deprovision(id)).status).toBe(204);
    expect((await victim.exited).signal).toBe("SIGKILL");
    const survivor = await stack.spawnWorker();
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("deprovisioned");
    await survivor.stop();
    expect(await containersOf(id)).toEqual([]);
    expect(await volumeExists(`berth-${id}-data`)).toBe(false);
  });
});

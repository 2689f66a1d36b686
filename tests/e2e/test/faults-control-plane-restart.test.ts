import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, startTestPostgres, type Stack, type TestPostgres } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 250 };

/** The control-plane PostgreSQL restarts: requests meanwhile are refused as retryable, and no operation is lost. */
describe("the control-plane PostgreSQL restarts", () => {
  let postgres: TestPostgres;
  let stack: Stack;
  beforeAll(async () => {
    postgres = await startTestPostgres();
    stack = await startStack({ env: { BERTH_DATABASE_URL: postgres.url } });
  });
  afterAll(async () => {
    try {
      await stack?.close();
    } finally {
      await postgres?.destroy();
    }
  });

  it("finishes the work in progress and answers 503 while it is down", async () => {
    const driver = stack.driver("postgresql");
    const id = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "cp-restart" })).body as { id: string }).id;
    await postgres.stop();

    const uuid = randomUUID();
    const refused = await driver.provision({ plan: "postgresql-sandbox", app_id: "cp-down", uuid });
    expect(refused.status).toBe(503);
    expect((refused.body as { error: string }).error).toBe("service_unavailable");

    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await postgres.start();

    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }).catch(() => null))?.status, WAIT).toBe("provisioned");
    // The platform retries the refused request: it goes through, once.
    const retried = await driver.provision({ plan: "postgresql-sandbox", app_id: "cp-down", uuid });
    expect(retried.status).toBe(202);
    const second = (retried.body as { id: string }).id;
    await stack.standIn.waitForProvisioned(second, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: second } }))?.status, WAIT).toBe("provisioned");
    const operations = await stack.db.operation.findMany({ where: { resourceId: { in: [id, second] } } });
    console.log(`control-plane restart: ${operations.length} operations, attempts ${operations.map((op) => op.attempts).join(", ")}`);
    expect(operations.map((op) => op.status)).toEqual(["succeeded", "succeeded"]);
    expect(await containersOf(id)).toEqual([`berth-${id}`]);
    expect(stack.standIn.provisionActions(id)).toBe(1);

    for (const resourceId of [id, second]) expect((await driver.deprovision(resourceId)).status).toBe(204);
    await expect.poll(async () => stack.db.resource.count({ where: { id: { in: [id, second] }, status: "deprovisioned" } }), WAIT).toBe(2);
  });
});

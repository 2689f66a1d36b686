import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, volumeExists, type Stack } from "../src/index.js";

describe("a provisioning that cannot succeed", () => {
  let stack: Stack;
  beforeAll(async () => {
    // An image no Docker host has: a permanent failure, not one to retry for minutes.
    stack = await startStack({ env: { BERTH_ADDON_POSTGRESQL_IMAGE: "berth-local/no-such-image:0" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("is recorded as failed with its reason, reports nothing to the platform, and can still be deprovisioned cleanly", async () => {
    const driver = stack.driver("postgresql");
    const { status, body } = await driver.provision({ plan: "postgresql-sandbox", app_id: "app-doomed" });
    expect(status).toBe(202);
    const { id } = body as { id: string };

    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 60_000, interval: 250 }).toBe(
      "failed",
    );
    const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(resource.statusReason).toContain("berth-local/no-such-image:0");
    const [operation] = await stack.db.operation.findMany({ where: { resourceId: id } });
    expect(operation?.status).toBe("failed");
    expect(operation?.attempts).toBe(1);
    expect(stack.standIn.calls.filter((call) => call.resourceId === id)).toEqual([]);

    // A failed resource refuses a plan change with a reason, and is removed on request.
    const change = await driver.changePlan(id, "postgresql-starter-512");
    expect(change.status).toBe(409);
    expect((change.body as { error: string }).error).toBe("resource_failed");
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 60_000, interval: 250 }).toBe(
      "deprovisioned",
    );
    expect(await containersOf(id)).toEqual([]);
    expect(await volumeExists(`berth-${id}-data`)).toBe(false);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, type Stack } from "../src/index.js";

/**
 * The platform refusing a callback (a 4xx the client marks not retryable) fails the operation at
 * its first attempt, with the platform's status and reason on the operation and the resource;
 * a 503 is still retried, by the client and then by the job.
 */
describe("Platform API errors", () => {
  let stack: Stack;
  beforeAll(async () => {
    // One retry per job attempt in the client, so a run of 503s reaches the job's own retry quickly.
    stack = await startStack({ env: { BERTH_PLATFORM_RETRIES: "1" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function settled(operationResourceId: string) {
    await expect
      .poll(async () => (await stack.db.operation.findFirst({ where: { resourceId: operationResourceId, kind: "provision" } }))?.status, {
        timeout: 120_000,
        interval: 250,
      })
      .toMatch(/^(succeeded|failed)$/);
    return stack.db.operation.findFirstOrThrow({ where: { resourceId: operationResourceId, kind: "provision" } });
  }

  async function remove(id: string) {
    expect((await stack.driver("redis").deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 60_000, interval: 250 }).toBe(
      "deprovisioned",
    );
    expect(await containersOf(id)).toEqual([]);
  }

  const configCalls = (id: string) =>
    stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config")).map((call) => call.status);

  it.each([
    { status: 401 as const, body: undefined, reason: "answered 401: injected fault 401" },
    // A platform echoing the provider's own password: the client replaces it before anything records it.
    { status: 422 as const, body: "password", reason: "answered 422: config: invalid for [redacted] (SCALINGO_REDIS_URL)" },
  ])("a $status from the platform fails the provision at once, with the platform's reason", async ({ status, body, reason }) => {
    const { password } = stack.credentials("redis");
    stack.standIn.injectFaults({
      status,
      times: 1,
      paths: /\/config$/,
      ...(body ? { body: { errors: { config: [`invalid for ${password} (SCALINGO_REDIS_URL)`] } } } : {}),
    });
    const response = await stack.driver("redis").provision({ plan: "redis-sandbox", app_id: `app-refused-${status}` });
    expect(response.status).toBe(202);
    const { id } = response.body as { id: string };

    const operation = await settled(id);
    expect([operation.status, operation.attempts]).toEqual(["failed", 1]);
    expect(operation.error).toContain(reason);
    expect(operation.error).toContain("the platform refused the call");
    expect(operation.error).not.toContain(password);
    const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(resource.status).toBe("failed");
    expect(resource.statusReason).toContain(reason);
    // One HTTP call: neither the client nor the job tried again; and no provision action after it.
    expect(configCalls(id)).toEqual([status]);
    expect(stack.standIn.provisionActions(id)).toBe(0);

    await remove(id);
  });

  it("a 503 is still retried: by the client, then by the job, until the platform answers", async () => {
    // Two HTTP attempts per job attempt (BERTH_PLATFORM_RETRIES=1): the first job attempt meets two 503s.
    stack.standIn.injectFaults({ status: 503, times: 3, retryAfterSeconds: 0, paths: /\/config$/ });
    const response = await stack.driver("redis").provision({ plan: "redis-sandbox", app_id: "app-unavailable" });
    const { id } = response.body as { id: string };

    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    const operation = await settled(id);
    expect([operation.status, operation.attempts]).toEqual(["succeeded", 2]);
    expect(configCalls(id)).toEqual([503, 503, 503, 200]);
    expect(stack.standIn.provisionActions(id)).toBe(1);

    await remove(id);
  });
});

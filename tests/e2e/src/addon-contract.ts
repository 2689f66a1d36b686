import type { AddonDefinition } from "@berth/addon-sdk";
import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, dockerInspect, volumeExists } from "./docker.js";
import { startStack, type Stack } from "./stack.js";

const MiB = 1024 * 1024;
const WAIT = { timeout: 120_000, interval: 200 };

/**
 * The battery every engine passes against real containers, through the whole
 * system (API, queue, worker, Docker) and the platform stand-in: the checks a
 * customer and an operator would make. Call it once per addon.
 */
export function runAddonContract(addon: AddonDefinition, engine: EngineTestClient): void {
  const [firstPlan, secondPlan] = addon.plans;
  if (!firstPlan || !secondPlan) throw new Error(`the contract needs two plans of ${addon.id}`);

  describe(`${addon.name} addon contract`, () => {
    let stack: Stack;
    let id: string;
    let url: string;
    beforeAll(async () => {
      stack = await startStack();
    });
    afterAll(async () => {
      await stack?.close();
    });

    const status = async () => (await stack.db.resource.findUnique({ where: { id } }))?.status;

    it("provisions: the platform receives the config var, then the provision action", async () => {
      const response = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `contract-${addon.id}` });
      expect(response.status).toBe(202);
      id = (response.body as { id: string }).id;
      await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
      const config = stack.standIn.addonConfig(id) ?? {};
      expect(Object.keys(config)).toEqual([...addon.configVars]);
      url = config[addon.configVars[0]!]!;
      expect(url).toContain("127.0.0.1:");
      await expect.poll(status, WAIT).toBe("provisioned");
    });

    it("serves the delivered URL: data written is read back", async () => {
      const session = await engine.connect(url);
      await session.write("greeting", `hello from ${addon.id}`);
      expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
      await session.close();
    });

    it("applies the plan's limits, in Docker and in the engine", async () => {
      await expectPlanApplied(firstPlan);
    });

    it("refuses a wrong password", async () => {
      const wrong = new URL(url);
      wrong.password = "wrong-password-0123456789abcdef";
      await expect(engine.connect(wrong.toString())).rejects.toThrow();
    });

    it("changes plan keeping the data and applying the new limits", async () => {
      const response = await stack.driver(addon.id).changePlan(id, secondPlan.name);
      expect(response.status).toBe(200);
      await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.plan, WAIT).toBe(secondPlan.name);
      expect(await status()).toBe("provisioned");
      await expectPlanApplied(secondPlan);
      const session = await engine.connect(url);
      expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
      await session.close();
    });

    it("deprovisions leaving no container, volume or live record", async () => {
      const response = await stack.driver(addon.id).deprovision(id);
      expect([response.status, response.body]).toEqual([204, ""]);
      await expect.poll(status, WAIT).toBe("deprovisioned");
      expect(await containersOf(id)).toEqual([]);
      expect(await volumeExists(`berth-${id}-data`)).toBe(false);
      const record = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect([record.port, record.credentials]).toEqual([null, null]);
      await expect(engine.connect(url)).rejects.toThrow();
    });

    async function expectPlanApplied(plan: typeof firstPlan) {
      const inspect = await dockerInspect(`berth-${id}`);
      expect(inspect?.State.Running).toBe(true);
      expect(inspect?.HostConfig.Memory).toBe(plan!.limits.memoryMb * MiB);
      expect(inspect?.HostConfig.NanoCpus).toBe(Math.round(plan!.limits.cpus * 1e9));
      expect(inspect?.HostConfig.PidsLimit).toBe(plan!.limits.pids);
      expect(inspect?.Config.Labels["berth.plan"]).toBe(plan!.name);
      const session = await engine.connect(url);
      const reported = Object.fromEntries(
        await Promise.all(Object.keys(engine.expectedSettings(plan!)).map(async (name) => [name, await session.setting(name)])),
      );
      await session.close();
      expect(reported).toEqual(engine.expectedSettings(plan!));
    }
  });

  describe(`${addon.name} that never becomes ready`, () => {
    const readyTimeoutMs = 4_000;
    // A real container that listens, but not where it is reached: the worker's probes never succeed.
    const unreachable: AddonDefinition = {
      ...addon,
      readyTimeoutMs,
      containerSpec: (input) => addon.containerSpec({ ...input, bindAddress: "127.0.0.2" }),
    };
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ addons: new Map([[addon.id, unreachable]]) });
    });
    afterAll(async () => {
      await stack?.close();
    });

    it("fails cleanly within the addon's timeout and leaves nothing behind", async () => {
      const response = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `never-ready-${addon.id}` });
      expect(response.status).toBe(202);
      const id = (response.body as { id: string }).id;
      await expect
        .poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: readyTimeoutMs + 60_000, interval: 200 })
        .toBe("failed");
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect(resource.statusReason).toContain(`did not accept connections within ${readyTimeoutMs} ms`);
      expect(resource.port).toBeNull();
      const [operation] = await stack.db.operation.findMany({ where: { resourceId: id } });
      expect([operation?.status, operation?.attempts]).toEqual(["failed", 1]);
      expect(await containersOf(id)).toEqual([]);
      expect(await volumeExists(`berth-${id}-data`)).toBe(false);
      expect(stack.standIn.calls.filter((call) => call.resourceId === id)).toEqual([]);
    });
  });
}

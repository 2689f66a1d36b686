import type { AddonDefinition } from "@berth/addon-sdk";
import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "@berth/db";
import { containersOf, dockerInspect, volumeExists } from "./docker.js";
import { networkOfNamespace, tcpConnects, tcpFromNamespaceOf, type Target } from "./network-namespace.js";
import { startStack, type Stack } from "./stack.js";

const MiB = 1024 * 1024;

function hostPort(url: string): Target {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}
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
      url = config[addon.urlConfigVar]!;
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

    // Each attack a hostile customer tries with the delivered URL is refused by the engine itself.
    it.each(Object.keys(engine.attacks))("refuses the customer's attack: %s", async (name) => {
      const refusal = await engine.attacks[name]!(url);
      console.log(`[attack] ${addon.id}: ${name} → ${refusal}`);
      expect(refusal).not.toBe("");
    });

    it("has no network: nothing on the host's loopback answers from inside its container, and no route leads out", async () => {
      const inspect = (await dockerInspect(`berth-${id}`))!;
      expect(inspect.HostConfig.NetworkMode).toBe("none");
      const targets: Record<string, Target> = {
        "the control plane's PostgreSQL": hostPort(stack.env.BERTH_DATABASE_URL!),
        "Berth's Redis (the job queue)": hostPort(stack.env.BERTH_REDIS_URL!),
        "the provider API": hostPort(stack.apiUrl),
        "the platform stand-in": hostPort(stack.standIn.url),
        "this database's public port, where any tenant's gateway port is": hostPort(url),
      };
      // Each target does answer on the host: the refusals below are the container's doing.
      for (const [name, target] of Object.entries(targets)) expect([name, await tcpConnects(target)]).toEqual([name, true]);
      const outcomes = await tcpFromNamespaceOf(inspect.State.Pid, Object.values(targets));
      const fromInside = Object.fromEntries(Object.keys(targets).map((name, index) => [name, outcomes[index]]));
      console.log(`[attack] ${addon.id}: connections from inside the container → ${JSON.stringify(fromInside)}`);
      for (const [name, outcome] of Object.entries(fromInside)) expect([name, outcome]).not.toEqual([name, "connected"]);
      expect(await networkOfNamespace(inspect.State.Pid)).toEqual({ interfaces: ["lo"], routesOut: [] });
    });

    it("keeps every password out of the Docker API (environment, command line, labels)", async () => {
      const secrets = new SecretBox(Buffer.from(stack.env.BERTH_ENCRYPTION_KEY!, "base64"));
      const record = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      const credentials = secrets.openJson<Record<string, string>>(record.credentials!);
      const inspected = JSON.stringify(await dockerInspect(`berth-${id}`));
      const passwords = Object.entries(credentials).filter(([field]) => /password/i.test(field));
      expect(passwords.length).toBeGreaterThan(0);
      for (const [field, value] of passwords) expect([field, inspected.includes(value)]).toEqual([field, false]);
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
        await Promise.all(Object.keys(engine.expectedSettings(plan!)).map(async (name): Promise<[string, string]> => [name, await session.setting(name)])),
      );
      await session.close();
      expect(reported).toEqual(engine.expectedSettings(plan!));
    }
  });

  describe(`${addon.name} that never becomes ready`, () => {
    const readyTimeoutMs = 4_000;
    // A real container that listens, but not where it is reached (the gateway pipes to a socket
    // the engine never makes): the worker's probes never succeed.
    const unreachable: AddonDefinition = {
      ...addon,
      readyTimeoutMs,
      containerSpec: (input) => {
        const spec = addon.containerSpec(input);
        return { ...spec, socketPath: `${spec.dataPath}/nobody-listens-here.sock` };
      },
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

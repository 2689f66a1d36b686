/**
 * Part 8: credential rotation as an app lives it. Per engine with rotations, a database is rotated
 * `runs` times while a client opens a new session every 20 ms with the URL the platform holds at
 * that moment (an app whose instances restart on the new URL as soon as it is set): how long after
 * the request the platform has the new URL, how long the whole rotation takes with a grace period
 * of `graceSeconds`, and how many of the client's sessions were refused (a rotation is built to
 * refuse none).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { addons } from "@berth/addons";
import { engineTestClients } from "../src/engine-clients.js";
import { startStack, waitUntil } from "../src/index.js";

interface RotationFigures {
  runs: number;
  urlAtPlatformMs: { p50: number; max: number };
  rotationMs: { p50: number; max: number };
  sessionsOpened: number;
  sessionsRefused: number;
}

export async function benchRotation({ runs, graceSeconds }: { runs: number; graceSeconds: number }): Promise<Record<string, RotationFigures>> {
  const stack = await startStack({ env: { BERTH_ROTATION_GRACE_SECONDS: String(graceSeconds) } });
  const figures: Record<string, RotationFigures> = {};
  try {
    for (const addon of [...addons.values()].filter((each) => each.rotation)) {
      const driver = stack.driver(addon.id);
      const engine = engineTestClients[addon.id]!;
      const { id } = (await driver.provision({ plan: addon.plans[0]!.name, app_id: `bench-rotation-${addon.id}` })).body as { id: string };
      await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
      await waitUntil("provisioned", async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "provisioned", { timeoutMs: 60_000 });
      const currentUrl = () => stack.standIn.addonConfig(id)![addon.urlConfigVar]!;
      const toUrl: number[] = [];
      const whole: number[] = [];
      let opened = 0;
      let refused = 0;
      let done = false;
      // The app: a new session every 20 ms with the URL it was last given.
      const app = (async () => {
        while (!done) {
          try {
            await (await engine.connect(currentUrl())).close();
            opened += 1;
          } catch {
            refused += 1;
          }
          await sleep(20);
        }
      })();
      for (let run = 0; run < runs; run++) {
        const before = currentUrl();
        const started = performance.now();
        const response = await driver.request("POST", `${id}/credentials/rotate`);
        if (response.status !== 202) throw new Error(`rotate answered ${response.status}: ${JSON.stringify(response.body)}`);
        const operationId = (response.body as { operation_id: string }).operation_id;
        await waitUntil("the new URL at the platform", async () => currentUrl() !== before, { timeoutMs: 60_000, intervalMs: 5 });
        toUrl.push(performance.now() - started);
        await waitUntil("the rotation", async () => (await stack.db.operation.findUniqueOrThrow({ where: { id: operationId } })).status === "succeeded", {
          timeoutMs: 60_000 + graceSeconds * 1000,
          intervalMs: 10,
        });
        whole.push(performance.now() - started);
      }
      done = true;
      await app;
      await driver.deprovision(id);
      const stats = (samples: number[]) => ({ p50: Math.round([...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)]!), max: Math.round(Math.max(...samples)) });
      figures[addon.id] = { runs, urlAtPlatformMs: stats(toUrl), rotationMs: stats(whole), sessionsOpened: opened, sessionsRefused: refused };
    }
  } finally {
    await stack.close();
  }
  console.log("\n8. Credential rotation, %d per engine, grace period %d s, an app opening a session every 20 ms with the URL it holds", runs, graceSeconds);
  console.table(
    Object.fromEntries(
      Object.entries(figures).map(([engine, f]) => [
        engine,
        { "new URL at the platform, p50 ms": f.urlAtPlatformMs.p50, "max ms": f.urlAtPlatformMs.max, "whole rotation p50 ms": f.rotationMs.p50, sessions: f.sessionsOpened, refused: f.sessionsRefused },
      ]),
    ),
  );
  return figures;
}

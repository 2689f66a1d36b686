/**
 * A worker in a process of its own, for fault tests: apps/worker's `createWorker`, configured from
 * the environment as its main.ts is, with the parts the tests' workers run (`testWorkerParts`; no
 * containment watcher: a stack has its own), plus the fault hook: with `FAULT_KILL_AT_STEP` (and
 * `FAULT_KILL_KIND`, default provision) the process kills itself with SIGKILL as that step begins —
 * no cleanup, no lock released, like a crash. With `FAULT_HOLD`, it loads and builds everything,
 * says "loaded", and starts consuming only on SIGUSR2: a survivor ready the moment a victim dies.
 */
import { addons } from "@berth/addons";
import { createWorker } from "@berth/worker";
import { loadWorkerConfig } from "@berth/worker/config";
import { testWorkerParts } from "./worker-parts.js";

const killAt = process.env.FAULT_KILL_AT_STEP;
const killKind = process.env.FAULT_KILL_KIND ?? "provision";
const worker = createWorker(loadWorkerConfig(process.env, addons), {
  ...testWorkerParts,
  containment: false,
  ...(killAt
    ? {
        onStep: (kind: string, step: string) => {
          if (kind === killKind && step === killAt) process.kill(process.pid, "SIGKILL");
        },
      }
    : {}),
});
if (process.env.FAULT_HOLD) {
  process.stdout.write("loaded\n");
  await new Promise((resolve) => process.once("SIGUSR2", resolve));
}
await worker.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));

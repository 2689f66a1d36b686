/**
 * A worker in a process of its own, for fault tests: apps/worker's `createWorker`, configured from
 * the environment as its main.ts is, with the parts the tests' workers run (`testWorkerParts`; no
 * containment watcher: a stack has its own), plus the fault hook: with `FAULT_KILL_AT_STEP` (and
 * `FAULT_KILL_KIND`, default provision) the process kills itself with SIGKILL as that step begins —
 * no cleanup, no lock released, like a crash.
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
await worker.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));

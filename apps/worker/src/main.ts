/** The worker's entry point (`pnpm --filter @berth/worker start`): configured from the environment, once. */
import { addons } from "@berth/addons";
import { loadWorkerConfig } from "./config.js";
import { createWorker } from "./create-worker.js";
import { closeOnSignals, exitOnStartFailure } from "./service.js";

async function main(): Promise<void> {
  const worker = createWorker(loadWorkerConfig(process.env, addons));
  await worker.start();
  closeOnSignals(worker, worker.logger, "worker stopping: finishing running jobs");
}

main().catch(exitOnStartFailure);

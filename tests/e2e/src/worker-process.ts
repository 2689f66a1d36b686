/**
 * A worker in a process of its own, for fault tests: configured from the
 * environment exactly like apps/worker's main, plus `FAULT_KILL_AT_STEP`
 * (and `FAULT_KILL_KIND`, default provision): the process kills itself with
 * SIGKILL as that step begins — no cleanup, no lock released, like a crash.
 */
import { addons } from "@berth/addons";
import { OperationQueue } from "@berth/jobs";
import { createWorkerDeps, loadWorkerConfig, startOperationWorker, startWarmPool } from "@berth/worker";
import { Redis } from "ioredis";
import { pino } from "pino";

const config = loadWorkerConfig(process.env, addons);
const deps = createWorkerDeps(config, addons, pino({ level: "warn", name: "berth-worker-process" }));
const killAt = process.env.FAULT_KILL_AT_STEP;
const killKind = process.env.FAULT_KILL_KIND ?? "provision";
if (killAt) {
  deps.onStep = (kind, step) => {
    if (kind === killKind && step === killAt) process.kill(process.pid, "SIGKILL");
  };
}
const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
startWarmPool(deps, new OperationQueue({ connection, prefix: config.queuePrefix }), config.warmPool);
const worker = startOperationWorker(deps, {
  connection,
  prefix: config.queuePrefix,
  concurrency: config.concurrency,
  lockSeconds: config.jobLockSeconds,
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));

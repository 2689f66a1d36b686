import { addons } from "@berth/addons";
import { ConfigError } from "@berth/config";
import { Redis } from "ioredis";
import { loadWorkerConfig } from "./config.js";
import { collectDefaultMetrics, Registry } from "prom-client";
import { startWorkerHttpServer, workerReadinessChecks } from "./http-server.js";
import { createWorkerDeps } from "./main-deps.js";
import { createWorkerMetrics } from "./metrics.js";
import { OperationQueue } from "@berth/jobs";
import { startWarmPool } from "./pool/warm-pool.js";
import { startContainment } from "./containment/containment-watcher.js";
import { startReconciler } from "./reconcile/reconciler.js";
import { startUsageSampler } from "./usage/usage-sampler.js";
import { startOperationWorker } from "./worker.js";

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env, addons);
  if (config.disks.limits === "loop" && process.getuid?.() !== 0) {
    throw new ConfigError([
      'BERTH_DISK_LIMITS: "loop" needs the worker to run as root on the Docker host (losetup, mount); set BERTH_DISK_LIMITS=off to run without disk limits',
    ]);
  }
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const deps = createWorkerDeps(config, config.enabledAddons, undefined, createWorkerMetrics(registry));
  for (const { id, reason } of config.addonsLeftOff) deps.logger.info({ addon: id }, `addon ${id} is installed but not enabled: ${reason}`);
  if (config.disks.limits === "off") {
    deps.logger.warn("BERTH_DISK_LIMITS=off: databases get plain volumes on the host's disk, with no disk limit; one database can fill the disk every other one and the control plane use");
  }
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const worker = startOperationWorker(deps, {
    connection,
    prefix: config.queuePrefix,
    concurrency: config.concurrency,
    lockSeconds: config.jobLockSeconds,
  });
  await worker.waitUntilReady();
  const usageSampler = await startUsageSampler(deps, {
    connection,
    prefix: config.queuePrefix,
    intervalMs: config.usageIntervalSeconds * 1000,
  });
  const queue = new OperationQueue({ connection, prefix: config.queuePrefix });
  startWarmPool(deps, queue, config.warmPool);
  const reconciler = await startReconciler(deps, {
    connection,
    prefix: config.queuePrefix,
    intervalMs: config.reconcileIntervalSeconds * 1000,
    queue,
  });
  const containment = startContainment(deps);
  const http = await startWorkerHttpServer({
    host: config.http.host,
    port: config.http.port,
    registry,
    checks: workerReadinessChecks(deps, connection),
    logger: deps.logger,
  });
  deps.logger.info(
    { http: http.url, concurrency: config.concurrency, addons: [...config.enabledAddons.keys()], warmPool: config.warmPool, usageIntervalSeconds: config.usageIntervalSeconds, disks: config.disks },
    "worker started",
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    deps.logger.info({ signal }, "worker stopping: finishing running jobs");
    await Promise.all([worker.close(), usageSampler.close(), reconciler.close(), containment.close()]);
    await http.close();
    await queue.close();
    await deps.db.$disconnect();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});

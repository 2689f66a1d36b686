import { ConfigError } from "@berth/config";
import { OperationQueue, type OperationQueueOptions } from "@berth/jobs";
import type { Worker } from "bullmq";
import { Redis } from "ioredis";
import { pino, type Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { WorkerConfig } from "./config.js";
import { startContainment, type ContainmentWatcher } from "./containment/containment-watcher.js";
import type { WorkerDeps } from "./deps.js";
import { startWorkerHttpServer, workerReadinessChecks, type WorkerHttpServer } from "./http-server.js";
import { createWorkerDeps } from "./main-deps.js";
import { createWorkerMetrics } from "./metrics.js";
import { WarmPool, type RefillReport } from "./pool/warm-pool.js";
import { startBackupScheduler } from "./backups/backup-schedule.js";
import { startArchiveShipper } from "./backups/continuous-archive.js";
import { reconcileOnce, startReconciler, type ReconcileReport } from "./reconcile/reconciler.js";
import type { ScheduledTask } from "./scheduled-task.js";
import { startUsageSampler } from "./usage/usage-sampler.js";
import { startOperationWorker } from "./worker.js";

/** How often a pass looks for daily backups that are due (a backup starts within this of its hour). */
const BACKUP_SCHEDULE_INTERVAL_MS = 5 * 60_000;

/**
 * How one worker is built beyond its configuration. Production (`main.ts`) passes nothing: every
 * part runs. Tests choose parts and pass their hooks here, never by building the worker themselves.
 */
export interface WorkerOptions {
  /** Default: pino JSON lines on stdout at `config.logLevel`, named `berth-worker`. */
  logger?: Logger;
  /** Node's process metrics on the worker's registry (default true). */
  processMetrics?: boolean;
  /** Consume the operations queue (default true). */
  operations?: boolean;
  /** Serve `/health`, `/health/ready` and `/metrics` on `config.http` (default true). */
  http?: boolean;
  /** Keep the warm pool of `config.warmPool`; with no target it removes the pool databases left (default true). */
  warmPool?: boolean;
  /** A reconciliation pass at start, then every `config.reconcileIntervalSeconds` (default true). */
  reconciler?: boolean;
  /** Follow Docker's events and record incidents (default true). */
  containment?: boolean;
  /** Queue each database's daily backup when its hour comes (default true). */
  backupScheduler?: boolean;
  /** Ship the continuous archives (PostgreSQL's WAL) every `config.backups.archiveShipIntervalSeconds` (default true). */
  archiveShipper?: boolean;
  /** Meter every running database (default true)… */
  usageSampler?: boolean;
  /** …this often (default `config.usageIntervalSeconds`). */
  usageIntervalMs?: number;
  /** Job options of the operations this worker queues (warm pool, reconciliation), as the API's. */
  jobOptions?: OperationQueueOptions["jobOptions"];
  /** Called as each step of an operation begins: the fault tests' seam (a crash at a given step). */
  onStep?: WorkerDeps["onStep"];
}

export interface BerthWorker {
  readonly logger: Logger;
  /** The Prometheus registry `/metrics` serves. */
  readonly metrics: Registry;
  /** What the handlers run with: the control plane, the container runtime… (tests use them directly). */
  readonly deps: WorkerDeps;
  /** Where `/health`, `/health/ready` and `/metrics` answer, once started with `http`. */
  readonly httpUrl: string | undefined;
  /** Its containment watcher, once started with `containment`. */
  readonly containment: ContainmentWatcher | undefined;
  /** Starts every part it was built with; resolves once the operations queue is consumed and the first reconciliation pass is done. */
  start(): Promise<void>;
  /** One reconciliation pass now, with this worker's dependencies and queue (also without `start`). */
  reconcileOnce(options?: { graceMs?: number }): Promise<ReconcileReport>;
  /** One warm pool refill now (needs `warmPool`; also without `start`). */
  refillWarmPool(): Promise<RefillReport>;
  /**
   * Stops taking jobs and lets running ones finish (a job cut short comes back to another worker
   * after `config.jobLockSeconds`), stops the periodic parts, then closes its connections. Safe to
   * call more than once, and after a failed or without a `start`.
   */
  close(): Promise<void>;
}

/** The worker's composition root: everything `main.ts` runs, built from the validated configuration. */
export function createWorker(config: WorkerConfig, options: WorkerOptions = {}): BerthWorker {
  if (config.disks.limits === "loop" && process.getuid?.() !== 0) {
    throw new ConfigError([
      'BERTH_DISK_LIMITS: "loop" needs the worker to run as root on the Docker host (losetup, mount); set BERTH_DISK_LIMITS=off to run without disk limits',
    ]);
  }
  const enabled = {
    operations: options.operations ?? true,
    http: options.http ?? true,
    warmPool: options.warmPool ?? true,
    reconciler: options.reconciler ?? true,
    containment: options.containment ?? true,
    usageSampler: options.usageSampler ?? true,
    backupScheduler: options.backupScheduler ?? true,
    archiveShipper: options.archiveShipper ?? true,
  };
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const logger = options.logger ?? pino({ level: config.logLevel, name: "berth-worker" });
  const deps = createWorkerDeps(config, logger, createWorkerMetrics(registry));
  if (options.onStep) deps.onStep = options.onStep;
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new OperationQueue({ connection, prefix: config.queuePrefix, jobOptions: options.jobOptions });
  // Set before any job runs: the provision handler refills the pool after each claim.
  const warmPool = enabled.warmPool ? new WarmPool(deps.db, queue, logger, config.warmPool) : undefined;
  if (warmPool) deps.warmPool = warmPool;

  let worker: Worker | undefined;
  const tasks: ScheduledTask[] = [];
  let containment: ContainmentWatcher | undefined;
  let http: WorkerHttpServer | undefined;
  let closed: Promise<void> | undefined;

  async function start(): Promise<void> {
    for (const { id, reason } of config.addonsLeftOff) logger.info({ addon: id }, `addon ${id} is installed but not enabled: ${reason}`);
    if (config.disks.limits === "off") {
      logger.warn("BERTH_DISK_LIMITS=off: databases get plain volumes on the host's disk, with no disk limit; one database can fill the disk every other one and the control plane use");
    }
    if (enabled.operations) {
      worker = startOperationWorker(deps, { connection, prefix: config.queuePrefix, concurrency: config.concurrency, lockSeconds: config.jobLockSeconds });
      await worker.waitUntilReady();
    }
    if (enabled.usageSampler) {
      const intervalMs = options.usageIntervalMs ?? config.usageIntervalSeconds * 1000;
      tasks.push(await startUsageSampler(deps, { connection, prefix: config.queuePrefix, intervalMs }));
    }
    void warmPool?.requestRefill();
    if (enabled.reconciler) {
      tasks.push(await startReconciler(deps, { connection, prefix: config.queuePrefix, intervalMs: config.reconcileIntervalSeconds * 1000, queue }));
    }
    if (enabled.backupScheduler) {
      tasks.push(await startBackupScheduler(deps, { connection, prefix: config.queuePrefix, intervalMs: BACKUP_SCHEDULE_INTERVAL_MS, queue }));
    }
    if (enabled.archiveShipper) {
      tasks.push(await startArchiveShipper(deps, { connection, prefix: config.queuePrefix, intervalMs: config.backups.archiveShipIntervalSeconds * 1000 }));
    }
    if (enabled.containment) containment = startContainment(deps);
    if (enabled.http) {
      http = await startWorkerHttpServer({ host: config.http.host, port: config.http.port, registry, checks: workerReadinessChecks(deps, connection), logger });
    }
    logger.info(
      {
        http: http?.url,
        concurrency: config.concurrency,
        addons: [...config.enabledAddons.keys()],
        warmPool: config.warmPool,
        usageIntervalSeconds: config.usageIntervalSeconds,
        disks: config.disks,
        parts: Object.keys(enabled).filter((part) => enabled[part as keyof typeof enabled]),
      },
      "worker started",
    );
  }

  async function close(): Promise<void> {
    // Stop taking jobs (running ones finish) and stop the periodic parts; then the connections.
    await Promise.all([worker?.close(), ...tasks.map((task) => task.close()), containment?.close()]);
    // Nothing asks for a refill any more; one under way must end before its transaction's connection closes.
    await warmPool?.settled();
    await http?.close();
    await queue.close();
    await deps.db.$disconnect();
    connection.disconnect();
  }

  return {
    logger,
    metrics: registry,
    deps,
    get httpUrl() {
      return http?.url;
    },
    get containment() {
      return containment;
    },
    start,
    reconcileOnce: (passOptions) => reconcileOnce(deps, queue, passOptions),
    refillWarmPool() {
      if (!warmPool) throw new Error("this worker was built without its warm pool");
      return warmPool.refillOnce();
    },
    close: () => (closed ??= close()),
  };
}

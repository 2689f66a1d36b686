import { randomBytes, randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddonDefinition } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { createApi, type ApiOptions } from "@berth/api";
import { loadApiConfig } from "@berth/api/config";
import { createDatabase, type PrismaClient } from "@berth/db";
import { openBerthQueues } from "@berth/jobs";
import { startPlatformStandIn, type PlatformDriver, type PlatformStandIn } from "@berth/platform-standin";
import { createWorker, type BerthWorker, type WorkerOptions } from "@berth/worker";
import { loadWorkerConfig } from "@berth/worker/config";
import { createGateway } from "@berth/worker/gateway";
import { loadGatewayConfig } from "@berth/worker/gateway/config";
import { DiskImages } from "@berth/worker/testing";
import { Redis } from "ioredis";
import { pino } from "pino";

import { addonSecretsEnv } from "./addon-env.js";
import { removeDockerObjectsOf } from "./docker.js";
import { testWorkerParts } from "./worker-parts.js";
import { spawnWorkerProcess } from "./worker-spawn.js";
import { testEnvironment } from "./environment.js";

export interface StackOptions {
  addons?: ReadonlyMap<string, AddonDefinition>;
  workerConcurrency?: number;
  /** Extra environment for both apps, e.g. another image for an addon. */
  env?: Record<string, string>;
  /** Starts the worker's usage sampler with this interval (off by default). */
  usageIntervalMs?: number;
  /** Starts the worker's archive shipper, every `BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS` of `env` (off by default). */
  archiveShipper?: boolean;
  /** Run a worker in this process (default). Fault tests set false and use `spawnWorker`. */
  inProcessWorker?: boolean;
  /** Another Redis than the shared one (fault tests restart theirs). */
  redisUrl?: string;
  /**
   * Containment watchers following Docker's events, each with dependencies of its own as separate
   * workers would have (default 1 with an in-process worker, as in production; 0: none).
   */
  containmentWatchers?: number;
  /** Job options of the operations queue, e.g. fewer attempts to reach a retry budget quickly. */
  jobOptions?: ApiOptions["jobOptions"];
  /** The API logs its JSON lines (at info) here; by default it logs nothing. */
  apiLog?: { write(line: string): void };
}

export interface WorkerProcess {
  readonly pid: number;
  /** Resolves when the process exits, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A held worker (`spawnWorker({ held: true })`) starts consuming; resolves once it does. */
  release(): Promise<void>;
  stop(): Promise<void>;
}

/** Berth's API and worker, wired to real Redis, PostgreSQL and Docker, facing a platform stand-in. */
export interface Stack {
  readonly apiUrl: string;
  readonly standIn: PlatformStandIn;
  /** The control-plane database, to check what was recorded. */
  readonly db: PrismaClient;
  /** The addon's manifest credentials and SSO salt as configured in this stack. */
  credentials(addonId: string): { username: string; password: string; ssoSalt: string };
  /** Drives `/<addon>/resources` the way the platform does. */
  driver(addonId: string): PlatformDriver;
  /** The apps' environment in this stack. */
  readonly env: Readonly<Record<string, string>>;
  /** The operator console's credentials (`BERTH_ADMIN_USERNAME`, `_PASSWORD`); undefined when the console is off. */
  adminCredentials(): { username: string; password: string } | undefined;
  /**
   * Starts a worker in a process of its own (`worker-process.ts`); `killAtStep` makes it SIGKILL itself as that
   * step of a `killKind` operation begins; `env` is added to the stack's (e.g. a warm pool for this worker only).
   */
  spawnWorker(options?: { killAtStep?: string; killKind?: string; env?: Record<string, string>; held?: boolean }): Promise<WorkerProcess>;
  /** The stack's containment watchers (see `StackOptions.containmentWatchers`). */
  readonly containment: readonly NonNullable<BerthWorker["containment"]>[];
  /** Log lines (pino JSON, level warn and above) of the in-process worker and its containment watchers. */
  readonly workerLog: readonly string[];
  /** The in-process worker's metrics (what its `/metrics` serves). */
  readonly workerMetrics: BerthWorker["metrics"];
  /** Where the in-process worker serves `/health`, `/health/ready` and `/metrics` (a free loopback port). */
  readonly workerUrl: string;
  close(): Promise<void>;
}

/**
 * Starts a full stack in this process, through the apps' own factories (`createApi`, `createWorker`,
 * `createGateway`) with configurations loaded from the stack's environment: each stack has its own
 * queue prefix and credentials, so stacks never see each other's jobs.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const addons = options.addons ?? installedAddons;
  const services = testEnvironment();
  const startedAt = new Date();
  const queuePrefix = `berth-test-${randomUUID()}`;
  const credentials = new Map(
    [...addons.keys()].map((id) => [
      id,
      {
        username: `${id}-${randomBytes(4).toString("hex")}`,
        password: randomBytes(24).toString("base64url"),
        ssoSalt: randomBytes(24).toString("base64url"),
      },
    ]),
  );

  const standIn = await startPlatformStandIn({
    addons: [...addons.values()].map((addon) => ({ id: addon.id, configVars: [...addon.configVars], ...credentials.get(addon.id)! })),
  });

  const env: Record<string, string> = {
    ...services.passthrough,
    BERTH_REDIS_URL: options.redisUrl ?? services.redisUrl,
    BERTH_DATABASE_URL: services.databaseUrl,
    BERTH_QUEUE_PREFIX: queuePrefix,
    BERTH_PLATFORM_API_URL: standIn.url,
    BERTH_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    DOCKER_HOST: services.dockerHost,
    BERTH_WORKER_CONCURRENCY: String(options.workerConcurrency ?? 4),
    LOG_LEVEL: "warn",
    // Free loopback ports: the API's, and each worker's /health and /metrics (spawned ones too).
    BERTH_API_HOST: "127.0.0.1",
    BERTH_API_PORT: "0",
    BERTH_WORKER_HTTP_HOST: "127.0.0.1",
    BERTH_WORKER_HTTP_PORT: "0",
    BERTH_GATEWAY_DRAIN_SECONDS: "1",
    // A rotation's previous password is refused a second after the app has the new one (a worker closing waits for its jobs).
    BERTH_ROTATION_GRACE_SECONDS: "1",
    // Disk images of this checkout's tests, like scripts/start.sh's (the deployment id makes a subdirectory per test database).
    BERTH_DISK_DIR: process.env.BERTH_DISK_DIR ?? join(import.meta.dirname, "..", "..", "..", ".berth", "disks"),
    // Backups of this stack only (its own encryption key could open no other's anyway).
    BERTH_BACKUP_DIR: join(tmpdir(), `berth-backups-${queuePrefix}`),
    BERTH_ADMIN_USERNAME: `operator-${randomBytes(4).toString("hex")}`,
    BERTH_ADMIN_PASSWORD: randomBytes(24).toString("base64url"),
    ...options.env,
  };
  for (const [id, secrets] of credentials) Object.assign(env, addonSecretsEnv(id, secrets));

  // The only data path into the databases (their containers have no network), as in production.
  const gateway = createGateway(loadGatewayConfig(env), { http: false, logger: pino({ level: "warn", name: "berth-gateway-test" }) });
  await gateway.start();

  const workerConfig = loadWorkerConfig(env, addons);
  const workerLog: string[] = [];
  const workerLogger = pino(
    { level: "warn", name: "berth-worker-test" },
    {
      write(line: string) {
        workerLog.push(line);
        process.stdout.write(line);
      },
    },
  );
  const testParts: WorkerOptions = { ...testWorkerParts, jobOptions: options.jobOptions };
  const watcherCount = options.containmentWatchers ?? (options.inProcessWorker === false ? 0 : 1);
  const worker =
    options.inProcessWorker === false
      ? undefined
      : createWorker(workerConfig, {
          ...testParts,
          logger: workerLogger,
          containment: watcherCount > 0,
          ...(options.usageIntervalMs ? { usageSampler: true, usageIntervalMs: options.usageIntervalMs } : {}),
          ...(options.archiveShipper ? { archiveShipper: true } : {}),
        });
  // Further containment watchers are other workers' (dependencies of their own), running nothing else.
  const watchers = Array.from({ length: Math.max(0, watcherCount - (worker ? 1 : 0)) }, (_, index) =>
    createWorker(workerConfig, {
      ...testParts,
      logger: workerLogger.child({ watcher: index + (worker ? 1 : 0) }),
      operations: false,
      http: false,
      warmPool: false,
    }),
  );
  const workers = [...(worker ? [worker] : []), ...watchers];
  await Promise.all(workers.map((each) => each.start()));
  const workerProcesses: WorkerProcess[] = [];

  const apiConfig = loadApiConfig(env, addons);
  const api = await createApi(apiConfig, {
    log: options.apiLog ? { level: "info", stream: options.apiLog } : false,
    processMetrics: false,
    jobOptions: options.jobOptions,
  });
  await api.start();
  const apiUrl = api.url;
  // The test's own view of the control plane: the one the apps use (a fault test may give them its own).
  const db = createDatabase({ url: apiConfig.databaseUrl });
  const inProcess = () => {
    if (!worker) throw new Error("this stack has no in-process worker (inProcessWorker: false)");
    return worker;
  };

  return {
    apiUrl,
    standIn,
    db,
    credentials: (id) => credentials.get(id)!,
    driver: (id) => standIn.driver(id, `${apiUrl}/${id}/resources`),
    env,
    adminCredentials: () => apiConfig.admin && { username: apiConfig.admin.username, password: apiConfig.admin.password },
    async spawnWorker({ killAtStep, killKind, env: extra, held } = {}) {
      const fault: Record<string, string> = {
        ...(killAtStep ? { FAULT_KILL_AT_STEP: killAtStep, FAULT_KILL_KIND: killKind ?? "provision" } : {}),
        ...(held ? { FAULT_HOLD: "1" } : {}),
      };
      const child = await spawnWorkerProcess({ ...env, ...extra, ...fault });
      workerProcesses.push(child);
      return child;
    },
    containment: workers.flatMap((each) => (each.containment ? [each.containment] : [])),
    workerLog,
    get workerMetrics() {
      return inProcess().metrics;
    },
    get workerUrl() {
      return inProcess().httpUrl!;
    },
    async close() {
      // Containment first: the removal of leftovers below is no incident.
      await Promise.all(watchers.map((watcher) => watcher.close()));
      await worker?.close();
      await api.close();
      await Promise.all(workerProcesses.map((child) => child.stop()));
      // A failed test may leave a database behind: remove what this stack created and did not deprovision.
      const leftovers = await db.resource.findMany({ where: { createdAt: { gte: startedAt }, status: { not: "deprovisioned" } } });
      await removeDockerObjectsOf(leftovers.map((resource) => resource.id));
      // …and their disks (unmounted, detached, deleted), which `docker volume rm` leaves.
      if (workerConfig.disks.limits === "loop") {
        const disks = new DiskImages(join(workerConfig.disks.dir, workerConfig.deploymentId));
        for (const { volumeName } of leftovers) if (volumeName) await disks.remove(volumeName);
      }
      // …and say so in the test database, so later stacks' samplers and reconcilers skip them.
      await db.resource.updateMany({
        where: { id: { in: leftovers.map((resource) => resource.id) } },
        data: { status: "deprovisioned", statusReason: "removed by the test harness", port: null },
      });
      // …with their unfinished operations, which a later stack's reconciliation would otherwise resume.
      await db.operation.updateMany({
        where: { resourceId: { in: leftovers.map((resource) => resource.id) }, status: { in: ["pending", "running"] } },
        data: { status: "failed", error: "removed by the test harness" },
      });
      await db.$disconnect();
      await rm(env.BERTH_BACKUP_DIR!, { recursive: true, force: true });
      // Remove this stack's queue keys (jobs, schedules) so repeated runs leave Redis as they found it.
      const redis = new Redis(env.BERTH_REDIS_URL!, { maxRetriesPerRequest: null });
      const queues = openBerthQueues({ connection: redis, prefix: queuePrefix });
      await Promise.all(queues.map((queue) => queue.obliterate({ force: true }).catch(() => undefined)));
      await Promise.all(queues.map((queue) => queue.close()));
      redis.disconnect();
      await gateway.close();
      await standIn.close();
    },
  };
}

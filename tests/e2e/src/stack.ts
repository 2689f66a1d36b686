import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { AddonDefinition } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { buildApp, deriveSessionKey, loadApiConfig } from "@berth/api";
import { SecretBox, createDatabase, type PrismaClient } from "@berth/db";
import { OperationQueue, openBerthQueues } from "@berth/jobs";
import { startPlatformStandIn, type PlatformDriver, type PlatformStandIn } from "@berth/platform-standin";
import {
  createGateway,
  DiskImages,
  createWorkerDeps,
  loadGatewayConfig,
  createWorkerMetrics,
  loadWorkerConfig,
  startContainment,
  startOperationWorker,
  startWarmPool,
  startUsageSampler,
  startWorkerHttpServer,
  workerReadinessChecks,
  type ContainmentWatcher,
  type WorkerHttpServer,
  type WorkerMetrics,
} from "@berth/worker";
import type { Worker } from "bullmq";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { pino } from "pino";

import { addonSecretsEnv } from "./addon-env.js";
import { removeDockerObjectsOf } from "./docker.js";
import { spawnWorkerProcess } from "./worker-spawn.js";
import { testEnvironment } from "./environment.js";

export interface StackOptions {
  addons?: ReadonlyMap<string, AddonDefinition>;
  workerConcurrency?: number;
  /** Extra environment for both apps, e.g. another image for an addon. */
  env?: Record<string, string>;
  /** Starts the worker's usage sampler with this interval (off by default). */
  usageIntervalMs?: number;
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
  jobOptions?: ConstructorParameters<typeof OperationQueue>[0]["jobOptions"];
  /** The API logs its JSON lines (at info) here; by default it logs nothing. */
  apiLog?: { write(line: string): void };
}

export interface WorkerProcess {
  readonly pid: number;
  /** Resolves when the process exits, with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
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
  /** Starts a worker in a process of its own; `killAtStep` makes it SIGKILL itself as that step begins. */
  spawnWorker(options?: { killAtStep?: string; killKind?: string }): Promise<WorkerProcess>;
  /** The stack's containment watchers (see `StackOptions.containmentWatchers`). */
  readonly containment: readonly ContainmentWatcher[];
  /** Log lines (pino JSON, level warn and above) of the in-process worker and its containment watchers. */
  readonly workerLog: readonly string[];
  /** The in-process worker's metrics (what its `/metrics` serves). */
  readonly workerMetrics: WorkerMetrics["registry"];
  /** Starts the in-process worker's HTTP server (`/health`, `/health/ready`, `/metrics`) on a free loopback port; closed with the stack. */
  startWorkerHttp(): Promise<WorkerHttpServer>;
  close(): Promise<void>;
}

/**
 * Starts a full stack in this process: each stack has its own queue prefix
 * and credentials, so stacks never see each other's jobs.
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
    BERTH_GATEWAY_DRAIN_SECONDS: "1",
    // Disk images of this checkout's tests, like scripts/start.sh's (the deployment id makes a subdirectory per test database).
    BERTH_DISK_DIR: process.env.BERTH_DISK_DIR ?? join(import.meta.dirname, "..", "..", "..", ".berth", "disks"),
    BERTH_ADMIN_USERNAME: `operator-${randomBytes(4).toString("hex")}`,
    BERTH_ADMIN_PASSWORD: randomBytes(24).toString("base64url"),
    ...options.env,
  };
  for (const [id, secrets] of credentials) Object.assign(env, addonSecretsEnv(id, secrets));

  // The only data path into the databases (their containers have no network), as in production.
  const gateway = createGateway(loadGatewayConfig(env), { http: false, logger: pino({ level: "warn", name: "berth-gateway-test" }) });
  await gateway.start();

  const workerConfig = loadWorkerConfig(env, addons);
  const workerMetrics = createWorkerMetrics();
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
  const workerDeps = createWorkerDeps(workerConfig, addons, workerLogger, workerMetrics);
  const workerHttpServers: WorkerHttpServer[] = [];
  const workerRedis = new Redis(env.BERTH_REDIS_URL!, { maxRetriesPerRequest: null });
  const worker: Worker | undefined =
    options.inProcessWorker === false
      ? undefined
      : startOperationWorker(workerDeps, { connection: workerRedis, prefix: queuePrefix, concurrency: workerConfig.concurrency });
  const workerProcesses: WorkerProcess[] = [];
  const watcherCount = options.containmentWatchers ?? (worker ? 1 : 0);
  // The first shares the in-process worker's dependencies; others have their own, like other workers.
  const containmentDeps = Array.from({ length: watcherCount }, (_, index) =>
    index === 0 ? workerDeps : createWorkerDeps(workerConfig, addons, workerLogger.child({ watcher: index }), createWorkerMetrics()),
  );
  const containment = containmentDeps.map((deps) => startContainment(deps));
  const usageSampler = options.usageIntervalMs
    ? await startUsageSampler(workerDeps, { connection: workerRedis, prefix: queuePrefix, intervalMs: options.usageIntervalMs })
    : undefined;

  const apiConfig = loadApiConfig(env, addons);
  const db = createDatabase({ url: apiConfig.databaseUrl });
  const apiRedis = new Redis(env.BERTH_REDIS_URL!, { maxRetriesPerRequest: null });
  const queue = new OperationQueue({ connection: apiRedis, prefix: queuePrefix, jobOptions: options.jobOptions });
  if (worker) startWarmPool(workerDeps, queue, workerConfig.warmPool);
  const adminQueues = openBerthQueues({ connection: apiRedis, prefix: queuePrefix });
  const app: FastifyInstance = await buildApp({
    db,
    queue,
    addons,
    addonCredentials: apiConfig.addonCredentials,
    ssoSalts: apiConfig.ssoSalts,
    ssoWindow: apiConfig.sso,
    secrets: new SecretBox(apiConfig.encryptionKey, apiConfig.previousEncryptionKeys),
    sessionKey: deriveSessionKey(apiConfig.encryptionKey),
    publicUrl: apiConfig.publicUrl,
    platformAppUrl: apiConfig.platformAppUrl,
    ...(apiConfig.admin ? { admin: { ...apiConfig.admin, queues: adminQueues } } : {}),
    metricsQueues: adminQueues,
    ...(options.apiLog ? { logger: { level: "info", stream: options.apiLog } } : {}),
  });
  const apiUrl = await app.listen({ host: "127.0.0.1", port: 0 });

  return {
    apiUrl,
    standIn,
    db,
    credentials: (id) => credentials.get(id)!,
    driver: (id) => standIn.driver(id, `${apiUrl}/${id}/resources`),
    env,
    adminCredentials: () => apiConfig.admin && { username: apiConfig.admin.username, password: apiConfig.admin.password },
    async spawnWorker({ killAtStep, killKind } = {}) {
      const child = await spawnWorkerProcess({ ...env, ...(killAtStep ? { FAULT_KILL_AT_STEP: killAtStep, FAULT_KILL_KIND: killKind ?? "provision" } : {}) });
      workerProcesses.push(child);
      return child;
    },
    containment,
    workerLog,
    workerMetrics: workerMetrics.registry,
    async startWorkerHttp() {
      const server = await startWorkerHttpServer({
        host: "127.0.0.1",
        port: 0,
        registry: workerMetrics.registry,
        checks: workerReadinessChecks(workerDeps, workerRedis),
      });
      workerHttpServers.push(server);
      return server;
    },
    async close() {
      await Promise.all(workerHttpServers.map((server) => server.close()));
      // Before removing leftovers: their removal is no incident.
      await Promise.all(containment.map((watcher) => watcher.close()));
      await app.close();
      await worker?.close();
      await Promise.all(workerProcesses.map((child) => child.stop()));
      await usageSampler?.close({ removeSchedule: true });
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
      // Remove this stack's queue keys so repeated runs leave Redis as they found it.
      await queue.queue.obliterate({ force: true }).catch(() => undefined);
      await Promise.all([queue.close(), ...adminQueues.map((adminQueue) => adminQueue.close())]);
      await Promise.all([db.$disconnect(), workerDeps.db.$disconnect(), ...containmentDeps.slice(1).map((deps) => deps.db.$disconnect())]);
      workerRedis.disconnect();
      apiRedis.disconnect();
      await gateway.close();
      await standIn.close();
    },
  };
}

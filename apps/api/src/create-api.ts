import { ForkTokens, createBackupStore } from "@berth/backup-store";
import { SecretBox, createDatabase } from "@berth/db";
import { OperationQueue, openBerthQueues, type OperationQueueOptions } from "@berth/jobs";
import type { FastifyBaseLogger } from "fastify";
import { Redis } from "ioredis";
import { Registry, collectDefaultMetrics } from "prom-client";
import { buildApp, deriveSessionKey } from "./app.js";
import { BackupLinks } from "./routes/backup-links.js";
import type { ApiConfig } from "./config.js";
import type { ApiLogOptions } from "./observability/logging.js";

/** How the API is built beyond its configuration. Production (`server.ts`) passes nothing; tests pass their hooks here. */
export interface ApiOptions {
  /** Default: JSON lines on stdout at `config.logLevel`; false: no log; or a level and where the lines go. */
  log?: ApiLogOptions | false;
  /** Node's process metrics at `/metrics` (default true). */
  processMetrics?: boolean;
  /** Job options of the operations it queues, e.g. fewer attempts to reach a retry budget quickly. */
  jobOptions?: OperationQueueOptions["jobOptions"];
}

export interface BerthApi {
  /** Where it listens (`http://host:port`), once started. */
  readonly url: string;
  readonly log: FastifyBaseLogger;
  /** Listens on `config.host:config.port` (port 0: a free one). */
  start(): Promise<void>;
  /** Stops listening, lets requests under way finish, then closes the queues and the database. Safe to call more than once. */
  close(): Promise<void>;
}

/** The API's composition root: everything `server.ts` runs, built from the validated configuration. */
export async function createApi(config: ApiConfig, options: ApiOptions = {}): Promise<BerthApi> {
  const db = createDatabase({ url: config.databaseUrl });
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new OperationQueue({ connection, prefix: config.queuePrefix, jobOptions: options.jobOptions });
  // Every queue: counted at /metrics, and shown in the operator console when it is on.
  const berthQueues = openBerthQueues({ connection, prefix: config.queuePrefix });
  const backupStore = createBackupStore({ backend: config.backups, encryptionKey: config.encryptionKey, previousEncryptionKeys: config.previousEncryptionKeys });
  const closeConnections = async () => {
    backupStore.close();
    await Promise.all([queue.close(), ...berthQueues.map((berthQueue) => berthQueue.close())]);
    connection.disconnect();
    await db.$disconnect();
  };
  const metricsRegistry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: metricsRegistry });
  const log = options.log ?? { level: config.logLevel };
  const app = await buildApp({
    db,
    queue,
    addons: config.enabledAddons,
    addonCredentials: config.addonCredentials,
    ssoSalts: config.ssoSalts,
    ssoWindow: config.sso,
    secrets: new SecretBox(config.encryptionKey, config.previousEncryptionKeys),
    backups: { store: backupStore, links: new BackupLinks(config.encryptionKey, config.publicUrl), forks: new ForkTokens(config.encryptionKey) },
    sessionKey: deriveSessionKey(config.encryptionKey),
    publicUrl: config.publicUrl,
    platformAppUrl: config.platformAppUrl,
    ...(config.admin ? { admin: { ...config.admin, queues: berthQueues } } : {}),
    ...(log ? { logger: log } : {}),
    metricsRegistry,
    metricsQueues: berthQueues,
  }).catch(async (error: unknown) => {
    await closeConnections();
    throw error;
  });
  app.addHook("onClose", closeConnections);

  let url: string | undefined;
  let closed: Promise<void> | undefined;
  return {
    get url() {
      if (url === undefined) throw new Error("the API is not listening: start it first");
      return url;
    },
    log: app.log,
    async start() {
      for (const { id, reason } of config.addonsLeftOff) app.log.info({ addon: id }, `addon ${id} is installed but not enabled: ${reason}`);
      url = await app.listen({ host: config.host, port: config.port });
    },
    close: () => (closed ??= app.close()),
  };
}

import type { AddonDefinition } from "@berth/addon-sdk";
import type { BackupStore, ForkTokens } from "@berth/backup-store";
import { hkdfSync } from "node:crypto";
import cookie from "@fastify/cookie";
import type { PrismaClient, SecretBox } from "@berth/db";
import type { SsoWindow } from "@berth/protocol";
import type { OperationQueue } from "@berth/jobs";
import { DatabaseUserService, ResourceService } from "@berth/operations";
import { Registry } from "prom-client";
import type { Queue } from "bullmq";
import Fastify, { type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { adminConsole, type AdminConsoleOptions } from "./admin/admin-console.js";
import { dashboardRoutes } from "./dashboard/dashboard-routes.js";
import { installErrorHandling } from "./errors.js";
import { assetRoutes } from "./routes/assets.js";
import { apiLoggerOptions, type ApiLogOptions } from "./observability/logging.js";
import { installMetrics } from "./observability/metrics.js";
import { installOpenApi } from "./observability/openapi.js";
import { REQUEST_ID_HEADER, genReqId } from "./observability/request-id.js";
import { healthRoutes } from "./routes/health.js";
import type { BackupLinks } from "./routes/backup-links.js";
import { backupDownloadRoute } from "./routes/backups.js";
import { resourceRoutes } from "./routes/resources.js";

export interface ApiDeps {
  db: PrismaClient;
  queue: OperationQueue;
  addons: ReadonlyMap<string, AddonDefinition>;
  addonCredentials: ReadonlyMap<string, { username: string; password: string }>;
  ssoSalts: ReadonlyMap<string, string>;
  ssoWindow: SsoWindow;
  secrets: SecretBox;
  /** The backup store (downloads are streamed from it) and the signer of download links. */
  backups: { store: BackupStore; links: BackupLinks; forks: ForkTokens };
  /** Signs dashboard session cookies. */
  sessionKey: Buffer;
  publicUrl: string;
  platformAppUrl: string;
  /** The operator console (/admin); undefined turns it off. */
  admin?: AdminConsoleOptions;
  /** Logging (undefined: none); request URLs are logged with their tokens redacted. */
  logger?: ApiLogOptions;
  /** Prometheus registry of this app (default: a fresh one); production adds the process metrics. */
  metricsRegistry?: Registry;
  /** Queues counted by job state at `/metrics` (`openBerthQueues`); default: the operations queue. */
  metricsQueues?: readonly Queue[];
}

/** The session-signing key, derived from the encryption key so operators have one secret fewer to keep. */
export function deriveSessionKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), "berth dashboard sessions", 32));
}

/** Provision requests are a few hundred bytes; anything near this limit is not one. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the API without listening, so tests can `inject()` or listen on a port of their own. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ? apiLoggerOptions(deps.logger) : false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Log lines carry `reqId`: the caller's `X-Request-Id` when it is safe, echoed in the answer.
    genReqId,
  });
  app.addHook("onRequest", async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // The provider API speaks JSON only: a text body is refused with 415 rather than misread.
  app.removeContentTypeParser("text/plain");

  await app.register(cookie, { secret: deps.sessionKey.toString("base64") });

  const resources = new ResourceService(deps.db, deps.queue);
  const users = new DatabaseUserService(deps.db, deps.queue, deps.secrets);
  const backupAddonIds = [...deps.addons.values()].filter((addon) => addon.backup).map((addon) => addon.id);
  await installMetrics(app, {
    registry: deps.metricsRegistry ?? new Registry(),
    db: deps.db,
    queues: deps.metricsQueues ?? [deps.queue.queue],
    admin: deps.admin,
    backupAddonIds,
  });
  await installOpenApi(app, { publicUrl: deps.publicUrl });
  await app.register(healthRoutes, { db: deps.db, queue: deps.queue });
  await app.register(assetRoutes, { addons: deps.addons });
  await app.register(dashboardRoutes, {
    db: deps.db,
    secrets: deps.secrets,
    addons: deps.addons,
    ssoSalts: deps.ssoSalts,
    ssoWindow: deps.ssoWindow,
    publicUrl: deps.publicUrl,
    platformAppUrl: deps.platformAppUrl,
    resources,
    users,
    backupLinks: deps.backups.links,
  });
  await app.register(adminConsole, { admin: deps.admin, db: deps.db, addonIds: [...deps.addons.keys()], backupAddonIds, publicUrl: deps.publicUrl });
  for (const addon of deps.addons.values()) {
    const credentials = deps.addonCredentials.get(addon.id);
    if (!credentials) throw new Error(`no credentials configured for addon ${addon.id}`);
    await app.register(resourceRoutes, {
      prefix: `/${addon.id}/resources`,
      addon,
      credentials,
      resources,
      users,
      db: deps.db,
      backupLinks: deps.backups.links,
      forkTokens: deps.backups.forks,
    });
  }
  await app.register(backupDownloadRoute, { db: deps.db, store: deps.backups.store, links: deps.backups.links, addons: deps.addons });
  return app;
}

import { addons } from "@berth/addons";
import { ConfigError } from "@berth/config";
import { SecretBox, createDatabase } from "@berth/db";
import { OperationQueue, openBerthQueues } from "@berth/jobs";
import { Redis } from "ioredis";
import { Registry, collectDefaultMetrics } from "prom-client";
import { buildApp, deriveSessionKey } from "./app.js";
import { loadApiConfig } from "./config.js";

async function main(): Promise<void> {
  const config = loadApiConfig(process.env, addons);
  const enabledAddons = config.enabledAddons;
  const db = createDatabase({ url: config.databaseUrl });
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const queue = new OperationQueue({ connection, prefix: config.queuePrefix });
  // Every queue: counted at /metrics, and shown in the operator console when it is on.
  const adminQueues = openBerthQueues({ connection, prefix: config.queuePrefix });
  const metricsRegistry = new Registry();
  collectDefaultMetrics({ register: metricsRegistry });
  const app = await buildApp({
    db,
    queue,
    addons: enabledAddons,
    addonCredentials: config.addonCredentials,
    ssoSalts: config.ssoSalts,
    ssoWindow: config.sso,
    secrets: new SecretBox(config.encryptionKey, config.previousEncryptionKeys),
    sessionKey: deriveSessionKey(config.encryptionKey),
    publicUrl: config.publicUrl,
    platformAppUrl: config.platformAppUrl,
    ...(config.admin ? { admin: { ...config.admin, queues: adminQueues } } : {}),
    logger: { level: config.logLevel },
    metricsRegistry,
    metricsQueues: adminQueues,
  });
  app.addHook("onClose", async () => {
    await Promise.all([queue.close(), ...adminQueues.map((adminQueue) => adminQueue.close())]);
    connection.disconnect();
    await db.$disconnect();
  });
  for (const { id, reason } of config.addonsLeftOff) app.log.info({ addon: id }, `addon ${id} is installed but not enabled: ${reason}`);
  await app.listen({ host: config.host, port: config.port });

  const shutdown = async (signal: string) => {
    app.log.info({ signal }, "api stopping: draining requests");
    await app.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});

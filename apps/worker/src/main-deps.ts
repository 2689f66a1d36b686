import { createBackupStore } from "@berth/backup-store";
import { SecretBox, createDatabase } from "@berth/db";
import { PlatformClient } from "@berth/platform-client";
import { pino, type Logger } from "pino";
import type { WorkerConfig } from "./config.js";
import type { WorkerDeps } from "./deps.js";
import { createWorkerMetrics, type WorkerMetrics } from "./metrics.js";
import { DockerRuntime, reportingErrors } from "./runtime/docker-runtime.js";

/** Builds the worker's dependencies from its validated configuration (see `createWorker`). */
export function createWorkerDeps(
  config: WorkerConfig,
  logger: Logger = pino({ level: config.logLevel, name: "berth-worker" }),
  metrics: WorkerMetrics = createWorkerMetrics(),
): WorkerDeps {
  const docker = new DockerRuntime({
    dockerHost: config.dockerHost,
    deploymentId: config.deploymentId,
    ...(config.disks.limits === "loop" ? { diskDir: config.disks.dir } : {}),
  });
  const runtime = reportingErrors(docker, (operation) => metrics.dockerErrors.inc({ operation }));
  return {
    db: createDatabase({ url: config.databaseUrl }),
    runtime,
    metrics,
    secrets: new SecretBox(config.encryptionKey, config.previousEncryptionKeys),
    backups: createBackupStore({ backend: config.backups.backend, encryptionKey: config.encryptionKey, previousEncryptionKeys: config.previousEncryptionKeys }),
    backupConcurrency: config.backups.concurrency,
    deletedRetentionDays: config.backups.deletedRetentionDays,
    logger,
    addons: config.enabledAddons,
    addonRuntime: new Map(
      [...config.addons].map(([id, { image, credentials }]) => [
        id,
        {
          image,
          platform: new PlatformClient({ baseUrl: config.platformApiUrl, retries: config.platformRetries, ...credentials }),
        },
      ]),
    ),
    placement: { publicHost: config.publicHost, bindAddress: config.bindAddress, portRange: config.portRange },
    rotationGraceMs: config.rotationGraceSeconds * 1000,
    readinessIntervalMs: 100,
    usageRetentionDays: config.usageRetentionDays,
  };
}

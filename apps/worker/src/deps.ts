import type { AddonDefinition } from "@berth/addon-sdk";
import type { BackupStore } from "@berth/backup-store";
import type { PrismaClient, SecretBox } from "@berth/db";
import type { PlatformClient } from "@berth/platform-client";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics.js";
import type { ContainerRuntime } from "./runtime/container-runtime.js";

/** Everything the job handlers need, built once in main (or by a test) and passed down. */
export interface WorkerDeps {
  db: PrismaClient;
  runtime: ContainerRuntime;
  secrets: SecretBox;
  /** Where backups go: sealed (compressed, encrypted) objects on the host or in S3. */
  backups: BackupStore;
  /** How many backups or restores this worker runs at once (`BERTH_BACKUP_CONCURRENCY`); the rest wait their turn. */
  backupConcurrency: number;
  /** Days a deleted database's final backup is kept (`BERTH_DELETED_RETENTION_DAYS`). */
  deletedRetentionDays: number;
  logger: Logger;
  addons: ReadonlyMap<string, AddonDefinition>;
  /** Per addon: image to run and the client that reports back to the platform. */
  addonRuntime: ReadonlyMap<string, { image: string; platform: PlatformClient }>;
  placement: {
    /** Host written into connection URLs. */
    publicHost: string;
    /** Address database containers listen on. */
    bindAddress: string;
    portRange: { first: number; last: number };
  };
  /** How long a rotation's previous credentials keep working (`BERTH_ROTATION_GRACE_SECONDS`). */
  rotationGraceMs: number;
  /** Pause between readiness probes. */
  readinessIntervalMs: number;
  /** Usage samples older than this are deleted. */
  usageRetentionDays: number;
  /** Prometheus metrics of this worker; unset: nothing is measured. */
  metrics?: WorkerMetrics;
  /** The warm pool, when `BERTH_WARM_POOL` configures one: refilled after each claim. */
  warmPool?: { requestRefill(): Promise<void> };
  /** Called as each step of an operation begins: a seam for fault injection in tests; unset in production. */
  onStep?: (kind: string, step: string) => void;
}

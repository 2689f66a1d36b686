import { createHash } from "node:crypto";
import { isAbsolute } from "node:path";
import type { AddonDefinition } from "@berth/addon-sdk";
import { backupBackendFromEnv, backupStoreEnvSchema, type BackupBackendConfig } from "@berth/backup-store";
import {
  addonEnvName,
  encryptionKey,
  encryptionKeyList,
  httpUrl,
  parseEnv,
  port,
  portRange,
  readAddonCredentials,
  selectAddons,
  serviceEnvSchema,
  type AddonCredentialsConfig,
  type EnvSource,
} from "@berth/config";
import { z } from "zod";
import type { WarmPoolTarget } from "./pool/warm-pool.js";

/** Pieces of the worker's schema the gateway (src/gateway/config.ts) shares, so both read these variables alike. */
export const dockerHostSchema = z
  .string()
  .regex(/^(unix|tcp|http|https):\/\//, "must be unix:///path or tcp://host:port")
  .default("unix:///var/run/docker.sock");
export const bindAddressSchema = z.ipv4().or(z.ipv6()).default("127.0.0.1");
export const deploymentIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and dashes").optional();

const workerEnvSchema = serviceEnvSchema.extend({
  BERTH_PLATFORM_API_URL: httpUrl,
  BERTH_ENCRYPTION_KEY: encryptionKey,
  BERTH_ENCRYPTION_PREVIOUS_KEYS: encryptionKeyList,
  DOCKER_HOST: dockerHostSchema,
  BERTH_PUBLIC_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_DATABASE_BIND_ADDRESS: bindAddressSchema,
  BERTH_PORT_RANGE: portRange.default({ first: 20_000, last: 29_999 }),
  BERTH_DEPLOYMENT_ID: deploymentIdSchema,
  BERTH_JOB_LOCK_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  BERTH_RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(300),
  BERTH_PLATFORM_RETRIES: z.coerce.number().int().min(0).max(20).default(5),
  BERTH_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  BERTH_USAGE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  BERTH_USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(90),
  BERTH_WORKER_HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_WORKER_HTTP_PORT: port.default(4001),
  BERTH_DISK_LIMITS: z.enum(["loop", "off"], { error: 'must be "loop" (each database on a filesystem of its plan\'s size) or "off" (plain volumes)' }).default("loop"),
  BERTH_DISK_DIR: z.string().refine((path) => isAbsolute(path), "must be an absolute path").default("/var/lib/berth/disks"),
  BERTH_BACKUP_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  BERTH_DELETED_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(30),
  BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3_600).default(15),
  BERTH_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
  ...backupStoreEnvSchema.shape,
});

export interface WorkerConfig {
  redisUrl: string;
  databaseUrl: string;
  queuePrefix: string;
  platformApiUrl: string;
  encryptionKey: Buffer;
  previousEncryptionKeys: Buffer[];
  dockerHost: string;
  publicHost: string;
  bindAddress: string;
  portRange: { first: number; last: number };
  concurrency: number;
  /** After a credential rotation, how long the previous password keeps working (the app restarts with the new URL meanwhile). */
  rotationGraceSeconds: number;
  /**
   * Names this deployment on the Docker host: its containers and volumes carry it, and
   * reconciliation touches only those. Defaults to a digest of the control-plane database's
   * address, so two deployments sharing a host (e.g. development and tests) never collide.
   */
  deploymentId: string;
  /** A job whose worker stops renewing its lock (killed) is handed to another worker after this. */
  jobLockSeconds: number;
  reconcileIntervalSeconds: number;
  platformRetries: number;
  /** Usage metering: seconds between two samples of every database, and days samples are kept. */
  usageIntervalSeconds: number;
  usageRetentionDays: number;
  logLevel: string;
  /** Where the worker serves /health, /health/ready and /metrics. */
  http: { host: string; port: number };
  /**
   * Each database's disk: `loop`, a filesystem of the plan's size of its own (an image file in
   * `dir`, loop-mounted by the worker, which needs root on the Docker host); `off`, plain Docker
   * volumes on the host's disk, no limit (a worker that cannot mount, e.g. in an unprivileged container).
   */
  disks: { limits: "loop" | "off"; dir: string };
  /** Where backups are stored, and how many backups or restores one worker runs at once. */
  backups: {
    backend: BackupBackendConfig;
    concurrency: number;
    deletedRetentionDays: number;
    /** How often the closed WAL segments are shipped from the databases to the store (with `archive_timeout` 60 s, the recovery point's bound). */
    archiveShipIntervalSeconds: number;
  };
  /** Ready, unassigned databases to keep per plan (`BERTH_WARM_POOL`); empty: none. */
  warmPool: WarmPoolTarget[];
  /** The enabled addons (`BERTH_ADDONS`, by default those whose credentials are configured); the worker runs these only. */
  enabledAddons: ReadonlyMap<string, AddonDefinition>;
  /** Installed addons left off, with the reason: logged at start. */
  addonsLeftOff: readonly { id: string; reason: string }[];
  /** Per addon: the image to run and the manifest credentials used to call the platform back. */
  addons: Map<string, { image: string; credentials: AddonCredentialsConfig }>;
}

export function loadWorkerConfig(env: EnvSource, addons: ReadonlyMap<string, AddonDefinition>): WorkerConfig {
  const issues: string[] = [];
  const selection = selectAddons(env, addons, issues);
  const enabled = selection.enabled;
  const credentials = readAddonCredentials(env, enabled.keys(), issues);
  const warmPool = readWarmPool(env.BERTH_WARM_POOL ?? "", enabled, issues);
  // The worker mounts each database's disk image where the Docker Engine binds it from: the same host, the same mounts.
  if ((env.BERTH_DISK_LIMITS || "loop") === "loop" && env.DOCKER_HOST && !env.DOCKER_HOST.startsWith("unix://")) {
    issues.push(
      `BERTH_DISK_LIMITS: "loop" needs the worker on the Docker host, talking to it through its socket (DOCKER_HOST=unix://...), not ${env.DOCKER_HOST}; set BERTH_DISK_LIMITS=off for a remote engine`,
    );
  }
  const parsed = parseEnv(workerEnvSchema, env, issues);
  return {
    redisUrl: parsed.BERTH_REDIS_URL,
    databaseUrl: parsed.BERTH_DATABASE_URL,
    queuePrefix: parsed.BERTH_QUEUE_PREFIX,
    platformApiUrl: parsed.BERTH_PLATFORM_API_URL,
    encryptionKey: parsed.BERTH_ENCRYPTION_KEY,
    previousEncryptionKeys: parsed.BERTH_ENCRYPTION_PREVIOUS_KEYS,
    dockerHost: parsed.DOCKER_HOST,
    publicHost: parsed.BERTH_PUBLIC_HOST,
    bindAddress: parsed.BERTH_DATABASE_BIND_ADDRESS,
    portRange: parsed.BERTH_PORT_RANGE,
    concurrency: parsed.BERTH_WORKER_CONCURRENCY,
    rotationGraceSeconds: parsed.BERTH_ROTATION_GRACE_SECONDS,
    deploymentId: parsed.BERTH_DEPLOYMENT_ID ?? defaultDeploymentId(parsed.BERTH_DATABASE_URL),
    jobLockSeconds: parsed.BERTH_JOB_LOCK_SECONDS,
    reconcileIntervalSeconds: parsed.BERTH_RECONCILE_INTERVAL_SECONDS,
    platformRetries: parsed.BERTH_PLATFORM_RETRIES,
    usageIntervalSeconds: parsed.BERTH_USAGE_INTERVAL_SECONDS,
    usageRetentionDays: parsed.BERTH_USAGE_RETENTION_DAYS,
    logLevel: parsed.LOG_LEVEL,
    http: { host: parsed.BERTH_WORKER_HTTP_HOST, port: parsed.BERTH_WORKER_HTTP_PORT },
    disks: { limits: parsed.BERTH_DISK_LIMITS, dir: parsed.BERTH_DISK_DIR },
    backups: {
      backend: backupBackendFromEnv(parsed),
      concurrency: parsed.BERTH_BACKUP_CONCURRENCY,
      deletedRetentionDays: parsed.BERTH_DELETED_RETENTION_DAYS,
      archiveShipIntervalSeconds: parsed.BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS,
    },
    warmPool,
    enabledAddons: enabled,
    addonsLeftOff: selection.leftOff,
    addons: new Map(
      [...enabled.values()].map((addon) => [
        addon.id,
        { image: env[addonEnvName(addon.id, "IMAGE")] || addon.defaultImage, credentials: credentials.get(addon.id)! },
      ]),
    ),
  };
}

/** Pool databases per plan are capped: each holds a container's memory while it waits. */
const MAX_WARM_PER_PLAN = 50;

/** `postgresql-sandbox=2,mysql-sandbox=1` → one target per plan, checked against the installed addons. */
function readWarmPool(value: string, addons: ReadonlyMap<string, AddonDefinition>, issues: string[]): WarmPoolTarget[] {
  const targets: WarmPoolTarget[] = [];
  for (const entry of value.split(",").map((part) => part.trim()).filter(Boolean)) {
    const match = /^([a-z0-9-]+)=(\d+)$/.exec(entry);
    if (!match) {
      issues.push(`BERTH_WARM_POOL: "${entry}" must look like <plan>=<count>, e.g. postgresql-sandbox=2`);
      continue;
    }
    const plan = match[1]!;
    const size = Number(match[2]);
    const addon = [...addons.values()].find((candidate) => candidate.plans.some((p) => p.name === plan));
    if (!addon) issues.push(`BERTH_WARM_POOL: no installed addon has a plan "${plan}"`);
    else if (!addon.rotation) issues.push(`BERTH_WARM_POOL: ${addon.id} cannot change a database's password, so it cannot have a warm pool`);
    else if (size > MAX_WARM_PER_PLAN) issues.push(`BERTH_WARM_POOL: ${plan}=${size} is more than ${MAX_WARM_PER_PLAN}`);
    else if (targets.some((target) => target.plan === plan)) issues.push(`BERTH_WARM_POOL: ${plan} is listed twice`);
    else targets.push({ addonId: addon.id, plan, size });
  }
  return targets;
}

/** `BERTH_DEPLOYMENT_ID`'s default: a digest of the control-plane database's address (host, port, database). */
export function defaultDeploymentId(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  const address = `${url.hostname}:${url.port || 5432}${url.pathname}`;
  return `cp-${createHash("sha256").update(address).digest("hex").slice(0, 12)}`;
}

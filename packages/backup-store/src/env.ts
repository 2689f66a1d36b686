import { isAbsolute } from "node:path";
import { httpUrl } from "@berth/config";
import { z } from "zod";
import type { BackupStoreConfig } from "./config.js";

/**
 * The backup store's environment variables, as the API and the worker read them at start-up:
 * `BERTH_BACKUP_S3_BUCKET` set selects S3 (with its endpoint, region, keys); otherwise the host
 * directory `BERTH_BACKUP_DIR`.
 */
export const backupStoreEnvSchema = z.object({
  BERTH_BACKUP_DIR: z.string().refine((path) => isAbsolute(path), "must be an absolute path").default("/var/lib/berth/backups"),
  BERTH_BACKUP_S3_BUCKET: z.string().optional(),
  BERTH_BACKUP_S3_ENDPOINT: httpUrl.optional(),
  BERTH_BACKUP_S3_REGION: z.string().min(1).default("us-east-1"),
  BERTH_BACKUP_S3_ACCESS_KEY_ID: z.string().optional(),
  BERTH_BACKUP_S3_SECRET_ACCESS_KEY: z.string().optional(),
  BERTH_BACKUP_S3_FORCE_PATH_STYLE: z.enum(["true", "false"]).default("false"),
  BERTH_BACKUP_S3_PREFIX: z.string().default(""),
});

/** Where the objects go: the `backend` of `createBackupStore`'s configuration (one schema, `config.ts`). */
export type BackupBackendConfig = BackupStoreConfig["backend"];

/** The backend the parsed variables name (`createBackupStore` validates the rest). */
export function backupBackendFromEnv(env: z.output<typeof backupStoreEnvSchema>): BackupBackendConfig {
  if (!env.BERTH_BACKUP_S3_BUCKET) return { kind: "directory", directory: env.BERTH_BACKUP_DIR };
  return {
    kind: "s3",
    ...(env.BERTH_BACKUP_S3_ENDPOINT ? { endpoint: env.BERTH_BACKUP_S3_ENDPOINT } : {}),
    region: env.BERTH_BACKUP_S3_REGION,
    bucket: env.BERTH_BACKUP_S3_BUCKET,
    accessKeyId: env.BERTH_BACKUP_S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.BERTH_BACKUP_S3_SECRET_ACCESS_KEY ?? "",
    forcePathStyle: env.BERTH_BACKUP_S3_FORCE_PATH_STYLE === "true",
    keyPrefix: env.BERTH_BACKUP_S3_PREFIX,
  };
}

import { isAbsolute } from "node:path";
import { ConfigError, httpUrl } from "@berth/config";
import { z } from "zod";
import { SealedBackupStore, type BackupStore } from "./backup-store.js";
import { DirectoryStorage } from "./directory-storage.js";
import { validatePrefix } from "./object-key.js";
import { S3Storage } from "./s3-storage.js";
import { BackupKeyring } from "./sealing.js";

const MiB = 1024 * 1024;
/** S3's limits on a multipart part. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PART_SIZE = 5 * 1024 * MiB;

const deploymentKey = z.instanceof(Buffer).refine((key) => key.length === 32, "must be 32 bytes");

export const directoryBackendSchema = z.object({
  kind: z.literal("directory"),
  /** The host directory holding the objects (`BERTH_BACKUP_DIR`); created on the first write if missing. */
  directory: z.string().refine((path) => isAbsolute(path), "must be an absolute path"),
});

export const s3BackendSchema = z.object({
  kind: z.literal("s3"),
  /** Omitted for AWS S3 itself. */
  endpoint: httpUrl.optional(),
  region: z.string().min(1).default("us-east-1"),
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name (3-63 lowercase letters, digits, dots and dashes)"),
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  /** Path-style addressing (`endpoint/bucket/key`), which most self-hosted S3-compatible stores want. */
  forcePathStyle: z.boolean().default(false),
  /** Put before every key in the bucket, e.g. `berth/`: whole key segments, ending with "/". */
  keyPrefix: z
    .string()
    .default("")
    .refine((prefix) => prefix === "" || (prefix.endsWith("/") && isValidPrefix(prefix)), 'must be "" or key segments ending with "/", e.g. berth/'),
  /** Bytes per part of a multipart upload (5 MiB to 5 GiB); objects are at most 10,000 parts. */
  partSizeBytes: z.number().int().min(MIN_PART_SIZE).max(MAX_PART_SIZE).default(16 * MiB),
  /** Parts uploaded at once; the memory a write holds is about `partSizeBytes × partConcurrency`. */
  partConcurrency: z.number().int().min(1).max(16).default(2),
});

/**
 * What `createBackupStore` needs: where the objects go, and the deployment's encryption keys
 * (the worker's `encryptionKey` and `previousEncryptionKeys`, the same keys SecretBox uses; the
 * store derives its own keys from them).
 */
export const backupStoreConfigSchema = z.object({
  backend: z.discriminatedUnion("kind", [directoryBackendSchema, s3BackendSchema]),
  encryptionKey: deploymentKey,
  previousEncryptionKeys: z.array(deploymentKey).default([]),
});

/** The configuration as passed (defaults not yet applied). */
export type BackupStoreConfig = z.input<typeof backupStoreConfigSchema>;
export type ParsedBackupStoreConfig = z.output<typeof backupStoreConfigSchema>;

/** Validates `config` (throwing `ConfigError` with one line per problem) and builds the store on its backend. */
export function createBackupStore(config: BackupStoreConfig): BackupStore {
  const result = backupStoreConfigSchema.safeParse(config);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `backup store ${issue.path.join(".") || "(root)"}: ${issue.message}`));
  }
  const { backend, encryptionKey, previousEncryptionKeys } = result.data;
  const keyring = new BackupKeyring(encryptionKey, previousEncryptionKeys);
  const storage =
    backend.kind === "directory"
      ? new DirectoryStorage(backend.directory)
      : new S3Storage({
          endpoint: backend.endpoint,
          region: backend.region,
          bucket: backend.bucket,
          accessKeyId: backend.accessKeyId,
          secretAccessKey: backend.secretAccessKey,
          forcePathStyle: backend.forcePathStyle,
          keyPrefix: backend.keyPrefix,
          partSize: backend.partSizeBytes,
          partConcurrency: backend.partConcurrency,
        });
  return new SealedBackupStore(storage, keyring);
}

function isValidPrefix(prefix: string): boolean {
  try {
    validatePrefix(prefix);
    return true;
  } catch {
    return false;
  }
}

/**
 * The backup store: backups as compressed, encrypted objects on a host directory or an S3
 * bucket, streamed both ways. Build one with `createBackupStore(config)`.
 */
export { createBackupStore, backupStoreConfigSchema, directoryBackendSchema, s3BackendSchema, type BackupStoreConfig, type ParsedBackupStoreConfig } from "./config.js";
export { SealedBackupStore, type BackupStore, type BackupWriteOptions, type BackupWriteResult } from "./backup-store.js";
export {
  BackupIntegrityError,
  BackupNotFoundError,
  BackupStoreError,
  InvalidObjectKeyError,
  type BackupIntegrityReason,
  type BackupStoreErrorCode,
} from "./errors.js";
export { MAX_KEY_LENGTH, isObjectKey, validateObjectKey, validatePrefix } from "./object-key.js";
export type { ObjectStorage, StoredObjectInfo } from "./object-storage.js";
export { DirectoryStorage } from "./directory-storage.js";
export { S3Storage, type S3StorageOptions } from "./s3-storage.js";
export { BackupKeyring, keyId } from "./sealing.js";
export { backupStoreEnvSchema, backupBackendFromEnv, type BackupBackendConfig } from "./env.js";
export { BackupTokens, ForkTokens } from "./tokens.js";

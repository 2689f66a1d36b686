/**
 * The store's own failures, each with a stable `code` the worker can classify. Anything else a
 * store operation throws is its backend's I/O error (a file system errno, an S3 service error),
 * passed through unchanged: usually worth a retry.
 */
export type BackupStoreErrorCode = "invalid_object_key" | "backup_not_found" | "backup_integrity";

export class BackupStoreError extends Error {
  readonly code: BackupStoreErrorCode;

  constructor(code: BackupStoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A key that is not a valid object name (see `validateObjectKey`): a caller's bug, never retried. */
export class InvalidObjectKeyError extends BackupStoreError {
  constructor(message: string) {
    super("invalid_object_key", message);
  }
}

export class BackupNotFoundError extends BackupStoreError {
  readonly key: string;

  constructor(key: string, options?: ErrorOptions) {
    super("backup_not_found", `no backup object named ${key}`, options);
    this.key = key;
  }
}

/**
 * Why a stored object cannot be trusted:
 * - `not_a_backup`: it does not start with this format's header;
 * - `unsupported_format`: a header of a format version or compression this code does not know;
 * - `unknown_key`: sealed with an encryption key that is neither the current nor a previous one;
 * - `tampered`: a record fails its authentication (a changed byte, a wrong key under a known id);
 * - `truncated`: the object ends before its final record;
 * - `checksum_mismatch`: its SHA-256 is not the one recorded when it was written.
 */
export type BackupIntegrityReason = "not_a_backup" | "unsupported_format" | "unknown_key" | "tampered" | "truncated" | "checksum_mismatch";

/** The object cannot be trusted: a restore must refuse it. Retrying reads the same bytes again. */
export class BackupIntegrityError extends BackupStoreError {
  readonly reason: BackupIntegrityReason;

  constructor(reason: BackupIntegrityReason, message: string, options?: ErrorOptions) {
    super("backup_integrity", message, options);
    this.reason = reason;
  }
}

import type { Readable } from "node:stream";

export interface StoredObjectInfo {
  key: string;
  /** Bytes stored (the sealed object's size). */
  size: number;
  lastModified: Date;
}

/**
 * Where sealed objects lie: a directory or an S3 bucket. It moves bytes only; sealing happens
 * above it (`BackupStore`), so every backend stores the same compressed, encrypted objects.
 * Keys reach it already validated.
 */
export interface ObjectStorage {
  /** Stores `body` under `key` whole or not at all: a failed or aborted write leaves no object (nor a previous one changed). */
  write(key: string, body: Readable): Promise<void>;
  /** The object's bytes; rejects with `BackupNotFoundError` when there is none. */
  read(key: string): Promise<Readable>;
  /** Undefined when there is no such object. */
  stat(key: string): Promise<StoredObjectInfo | undefined>;
  /** Removes the object; no error when it is already gone. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObjectInfo[]>;
  /** Releases connections, if the backend holds any. */
  close?(): void;
}

import { createHash, timingSafeEqual, type Hash } from "node:crypto";
import { addAbortSignal, pipeline, Transform, Writable, type Readable, type TransformCallback } from "node:stream";
import { constants, createBrotliCompress, createBrotliDecompress } from "node:zlib";
import { BackupIntegrityError } from "./errors.js";
import { validateObjectKey, validatePrefix } from "./object-key.js";
import type { ObjectStorage, StoredObjectInfo } from "./object-storage.js";
import { OpenStream, SealStream, type BackupKeyring } from "./sealing.js";

export interface BackupWriteResult {
  key: string;
  /** Bytes stored: the sealed (compressed, encrypted) object. */
  size: number;
  /** SHA-256 of the stored object, lowercase hex: record it, and pass it to `verify` before a restore. */
  sha256: string;
  /** Bytes of content read from the source (before compression). */
  contentSize: number;
  /** The encryption key the object was sealed with (its fingerprint, as in the error messages). */
  keyId: string;
}

export interface BackupWriteOptions {
  /** Aborting it fails the write (the source is destroyed) and leaves no object. */
  signal?: AbortSignal;
}

/**
 * Backups as objects, compressed and encrypted while they stream, on a directory or an S3
 * bucket. Nothing is held whole in memory: a write reads its source, an open yields its content,
 * both in records of 64 KiB.
 */
export interface BackupStore {
  /**
   * Compresses, seals and stores everything `content` yields under `key`; resolves once the object
   * is stored whole (durable on disk, or the upload completed). If the source fails, the signal
   * aborts or the backend fails, it rejects with that error and no object is left under `key`
   * (the source stream is destroyed). An existing object under `key` is replaced.
   */
  write(key: string, content: Readable, options?: BackupWriteOptions): Promise<BackupWriteResult>;
  /**
   * The content of the object, decrypted and decompressed as it is read. Resolves once the header
   * is read and its key is known: rejects with `BackupNotFoundError` or `BackupIntegrityError`
   * (`not_a_backup`, `unsupported_format`, `unknown_key`) before any content is produced. A later
   * changed or missing byte fails the stream with `BackupIntegrityError` (`tampered`, `truncated`)
   * before the damaged record's content is passed on; content of earlier records has been.
   * Read the stream to its end or destroy it: it holds a file or a connection.
   */
  open(key: string): Promise<Readable>;
  /**
   * Reads the whole stored object: its SHA-256 must equal `expectedSha256` (compared in constant
   * time) and every record must authenticate with the keyring. Rejects with `BackupIntegrityError`
   * (`checksum_mismatch`, or a reason of `open`'s) or `BackupNotFoundError`; resolves when the
   * object can be restored. Run it before touching the database.
   */
  verify(key: string, expectedSha256: string): Promise<void>;
  /** The stored object's size and time, or undefined when there is none. */
  stat(key: string): Promise<StoredObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** Removes the object; no error when there is none. */
  delete(key: string): Promise<void>;
  /** The objects whose key starts with `prefix` (all with ""), sorted by key. */
  list(prefix?: string): Promise<StoredObjectInfo[]>;
  /** Releases the backend's connections (S3); the store is not used after. */
  close(): void;
}

/** Brotli at quality 1: measured here, about twice gzip's speed at gzip level 3's ratio on table data, and fast on incompressible data. */
const BROTLI_QUALITY = 1;

export class SealedBackupStore implements BackupStore {
  readonly #storage: ObjectStorage;
  readonly #keyring: BackupKeyring;

  constructor(storage: ObjectStorage, keyring: BackupKeyring) {
    this.#storage = storage;
    this.#keyring = keyring;
  }

  async write(key: string, content: Readable, options: BackupWriteOptions = {}): Promise<BackupWriteResult> {
    validateObjectKey(key);
    if (options.signal) addAbortSignal(options.signal, content);
    const compress = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY } });
    const seal = new SealStream(this.#keyring);
    const digest = new DigestStream();
    // The chain's own failure (the source's) also reaches the backend, through `digest`.
    const chained = new Promise<Error | null | undefined>((resolve) => pipeline(content, compress, seal, digest, resolve));
    try {
      await this.#storage.write(key, digest);
    } catch (error) {
      // A backend that failed before reading (a directory it cannot create) must still end the
      // chain, or the source would be held open forever.
      digest.destroy();
      throw error;
    }
    const failure = await chained;
    if (failure) {
      // Stored, yet the chain reports a failure after its end: do not keep what may be incomplete.
      await this.#storage.delete(key).catch(() => {});
      throw failure;
    }
    return { key, size: digest.bytes, sha256: digest.hex(), contentSize: compress.bytesWritten, keyId: seal.keyId };
  }

  async open(key: string): Promise<Readable> {
    validateObjectKey(key);
    const sealed = await this.#storage.read(key);
    const opener = new OpenStream(this.#keyring);
    const content = pipeline(sealed, opener, createBrotliDecompress(), () => {
      // Failures reach the reader as the returned stream's error.
    });
    await opener.header;
    return content;
  }

  async verify(key: string, expectedSha256: string): Promise<void> {
    validateObjectKey(key);
    if (!/^[0-9a-f]{64}$/i.test(expectedSha256)) throw new TypeError("verify: expectedSha256 must be 64 hexadecimal digits");
    const sealed = await this.#storage.read(key);
    const digest = new DigestStream();
    const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
    await new Promise<void>((resolve, reject) =>
      pipeline(sealed, digest, new OpenStream(this.#keyring), discard, (error) => (error ? reject(error) : resolve())),
    );
    if (!timingSafeEqual(digest.digest(), Buffer.from(expectedSha256, "hex"))) {
      throw new BackupIntegrityError("checksum_mismatch", `the backup object ${key} does not have the SHA-256 recorded when it was written`);
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | undefined> {
    return this.#storage.stat(validateObjectKey(key));
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async delete(key: string): Promise<void> {
    await this.#storage.delete(validateObjectKey(key));
  }

  async list(prefix = ""): Promise<StoredObjectInfo[]> {
    return this.#storage.list(validatePrefix(prefix));
  }

  close(): void {
    this.#storage.close?.();
  }
}

/**
 * Passes bytes through, counting them and computing their SHA-256. (No `size` or `length`
 * property: S3's Upload would take it for the body's length.)
 */
class DigestStream extends Transform {
  bytes = 0;
  readonly #hash: Hash = createHash("sha256");
  #digest: Buffer | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  digest(): Buffer {
    this.#digest ??= this.#hash.digest();
    return this.#digest;
  }

  hex(): string {
    return this.digest().toString("hex");
  }
}

import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BackupIntegrityError } from "./errors.js";

/**
 * The sealed object format (version 1). Everything a backend stores is:
 *
 *   header (50 bytes) | record 0 | record 1 | … | final record
 *
 * header: "BERTHBAK" | version u8 = 1 | compression u8 (1 = brotli) | record size u32 BE
 *         | key id (4 bytes) | salt (32 random bytes)
 * record: AES-256-GCM ciphertext of `record size` bytes of compressed content (the final
 *         record: 0 to `record size` bytes) | its 16-byte tag
 *
 * Each object is encrypted under its own key, HKDF-SHA256(deployment key, salt, OBJECT_KEY_INFO):
 * the label keeps backup keys apart from the credentials' (SecretBox uses the deployment key
 * itself), and the random salt plays the role of a random nonce prefix, so the nonce of record i
 * can be the counter i alone and still never repeats under a key. Every record's associated data
 * is the whole header plus a final-record flag: a changed header, a record moved, dropped or
 * replayed, or an object cut at a record boundary all fail authentication.
 */
const MAGIC = Buffer.from("BERTHBAK", "latin1");
const FORMAT_VERSION = 1;
const COMPRESSION_BROTLI = 1;
export const HEADER_LENGTH = MAGIC.length + 1 + 1 + 4 + 4 + 32;
const TAG_LENGTH = 16;
/** Plaintext bytes per record: large enough that the per-record cost vanishes, small enough to hold in memory many times over. */
export const RECORD_SIZE = 64 * 1024;
/** Record sizes a reader accepts from a header (which is authenticated only once the first record is): bounds what it buffers. */
const MIN_RECORD_SIZE = 1024;
const MAX_RECORD_SIZE = 4 * 1024 * 1024;
const OBJECT_KEY_INFO = Buffer.from("berth backup-store object key v1", "utf8");

/**
 * The deployment's encryption keys (the worker's `encryptionKey` and `previousEncryptionKeys`):
 * objects are sealed with the current key, and open with any of them, found by the key id in the
 * header, the same short SHA-256 fingerprint SecretBox shows.
 */
export class BackupKeyring {
  readonly currentKeyId: string;
  readonly #current: Buffer;
  readonly #byId: ReadonlyMap<string, Buffer>;

  constructor(currentKey: Buffer, previousKeys: readonly Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error("BackupKeyring: encryption keys must be 32 bytes");
    }
    this.#current = currentKey;
    this.currentKeyId = keyId(currentKey);
    const byId = new Map<string, Buffer>();
    for (const key of [currentKey, ...previousKeys]) {
      const known = byId.get(keyId(key));
      if (known && !known.equals(key)) throw new Error(`BackupKeyring: two different keys share the fingerprint ${keyId(key)}; replace one`);
      byId.set(keyId(key), key);
    }
    this.#byId = byId;
  }

  get current(): { id: string; key: Buffer } {
    return { id: this.currentKeyId, key: this.#current };
  }

  find(id: string): Buffer | undefined {
    return this.#byId.get(id);
  }
}

/** A short public fingerprint of a key (as SecretBox's): 8 hex digits of its SHA-256. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

interface Header {
  bytes: Buffer;
  recordSize: number;
  keyId: string;
  salt: Buffer;
}

function objectKey(deploymentKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", deploymentKey, salt, OBJECT_KEY_INFO, 32));
}

function nonce(index: bigint): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeBigUInt64BE(index, 4);
  return bytes;
}

function associatedData(header: Buffer, final: boolean): Buffer {
  return Buffer.concat([header, Buffer.from([final ? 1 : 0])]);
}

/** Encrypts a stream of (compressed) content into the sealed format, one record at a time. */
export class SealStream extends Transform {
  readonly keyId: string;
  readonly #header: Buffer;
  readonly #key: Buffer;
  readonly #pending = Buffer.allocUnsafe(RECORD_SIZE);
  #filled = 0;
  #index = 0n;
  #headerSent = false;

  constructor(keyring: BackupKeyring) {
    super();
    const { id, key } = keyring.current;
    const salt = randomBytes(32);
    this.keyId = id;
    this.#header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION, COMPRESSION_BROTLI]), u32(RECORD_SIZE), Buffer.from(id, "hex"), salt]);
    this.#key = objectKey(key, salt);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#sendHeader();
    let offset = 0;
    while (offset < chunk.length) {
      // A full record is sealed only once more content arrives: until then it may be the last.
      if (this.#filled === RECORD_SIZE) this.#sealPending(false);
      const count = Math.min(RECORD_SIZE - this.#filled, chunk.length - offset);
      chunk.copy(this.#pending, this.#filled, offset, offset + count);
      this.#filled += count;
      offset += count;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#sendHeader();
    this.#sealPending(true);
    done();
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(this.#header);
  }

  #sealPending(final: boolean): void {
    const cipher = createCipheriv("aes-256-gcm", this.#key, nonce(this.#index++), { authTagLength: TAG_LENGTH });
    cipher.setAAD(associatedData(this.#header, final));
    const ciphertext = cipher.update(this.#pending.subarray(0, this.#filled));
    cipher.final();
    this.push(Buffer.concat([ciphertext, cipher.getAuthTag()]));
    this.#filled = 0;
  }
}

/**
 * Decrypts the sealed format back into the (compressed) content. A record's plaintext is passed
 * on only after its tag verified; the stream fails with `BackupIntegrityError` on anything else.
 * `header` settles as soon as the header is read: it rejects at once on an object that is not a
 * backup or was sealed with a key the keyring does not hold.
 */
export class OpenStream extends Transform {
  readonly header: Promise<{ keyId: string }>;
  readonly #keyring: BackupKeyring;
  #resolveHeader!: (value: { keyId: string }) => void;
  #rejectHeader!: (error: Error) => void;
  #parsed: (Header & { key: Buffer }) | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #index = 0n;

  constructor(keyring: BackupKeyring) {
    super();
    this.#keyring = keyring;
    this.header = new Promise((resolve, reject) => {
      this.#resolveHeader = resolve;
      this.#rejectHeader = reject;
    });
    // Whoever awaits it sees the failure; nobody awaiting it is no unhandled rejection.
    this.header.catch(() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    try {
      if (!this.#parsed) {
        if (this.#buffered < HEADER_LENGTH) return done();
        this.#parsed = this.#readHeader(this.#take(HEADER_LENGTH));
        this.#resolveHeader({ keyId: this.#parsed.keyId });
      }
      const recordLength = this.#parsed.recordSize + TAG_LENGTH;
      // More bytes than a record: the record at the front is not the last one.
      while (this.#buffered > recordLength) this.push(this.#openRecord(this.#take(recordLength), false));
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      const rest = this.#take(this.#buffered);
      if (!this.#parsed) {
        const looksLikeOurs = rest.length > 0 && MAGIC.subarray(0, rest.length).equals(rest.subarray(0, MAGIC.length));
        throw looksLikeOurs
          ? new BackupIntegrityError("truncated", `the backup object ends within its header (${rest.length} of ${HEADER_LENGTH} bytes)`)
          : new BackupIntegrityError("not_a_backup", "the object is not a sealed backup (no header)");
      }
      if (rest.length < TAG_LENGTH) {
        throw new BackupIntegrityError("truncated", `the backup object is truncated: it ends before its final record (record ${this.#index})`);
      }
      this.push(this.#openRecord(rest, true));
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#rejectHeader(error ?? new Error("the backup stream was closed before its header was read"));
    done(error);
  }

  #readHeader(bytes: Buffer): Header & { key: Buffer } {
    if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new BackupIntegrityError("not_a_backup", "the object is not a sealed backup (unknown header)");
    }
    const version = bytes[MAGIC.length]!;
    const compression = bytes[MAGIC.length + 1]!;
    const recordSize = bytes.readUInt32BE(MAGIC.length + 2);
    if (version !== FORMAT_VERSION || compression !== COMPRESSION_BROTLI || recordSize < MIN_RECORD_SIZE || recordSize > MAX_RECORD_SIZE) {
      throw new BackupIntegrityError(
        "unsupported_format",
        `the backup object has an unsupported format (version ${version}, compression ${compression}, records of ${recordSize} bytes)`,
      );
    }
    const id = bytes.subarray(MAGIC.length + 6, MAGIC.length + 10).toString("hex");
    const salt = bytes.subarray(MAGIC.length + 10, HEADER_LENGTH);
    const deploymentKey = this.#keyring.find(id);
    if (!deploymentKey) {
      throw new BackupIntegrityError(
        "unknown_key",
        `the backup was sealed with encryption key ${id}, which is neither the current key nor a previous one; add it to the previous keys`,
      );
    }
    return { bytes, recordSize, keyId: id, salt, key: objectKey(deploymentKey, salt) };
  }

  #openRecord(record: Buffer, final: boolean): Buffer {
    const parsed = this.#parsed!;
    const index = this.#index++;
    const attempt = (asFinal: boolean): Buffer | undefined => {
      const decipher = createDecipheriv("aes-256-gcm", parsed.key, nonce(index), { authTagLength: TAG_LENGTH });
      decipher.setAAD(associatedData(parsed.bytes, asFinal));
      decipher.setAuthTag(record.subarray(record.length - TAG_LENGTH));
      const plaintext = decipher.update(record.subarray(0, record.length - TAG_LENGTH));
      try {
        decipher.final();
        return plaintext;
      } catch {
        return undefined;
      }
    };
    const plaintext = attempt(final);
    if (plaintext) return plaintext;
    // A whole record that authenticates as a middle one, where the object ends: it was cut there.
    if (final && record.length === parsed.recordSize + TAG_LENGTH && attempt(false)) {
      throw new BackupIntegrityError("truncated", `the backup object is truncated after record ${index}: its final record is missing`);
    }
    throw new BackupIntegrityError(
      "tampered",
      `record ${index} of the backup object fails authentication: the object was changed or cut, or sealed with another key of the same id`,
    );
  }

  #take(length: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#buffered);
    const taken = all.subarray(0, length);
    const rest = all.subarray(length);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

import { createDecipheriv, createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BackupIntegrityError, type BackupIntegrityReason } from "../src/errors.js";
import { BackupKeyring, HEADER_LENGTH, keyId, OpenStream, RECORD_SIZE, SealStream } from "../src/sealing.js";

// The sealing layer alone (no compression, no backend): records of RECORD_SIZE bytes, each
// authenticated before its plaintext is passed on.
const TAG = 16;

async function seal(plaintext: Buffer, keyring: BackupKeyring): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Fed in uneven pieces, as a compressor would.
  const pieces = [];
  for (let offset = 0; offset < plaintext.length; offset += 10_007) pieces.push(plaintext.subarray(offset, offset + 10_007));
  await pipeline(Readable.from(pieces), new SealStream(keyring), new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }));
  return Buffer.concat(chunks);
}

/** Opens `sealed`: what came out before it ended or failed, and the failure. */
async function open(sealed: Buffer, keyring: BackupKeyring): Promise<{ output: Buffer; error: unknown; header: unknown }> {
  const opener = new OpenStream(keyring);
  const header = opener.header.then(
    (value) => value,
    (error: unknown) => error,
  );
  const chunks: Buffer[] = [];
  const pieces = [];
  for (let offset = 0; offset < sealed.length; offset += 7_919) pieces.push(sealed.subarray(offset, offset + 7_919));
  const error = await pipeline(Readable.from(pieces), opener, new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) })).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  return { output: Buffer.concat(chunks), error, header: await header };
}

function integrityReason(error: unknown): BackupIntegrityReason | undefined {
  return error instanceof BackupIntegrityError ? error.reason : undefined;
}

function flipped(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

describe("sealing", () => {
  const keyring = new BackupKeyring(randomBytes(32));

  it("opens what it sealed, for sizes around the record size, an exact multiple and nothing at all", async () => {
    for (const size of [0, 1, RECORD_SIZE - 1, RECORD_SIZE, RECORD_SIZE + 1, 3 * RECORD_SIZE, 3 * RECORD_SIZE + 5]) {
      const plaintext = randomBytes(size);
      const sealed = await seal(plaintext, keyring);
      const records = Math.max(1, Math.ceil(size / RECORD_SIZE));
      expect(sealed.length).toBe(HEADER_LENGTH + size + records * TAG);
      const { output, error } = await open(sealed, keyring);
      expect(error).toBeUndefined();
      expect(output.equals(plaintext)).toBe(true);
    }
  });

  it("seals the same content differently each time, under a key derived from the deployment key", async () => {
    const deploymentKey = randomBytes(32);
    const ring = new BackupKeyring(deploymentKey);
    const plaintext = Buffer.from("the same dump");
    const [first, second] = [await seal(plaintext, ring), await seal(plaintext, ring)];
    expect(first.equals(second)).toBe(false);
    expect(first.subarray(HEADER_LENGTH).includes(plaintext)).toBe(false);
    // The deployment key itself (SecretBox's) does not open the records: the backup key is its own.
    const decipher = createDecipheriv("aes-256-gcm", deploymentKey, Buffer.alloc(12));
    decipher.setAAD(Buffer.concat([first.subarray(0, HEADER_LENGTH), Buffer.from([1])]));
    decipher.setAuthTag(first.subarray(first.length - TAG));
    decipher.update(first.subarray(HEADER_LENGTH, first.length - TAG));
    expect(() => decipher.final()).toThrow();
  });

  it("passes on no byte of a record that fails its tag: the records before it, then the error", async () => {
    const plaintext = randomBytes(5 * RECORD_SIZE);
    const sealed = await seal(plaintext, keyring);
    const recordTwo = HEADER_LENGTH + 2 * (RECORD_SIZE + TAG);
    for (const at of [recordTwo, recordTwo + 1000, recordTwo + RECORD_SIZE + TAG - 1]) {
      const { output, error } = await open(flipped(sealed, at), keyring);
      expect(integrityReason(error)).toBe("tampered");
      expect(output.length).toBe(2 * RECORD_SIZE);
      expect(output.equals(plaintext.subarray(0, 2 * RECORD_SIZE))).toBe(true);
    }
  });

  it("refuses any flipped byte: every header byte, both sides of every record boundary, and many others", async () => {
    const sealed = await seal(randomBytes(3 * RECORD_SIZE + 100), keyring);
    const positions = new Set<number>();
    for (let at = 0; at < HEADER_LENGTH; at++) positions.add(at);
    for (let record = 0; record <= 3; record++) {
      const start = HEADER_LENGTH + record * (RECORD_SIZE + TAG);
      for (const at of [start - 1, start, start + 1]) if (at >= 0 && at < sealed.length) positions.add(at);
    }
    for (let i = 0; i < 200; i++) positions.add(Math.floor(Math.random() * sealed.length));
    positions.add(sealed.length - 1);
    for (const at of positions) {
      const { error } = await open(flipped(sealed, at), keyring);
      expect(error, `byte ${at}`).toBeInstanceOf(BackupIntegrityError);
    }
    // The header's fields fail with their own reasons.
    expect(integrityReason((await open(flipped(sealed, 0), keyring)).error)).toBe("not_a_backup");
    expect(integrityReason((await open(flipped(sealed, 8), keyring)).error)).toBe("unsupported_format");
    expect(integrityReason((await open(flipped(sealed, 14), keyring)).error)).toBe("unknown_key");
    expect(integrityReason((await open(flipped(sealed, 20), keyring)).error)).toBe("tampered");
  });

  it("refuses a truncated object: at a record boundary, within a record, within the header, empty", async () => {
    const sealed = await seal(randomBytes(3 * RECORD_SIZE + 100), keyring);
    for (let records = 0; records <= 3; records++) {
      const { output, error } = await open(sealed.subarray(0, HEADER_LENGTH + records * (RECORD_SIZE + TAG)), keyring);
      expect(integrityReason(error), `cut after ${records} records`).toBe("truncated");
      expect(output.length).toBe(Math.max(0, records - 1) * RECORD_SIZE);
    }
    expect((await open(sealed.subarray(0, sealed.length - 1), keyring)).error).toBeInstanceOf(BackupIntegrityError);
    expect((await open(sealed.subarray(0, HEADER_LENGTH + 5000), keyring)).error).toBeInstanceOf(BackupIntegrityError);
    expect(integrityReason((await open(sealed.subarray(0, HEADER_LENGTH + 10), keyring)).error)).toBe("truncated");
    expect(integrityReason((await open(sealed.subarray(0, 20), keyring)).error)).toBe("truncated");
    expect(integrityReason((await open(Buffer.alloc(0), keyring)).error)).toBe("not_a_backup");
  });

  it("refuses bytes appended after the final record, and records moved or dropped", async () => {
    const sealed = await seal(randomBytes(3 * RECORD_SIZE + 100), keyring);
    expect((await open(Buffer.concat([sealed, Buffer.from([0])]), keyring)).error).toBeInstanceOf(BackupIntegrityError);
    expect((await open(Buffer.concat([sealed, randomBytes(RECORD_SIZE + TAG)]), keyring)).error).toBeInstanceOf(BackupIntegrityError);
    const record = (i: number) => sealed.subarray(HEADER_LENGTH + i * (RECORD_SIZE + TAG), HEADER_LENGTH + (i + 1) * (RECORD_SIZE + TAG));
    const header = sealed.subarray(0, HEADER_LENGTH);
    const last = sealed.subarray(HEADER_LENGTH + 3 * (RECORD_SIZE + TAG));
    expect(integrityReason((await open(Buffer.concat([header, record(1), record(0), record(2), last]), keyring)).error)).toBe("tampered");
    expect(integrityReason((await open(Buffer.concat([header, record(0), record(2), last]), keyring)).error)).toBe("tampered");
    // Another object's records under this header.
    const other = await seal(randomBytes(3 * RECORD_SIZE + 100), keyring);
    expect(integrityReason((await open(Buffer.concat([header, other.subarray(HEADER_LENGTH)]), keyring)).error)).toBe("tampered");
  });

  it("refuses an object sealed with a key it does not hold, before any content", async () => {
    const sealed = await seal(randomBytes(2 * RECORD_SIZE), keyring);
    const stranger = new BackupKeyring(randomBytes(32));
    const { output, error, header } = await open(sealed, stranger);
    expect(integrityReason(error)).toBe("unknown_key");
    expect((error as Error).message).toContain(keyring.currentKeyId);
    expect(integrityReason(header)).toBe("unknown_key");
    expect(output.length).toBe(0);
  });

  it("after a key rotation, opens objects sealed with a previous key and seals with the new one", async () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const plaintext = randomBytes(RECORD_SIZE + 10);
    const sealedBefore = await seal(plaintext, new BackupKeyring(oldKey));
    const rotated = new BackupKeyring(newKey, [oldKey]);
    const opened = await open(sealedBefore, rotated);
    expect(opened.error).toBeUndefined();
    expect(opened.output.equals(plaintext)).toBe(true);
    expect(opened.header).toEqual({ keyId: keyId(oldKey) });
    const sealedAfter = await seal(plaintext, rotated);
    expect((await open(sealedAfter, rotated)).header).toEqual({ keyId: keyId(newKey) });
    expect(integrityReason((await open(sealedAfter, new BackupKeyring(oldKey))).error)).toBe("unknown_key");
  });

  it("names keys by SecretBox's fingerprint and takes only 32-byte keys", () => {
    const key = randomBytes(32);
    expect(keyId(key)).toBe(createHash("sha256").update(key).digest("hex").slice(0, 8));
    expect(new BackupKeyring(key).currentKeyId).toBe(keyId(key));
    expect(() => new BackupKeyring(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new BackupKeyring(key, [randomBytes(31)])).toThrow(/32 bytes/);
    // The current key listed again among the previous ones is harmless; two keys of one fingerprint are refused.
    expect(new BackupKeyring(key, [key]).currentKeyId).toBe(keyId(key));
    const seen = new Map<string, Buffer>();
    let pair: [Buffer, Buffer] | undefined;
    while (!pair) {
      const candidate = randomBytes(32);
      const twin = seen.get(keyId(candidate));
      if (twin) pair = [twin, candidate];
      else seen.set(keyId(candidate), candidate);
    }
    expect(() => new BackupKeyring(pair[0], [pair[1]])).toThrow(/share the fingerprint/);
  });
});

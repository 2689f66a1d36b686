import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import {
  BackupIntegrityError,
  BackupNotFoundError,
  createBackupStore,
  InvalidObjectKeyError,
  type BackupIntegrityReason,
  type BackupStore,
} from "../src/index.js";
import { HEADER_LENGTH, keyId, RECORD_SIZE } from "../src/sealing.js";
import { digestOf, drain, MiB, MixedContent } from "./support/content.js";

/** Every file under `root`, hidden ones (temporary files) included. */
async function allFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1)).sort();
}

async function sha256OfFile(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

async function flipByte(path: string, at: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[at] = bytes[at]! ^ 0x80;
  await writeFile(path, bytes);
}

function reasonOf(error: unknown): BackupIntegrityReason | undefined {
  return error instanceof BackupIntegrityError ? error.reason : undefined;
}

describe("the directory backend", () => {
  const parent = join(tmpdir(), `berth-backup-store-test-${process.pid}`);
  let root: string;
  const key = randomBytes(32);
  let store: BackupStore;
  const storeWith = (encryptionKey: Buffer, previousEncryptionKeys: Buffer[] = []) =>
    createBackupStore({ backend: { kind: "directory", directory: root }, encryptionKey, previousEncryptionKeys });

  beforeEach(async () => {
    await mkdir(parent, { recursive: true });
    root = join(await mkdtemp(join(parent, "case-")), "backups");
    store = storeWith(key);
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("round-trips a multi-MiB stream, returning the stored size and the stored object's SHA-256", async () => {
    const content = new MixedContent(12 * MiB);
    const written = await store.write("postgresql/res-1/2026-12-02T03-00-00Z", content);
    const path = join(root, "postgresql", "res-1", "2026-12-02T03-00-00Z");
    expect(written).toEqual({
      key: "postgresql/res-1/2026-12-02T03-00-00Z",
      size: (await stat(path)).size,
      sha256: await sha256OfFile(path),
      contentSize: 12 * MiB,
      keyId: keyId(key),
    });
    // Half of it is random, half compresses well.
    expect(written.size).toBeGreaterThan(6 * MiB);
    expect(written.size).toBeLessThan(9 * MiB);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await store.verify(written.key, written.sha256);
    await store.verify(written.key, written.sha256.toUpperCase());
    expect(await digestOf(await store.open(written.key))).toEqual({ size: 12 * MiB, sha256: content.sha256 });
    expect(await allFiles(root)).toEqual(["postgresql/res-1/2026-12-02T03-00-00Z"]);
  });

  it("leaves no object and no temporary file when the source fails mid-way, and reports the source's failure", async () => {
    const failure = new Error("mariadb-dump: lost connection");
    await expect(store.write("mysql/res-2/backup", new MixedContent(20 * MiB, { failAfter: 5 * MiB, failure }))).rejects.toBe(failure);
    expect(await store.list()).toEqual([]);
    expect(await store.exists("mysql/res-2/backup")).toBe(false);
    expect(await allFiles(root)).toEqual([]);
  });

  it("keeps the previous object whole when a replacing write fails", async () => {
    const first = new MixedContent(2 * MiB);
    const written = await store.write("redis/res-3/latest", first);
    await expect(store.write("redis/res-3/latest", new MixedContent(4 * MiB, { failAfter: 3 * MiB }))).rejects.toThrow("the source failed");
    await store.verify("redis/res-3/latest", written.sha256);
    expect((await digestOf(await store.open("redis/res-3/latest"))).sha256).toBe(first.sha256);
    expect(await allFiles(root)).toEqual(["redis/res-3/latest"]);
    // A write that succeeds replaces it.
    const second = await store.write("redis/res-3/latest", Readable.from([Buffer.from("newer")]));
    expect(second.sha256).not.toBe(written.sha256);
    expect(await digestOf(await store.open("redis/res-3/latest"))).toMatchObject({ size: 5 });
  });

  it("stops a write when its signal aborts, leaving nothing", async () => {
    const controller = new AbortController();
    const content = new MixedContent(64 * MiB);
    let sent = 0;
    content.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (sent >= 4 * MiB) controller.abort();
    });
    const refused = await store.write("postgresql/res-4/aborted", content, { signal: controller.signal }).catch((error: unknown) => error);
    expect((refused as Error).name).toBe("AbortError");
    expect(content.destroyed).toBe(true);
    expect(await allFiles(root)).toEqual([]);
  });

  it("fails a write whose directory cannot be made, ending its source", async () => {
    await mkdir(join(root, ".."), { recursive: true });
    await writeFile(root, "a file where the directory should be");
    const content = new MixedContent(64 * MiB);
    const refused = await store.write("postgresql/res-9/backup", content).catch((error: unknown) => error);
    expect((refused as NodeJS.ErrnoException).code).toBe("ENOTDIR");
    // The chain ends it a moment later; the deadline only stops the wait.
    const closed = new Promise<boolean>((resolve) => {
      content.once("close", () => resolve(true));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    expect(content.destroyed || (await closed)).toBe(true);
  });

  it("refuses to open or verify a stored object with a changed byte, or cut short", async () => {
    const written = await store.write("postgresql/res-5/backup", new MixedContent(3 * MiB));
    const path = join(root, "postgresql", "res-5", "backup");
    const intact = await readFile(path);

    await flipByte(path, HEADER_LENGTH + RECORD_SIZE + 100);
    expect(reasonOf(await store.verify(written.key, written.sha256).catch((error: unknown) => error))).toBe("tampered");
    const opened = await drain(await store.open(written.key));
    expect(reasonOf(opened.error)).toBe("tampered");

    await writeFile(path, intact);
    await truncate(path, HEADER_LENGTH + 2 * (RECORD_SIZE + 16));
    expect(reasonOf(await store.verify(written.key, written.sha256).catch((error: unknown) => error))).toBe("truncated");
    expect(reasonOf((await drain(await store.open(written.key))).error)).toBe("truncated");

    await writeFile(path, intact);
    await store.verify(written.key, written.sha256);
    // Intact, but not the object whose checksum was recorded.
    const other = await store.write("postgresql/res-5/other", new MixedContent(1 * MiB));
    expect(reasonOf(await store.verify(written.key, other.sha256).catch((error: unknown) => error))).toBe("checksum_mismatch");
    await expect(store.verify(written.key, "not-a-checksum")).rejects.toThrow(TypeError);
  });

  it("refuses a backup sealed with a key it does not hold before producing any content, and opens it once that key is a previous one", async () => {
    const content = new MixedContent(2 * MiB);
    const written = await store.write("postgresql/res-6/backup", content);
    const otherKey = randomBytes(32);
    const stranger = storeWith(otherKey);
    expect(reasonOf(await stranger.open(written.key).catch((error: unknown) => error))).toBe("unknown_key");
    expect(reasonOf(await stranger.verify(written.key, written.sha256).catch((error: unknown) => error))).toBe("unknown_key");

    const rotated = storeWith(otherKey, [key]);
    await rotated.verify(written.key, written.sha256);
    expect((await digestOf(await rotated.open(written.key))).sha256).toBe(content.sha256);
    const after = await rotated.write("postgresql/res-6/after-rotation", Readable.from([Buffer.from("new")]));
    expect(after.keyId).toBe(keyId(otherKey));
    expect(reasonOf(await store.open(after.key).catch((error: unknown) => error))).toBe("unknown_key");
  });

  it("refuses to open a file that is not a sealed backup", async () => {
    await mkdir(join(root, "imported"), { recursive: true });
    await writeFile(join(root, "imported", "dump.sql"), "CREATE TABLE t (id int);\n");
    expect(reasonOf(await store.open("imported/dump.sql").catch((error: unknown) => error))).toBe("not_a_backup");
  });

  it("lists by prefix in key order, stats, deletes, and skips what is not an object", async () => {
    for (const name of ["pg/r1/b", "pg/r1/a", "pg/r10/a", "pg/r2/a", "redis/r1/a"]) await store.write(name, Readable.from([Buffer.from(name)]));
    // Not objects: a leftover temporary file, a hidden file, a name that is no valid key.
    await writeFile(join(root, "pg", "r1", ".a.0123abcd.partial"), "half");
    await writeFile(join(root, "pg", ".hidden"), "x");
    await writeFile(join(root, "pg", "r1", "with space"), "x");

    const keys = async (prefix?: string) => (await store.list(prefix)).map((object) => object.key);
    expect(await keys()).toEqual(["pg/r1/a", "pg/r1/b", "pg/r10/a", "pg/r2/a", "redis/r1/a"]);
    expect(await keys("pg/r1/")).toEqual(["pg/r1/a", "pg/r1/b"]);
    expect(await keys("pg/r1")).toEqual(["pg/r1/a", "pg/r1/b", "pg/r10/a"]);
    expect(await keys("pg/r1/b")).toEqual(["pg/r1/b"]);
    expect(await keys("pg/")).toEqual(["pg/r1/a", "pg/r1/b", "pg/r10/a", "pg/r2/a"]);
    expect(await keys("p")).toEqual(["pg/r1/a", "pg/r1/b", "pg/r10/a", "pg/r2/a"]);
    expect(await keys("mysql/")).toEqual([]);
    const [first] = await store.list("pg/r1/a");
    expect(first).toEqual({ key: "pg/r1/a", size: (await stat(join(root, "pg", "r1", "a"))).size, lastModified: expect.any(Date) });
    expect(await store.stat("pg/r1/a")).toEqual(first);
    expect(await store.stat("pg/r1")).toBeUndefined(); // a directory, not an object
    expect(await store.stat("pg/r1/a/below")).toBeUndefined(); // below an object
    await expect(store.open("pg/r1/a/below")).rejects.toBeInstanceOf(BackupNotFoundError);
    await store.delete("pg/r1/a/below");
    expect(await store.exists("pg/r1/a")).toBe(true);

    await store.delete("pg/r1/a");
    await store.delete("pg/r1/a");
    expect(await store.exists("pg/r1/a")).toBe(false);
    expect(await keys("pg/r1/")).toEqual(["pg/r1/b"]);
    await expect(store.open("pg/r1/a")).rejects.toBeInstanceOf(BackupNotFoundError);
    await expect(store.open("pg/r1")).rejects.toBeInstanceOf(BackupNotFoundError);
    await expect(store.verify("pg/r1/a", "0".repeat(64))).rejects.toBeInstanceOf(BackupNotFoundError);
  });

  it("refuses invalid keys on every operation, and writes nothing outside its directory", async () => {
    const bad = ["", "/etc/passwd", "../escape", "a/../../escape", "a/./b", "..", ".", "a//b", "a/", "/a", ".hidden", "a/.b", "a b", "a\\b", "a\0b", "é", "a:b", "a".repeat(201), `a/${"b/".repeat(600)}c`];
    const before = await readdir(parent);
    for (const name of bad) {
      const refusals = [
        store.write(name, Readable.from([Buffer.from("x")])),
        store.open(name),
        store.verify(name, "0".repeat(64)),
        store.stat(name),
        store.exists(name),
        store.delete(name),
      ];
      for (const refusal of refusals) await expect(refusal, JSON.stringify(name)).rejects.toBeInstanceOf(InvalidObjectKeyError);
    }
    for (const prefix of ["../", "/", "a//", ".x", "a/../", "a b"]) await expect(store.list(prefix)).rejects.toBeInstanceOf(InvalidObjectKeyError);
    expect(await readdir(parent)).toEqual(before);
    expect(await allFiles(root)).toEqual([]);
    // What is allowed: letters, digits, ".", "_", "-", segments starting with a letter or digit.
    await store.write("Postgres_15/res-1.2/2026-12-02T03.00.00Z.dump", Readable.from([Buffer.from("ok")]));
    expect(await store.exists("Postgres_15/res-1.2/2026-12-02T03.00.00Z.dump")).toBe(true);
  });
});

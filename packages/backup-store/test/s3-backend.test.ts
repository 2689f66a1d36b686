import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { S3ServiceException } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackupNotFoundError, createBackupStore, type BackupStore, type BackupStoreConfig } from "../src/index.js";
import { digestOf, MiB, MixedContent } from "./support/content.js";
import { startS3TestServer, type S3TestServer } from "./support/s3-server.js";

// The S3 backend against a real S3-speaking server on loopback (s3rver), every request's SigV4
// signature and payload hash checked on the way by an independent oracle (test/support/sigv4.ts).
describe("the S3 backend", () => {
  let server: S3TestServer;
  let store: BackupStore;
  const encryptionKey = randomBytes(32);
  const configFor = (overrides: Partial<Extract<BackupStoreConfig["backend"], { kind: "s3" }>> = {}): BackupStoreConfig => ({
    backend: {
      kind: "s3",
      endpoint: server.endpoint,
      region: server.region,
      bucket: server.bucket,
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
      forcePathStyle: true,
      keyPrefix: "berth/",
      partSizeBytes: 5 * MiB,
      ...overrides,
    },
    encryptionKey,
  });
  const requestsSince = (mark: number) => server.requests.slice(mark);

  beforeAll(async () => {
    server = await startS3TestServer();
    store = createBackupStore(configFor());
  });
  afterAll(async () => {
    store?.close();
    await server?.close();
  });

  it("round-trips a stream larger than one multipart part, every request correctly signed", async () => {
    const mark = server.requests.length;
    // Half random: the sealed object is about 10 MiB, three 5 MiB parts.
    const content = new MixedContent(20 * MiB);
    const written = await store.write("postgresql/res-1/backup-1", content);
    expect(written).toMatchObject({ key: "postgresql/res-1/backup-1", contentSize: 20 * MiB });
    expect(written.size).toBeGreaterThan(10 * MiB);

    const requests = requestsSince(mark);
    expect(requests.every((request) => request.check.ok)).toBe(true);
    const parts = requests.filter((request) => request.method === "PUT" && /[?&]partNumber=\d+/.test(request.url));
    expect(parts.length).toBe(Math.ceil(written.size / (5 * MiB)));
    expect(requests.some((request) => request.method === "POST" && /[?&]uploads(=|&|$)/.test(request.url))).toBe(true);
    expect(requests.some((request) => request.method === "POST" && /[?&]uploadId=/.test(request.url))).toBe(true);
    // The bucket holds the object under the key prefix.
    expect(requests.every((request) => request.url.startsWith(`/${server.bucket}`))).toBe(true);
    expect(parts[0]!.url).toContain(`/${server.bucket}/berth/postgresql/res-1/backup-1?`);

    expect(await store.stat("postgresql/res-1/backup-1")).toMatchObject({ size: written.size });
    await store.verify("postgresql/res-1/backup-1", written.sha256);
    expect(await digestOf(await store.open("postgresql/res-1/backup-1"))).toEqual({ size: 20 * MiB, sha256: content.sha256 });
    expect(server.requests.every((request) => request.check.ok)).toBe(true);
  });

  it("stores a small object with one PUT", async () => {
    const mark = server.requests.length;
    const written = await store.write("redis/res-2/backup-1", Readable.from([Buffer.from("a small dump")]));
    const requests = requestsSince(mark);
    expect(requests.map((request) => request.method)).toEqual(["PUT"]);
    expect(requests[0]!.check.ok).toBe(true);
    expect(written.contentSize).toBe(12);
    const back = await digestOf(await store.open("redis/res-2/backup-1"));
    expect(back.size).toBe(12);
  });

  it("lists by prefix, stats, deletes", async () => {
    await store.write("listing/a/one", Readable.from([Buffer.from("1")]));
    await store.write("listing/a/two", Readable.from([Buffer.from("2")]));
    await store.write("listing/b/three", Readable.from([Buffer.from("3")]));
    expect((await store.list("listing/a/")).map((object) => object.key)).toEqual(["listing/a/one", "listing/a/two"]);
    expect((await store.list("listing/")).map((object) => object.key)).toEqual(["listing/a/one", "listing/a/two", "listing/b/three"]);
    expect(await store.exists("listing/a/one")).toBe(true);
    await store.delete("listing/a/one");
    await store.delete("listing/a/one");
    expect(await store.exists("listing/a/one")).toBe(false);
    expect(await store.stat("listing/a/one")).toBeUndefined();
    await expect(store.open("listing/a/one")).rejects.toBeInstanceOf(BackupNotFoundError);
    await expect(store.verify("listing/a/one", "0".repeat(64))).rejects.toBeInstanceOf(BackupNotFoundError);
  });

  it("aborts the multipart upload when the source fails, leaving no object, and reports the source's failure", async () => {
    const mark = server.requests.length;
    const failure = new Error("pg_dump exited with 1");
    // Fails after 16 MiB of content, over 5 MiB sealed: parts were uploaded by then.
    await expect(store.write("postgresql/res-3/broken", new MixedContent(40 * MiB, { failAfter: 16 * MiB, failure }))).rejects.toBe(failure);
    const requests = requestsSince(mark);
    expect(requests.some((request) => request.method === "PUT" && /[?&]partNumber=1(&|$)/.test(request.url))).toBe(true);
    const created = requests.find((request) => request.method === "POST" && /[?&]uploads(=|&|$)/.test(request.url));
    expect(created).toBeDefined();
    const uploadId = new URL(requests.find((request) => /[?&]uploadId=/.test(request.url))!.url, "http://x").searchParams.get("uploadId");
    const abort = requests.find((request) => request.method === "DELETE" && request.url.includes(`uploadId=${uploadId}`));
    expect(abort?.check.ok).toBe(true);
    expect(requests.some((request) => request.method === "POST" && /[?&]uploadId=/.test(request.url))).toBe(false);
    expect(await store.exists("postgresql/res-3/broken")).toBe(false);
  });

  it("signs with the configured secret: another secret gives another signature, which the server refuses", async () => {
    const wrong = createBackupStore(configFor({ secretAccessKey: `${server.secretAccessKey}-wrong` }));
    try {
      const mark = server.requests.length;
      const refused = await wrong.write("postgresql/res-4/backup-1", Readable.from([Buffer.from("data")])).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(S3ServiceException);
      expect((refused as S3ServiceException).name).toBe("SignatureDoesNotMatch");
      const [request] = requestsSince(mark);
      expect(request?.check).toMatchObject({ ok: false, reason: "signature mismatch" });
      if (request?.check.ok === false) expect(request.check.received).not.toBe(request.check.expected);
      expect(await store.exists("postgresql/res-4/backup-1")).toBe(false);
      await expect(wrong.list("")).rejects.toBeInstanceOf(S3ServiceException);
    } finally {
      wrong.close();
    }
  });
});

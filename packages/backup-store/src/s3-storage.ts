import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Readable } from "node:stream";
import { BackupNotFoundError } from "./errors.js";
import { isObjectKey } from "./object-key.js";
import type { ObjectStorage, StoredObjectInfo } from "./object-storage.js";

export interface S3StorageOptions {
  /** Omitted for AWS itself; e.g. `https://s3.fr-par.scw.cloud` or `http://127.0.0.1:9000` otherwise. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most self-hosted stores want it). */
  forcePathStyle: boolean;
  /** Put before every key in the bucket (e.g. `berth/`), so a bucket can be shared. */
  keyPrefix: string;
  /** Bytes per multipart part (at least 5 MiB, S3's minimum): also the largest object is 10,000 parts. */
  partSize: number;
  /** Parts in flight at once; memory held is about `partSize × partConcurrency`. */
  partConcurrency: number;
}

/**
 * Objects in a bucket of any S3-compatible store. A write is a multipart upload of the stream,
 * part by part (a single PUT when it fits in one part); if anything fails, the multipart upload
 * is aborted, so its parts do not linger (and bill) and no object appears.
 */
export class S3Storage implements ObjectStorage {
  readonly #client: S3Client;
  readonly #options: S3StorageOptions;

  constructor(options: S3StorageOptions) {
    this.#options = options;
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // Integrity is the sealing layer's (authenticated records, the SHA-256 of the object);
      // the SDK's default CRC trailers (aws-chunked uploads) are not understood by many S3-compatible stores.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // A store that stops answering fails the request rather than holding a backup forever;
      // an idle-socket limit, not a whole-request one, so a long download that moves is not cut.
      requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000 },
    });
  }

  async write(key: string, body: Readable): Promise<void> {
    // The length is unknown until the stream ends: Upload must not guess it from the body
    // (it reads `length`, `size` or `path` properties when present), so it cuts parts as they come.
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#options.bucket, Key: this.#objectName(key), Body: body },
      partSize: this.#options.partSize,
      queueSize: this.#options.partConcurrency,
      // Aborted here rather than by Upload, so the failure reported is the one that happened,
      // not the abort's own (and the abort is awaited).
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      if (upload.uploadId) {
        const abort = new AbortMultipartUploadCommand({ Bucket: this.#options.bucket, Key: this.#objectName(key), UploadId: upload.uploadId });
        await this.#client.send(abort).catch((abortError: unknown) => {
          if (error instanceof Error && error.cause === undefined) error.cause = abortError;
        });
      }
      throw error;
    }
  }

  async read(key: string): Promise<Readable> {
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: this.#objectName(key) }));
      // In Node the SDK's body is the HTTP response itself, a Readable.
      return answer.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new BackupNotFoundError(key, { cause: error });
      throw error;
    }
  }

  async stat(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const answer = await this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#objectName(key) }));
      return { key, size: answer.ContentLength ?? 0, lastModified: answer.LastModified ?? new Date(0) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#options.bucket, Key: this.#objectName(key) }));
  }

  async list(prefix: string): Promise<StoredObjectInfo[]> {
    const found: StoredObjectInfo[] = [];
    const pages = paginateListObjectsV2({ client: this.#client }, { Bucket: this.#options.bucket, Prefix: this.#objectName(prefix) });
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.#options.keyPrefix.length);
        // Objects other tools put in the bucket under other names are not ours to list.
        if (key === undefined || !isObjectKey(key)) continue;
        found.push({ key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) });
      }
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  close(): void {
    this.#client.destroy();
  }

  #objectName(key: string): string {
    return this.#options.keyPrefix + key;
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === "NoSuchKey" || error.name === "NotFound");
}

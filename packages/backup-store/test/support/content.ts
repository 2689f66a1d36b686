import { createCipheriv, createHash, randomBytes, type Cipher } from "node:crypto";
import { Readable } from "node:stream";

const BLOCK = 256 * 1024;
const MiB = 1024 * 1024;
export { MiB };

/**
 * A stream of `total` bytes, blocks of random bytes (incompressible) alternating with blocks of
 * table-like text (compressible), generated as read: never held whole. Its SHA-256 is known
 * once it has ended. With `failAfter`, it fails with `failure` after that many bytes instead.
 * The random bytes are an AES-CTR key stream (fresh, and fast enough not to be what a bench
 * measures); the text comes from one 8 MiB pool, longer than brotli's 4 MiB window, so its
 * repeats are not found.
 */
export class MixedContent extends Readable {
  readonly #total: number;
  readonly #failAfter: number | undefined;
  readonly #failure: Error;
  readonly #hash = createHash("sha256");
  readonly #keyStream: Cipher = createCipheriv("aes-128-ctr", randomBytes(16), randomBytes(16));
  #sent = 0;
  #block = 0;
  #sha256: string | undefined;

  readonly #only: "random" | "text" | undefined;

  /** `only`: every block random, or every block text, rather than both in turn. */
  constructor(total: number, options: { failAfter?: number; failure?: Error; only?: "random" | "text" } = {}) {
    super();
    this.#total = total;
    this.#only = options.only;
    this.#failAfter = options.failAfter;
    this.#failure = options.failure ?? new Error("the source failed");
  }

  get sha256(): string {
    if (!this.#sha256) throw new Error("MixedContent: not ended yet");
    return this.#sha256;
  }

  override _read(): void {
    if (this.#failAfter !== undefined && this.#sent >= this.#failAfter) {
      this.destroy(this.#failure);
      return;
    }
    if (this.#sent >= this.#total) {
      this.#sha256 = this.#hash.digest("hex");
      this.push(null);
      return;
    }
    const size = Math.min(BLOCK, this.#total - this.#sent);
    const random = this.#only ? this.#only === "random" : this.#block % 2 === 0;
    this.#block++;
    const block = random ? this.#keyStream.update(Buffer.alloc(size)) : textBlock(size, this.#block);
    this.#hash.update(block);
    this.#sent += size;
    this.push(block);
  }
}

const TEXT_POOL_SIZE = 8 * MiB;
let textPool: Buffer | undefined;

function textBlock(size: number, blockNumber: number): Buffer {
  textPool ??= tableText(TEXT_POOL_SIZE, 1);
  const start = (blockNumber * BLOCK) % (TEXT_POOL_SIZE - BLOCK);
  return Buffer.from(textPool.subarray(start, start + size));
}

function tableText(size: number, seed: number): Buffer {
  const text = Buffer.allocUnsafe(size + 256);
  let length = 0;
  for (let row = 0; length < size; row++) {
    const line = `${seed * 10_000 + row}\tcustomer-${(row * 7919 + seed) % 100_003}\t2026-${String((row % 12) + 1).padStart(2, "0")}-${String((row % 28) + 1).padStart(2, "0")}\t${((row * 31) % 100_000) / 100}\t${["ok", "pending", "failed"][row % 3]}\n`;
    length += text.write(line, length, "latin1");
  }
  return text.subarray(0, size);
}

/** Reads a stream to its end: its size and SHA-256. */
export async function digestOf(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: hash.digest("hex") };
}

/** Reads a stream until it ends or fails: the bytes it gave, and its error if it failed. */
export async function drain(stream: Readable): Promise<{ bytes: number; error: unknown }> {
  let bytes = 0;
  try {
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    return { bytes, error: undefined };
  } catch (error) {
    return { bytes, error };
  }
}

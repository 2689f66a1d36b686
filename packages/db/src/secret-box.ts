import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const ALGORITHM = "aes-256-gcm";
const FORMAT_VERSION = "v1";

/**
 * Encrypts secrets at rest with AES-256-GCM. The envelope names the key that
 * sealed it, so keys can be rotated: new secrets use the current key, old
 * envelopes still open with any key listed in `previousKeys`.
 */
export class SecretBox {
  readonly #current: { id: string; key: Buffer };
  readonly #byId: ReadonlyMap<string, Buffer>;

  constructor(currentKey: Buffer, previousKeys: readonly Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error("SecretBox: encryption keys must be 32 bytes");
    }
    this.#current = { id: keyId(currentKey), key: currentKey };
    this.#byId = new Map([currentKey, ...previousKeys].map((key) => [keyId(key), key]));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, this.#current.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [FORMAT_VERSION, this.#current.id, iv, cipher.getAuthTag(), ciphertext]
      .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
      .join(".");
  }

  open(envelope: string): string {
    const [version, id, iv, tag, ciphertext] = envelope.split(".");
    if (version !== FORMAT_VERSION || !id || !iv || !tag || ciphertext === undefined) {
      throw new Error("SecretBox: not a sealed secret");
    }
    const key = this.#byId.get(id);
    if (!key) throw new Error(`SecretBox: secret sealed with unknown key ${id}; add it to the previous keys`);
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(envelope: string): T {
    return JSON.parse(this.open(envelope)) as T;
  }
}

/** A short public fingerprint of a key, safe to store beside the ciphertext. */
function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 8);
}

import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/**
 * Signed capabilities on one backup, as S3's presigned URLs are: the token names the backup, what
 * it allows and until when, signed (HMAC-SHA256) with a key derived from the deployment's
 * encryption key for that purpose. Whoever holds one may do that one thing until it expires,
 * without other credentials: it is handed only to the addon's owner, over the provider API.
 */
export class BackupTokens {
  readonly #key: Buffer;

  constructor(
    encryptionKey: Buffer,
    purpose: string,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {
    this.#key = Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), `berth backup ${purpose}`, 32));
  }

  create(backupId: string): { token: string; expiresAt: Date } {
    const expiresAt = new Date(this.now() + this.ttlMs);
    const payload = Buffer.from(JSON.stringify({ b: backupId, e: expiresAt.getTime() })).toString("base64url");
    return { token: `${payload}.${this.#sign(payload)}`, expiresAt };
  }

  /** The backup a token names, or why it does not open: `invalid` (forged, damaged, another purpose's) or `expired`. */
  open(token: string): { backupId: string } | { refused: "invalid" | "expired" } {
    const [payload, signature, ...rest] = token.split(".");
    if (!payload || !signature || rest.length > 0) return { refused: "invalid" };
    const expected = Buffer.from(this.#sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: "invalid" };
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { b: string; e: number };
    if (this.now() > claims.e) return { refused: "expired" };
    return { backupId: claims.b };
  }

  #sign(payload: string): string {
    return createHmac("sha256", this.#key).update(payload).digest("base64url");
  }
}

/**
 * Fork tokens, valid an hour: given as the provision option `fork_token`, they make the new
 * database a copy of the backup (of another app's database, or a deleted one's final backup).
 */
export class ForkTokens extends BackupTokens {
  constructor(encryptionKey: Buffer, now: () => number = Date.now) {
    super(encryptionKey, "forks", 3600_000, now);
  }
}

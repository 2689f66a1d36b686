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
    return this.signClaims({ b: backupId });
  }

  /** The backup a token names, or why it does not open: `invalid` (forged, damaged, another purpose's) or `expired`. */
  open(token: string): { backupId: string } | { refused: "invalid" | "expired" } {
    const opened = this.openClaims(token);
    if ("refused" in opened) return opened;
    return typeof opened.claims.b === "string" ? { backupId: opened.claims.b } : { refused: "invalid" };
  }

  protected signClaims(claims: Record<string, string | number>): { token: string; expiresAt: Date } {
    const expiresAt = new Date(this.now() + this.ttlMs);
    const payload = Buffer.from(JSON.stringify({ ...claims, e: expiresAt.getTime() })).toString("base64url");
    return { token: `${payload}.${this.#sign(payload)}`, expiresAt };
  }

  protected openClaims(token: string): { claims: Record<string, unknown> } | { refused: "invalid" | "expired" } {
    const [payload, signature, ...rest] = token.split(".");
    if (!payload || !signature || rest.length > 0) return { refused: "invalid" };
    const expected = Buffer.from(this.#sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { refused: "invalid" };
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
    if (typeof claims.e !== "number" || this.now() > claims.e) return { refused: "expired" };
    return { claims };
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

  /** A token for a new database as `resourceId` was at `at` (point-in-time recovery, PostgreSQL). */
  createForMoment(resourceId: string, at: Date): { token: string; expiresAt: Date } {
    return this.signClaims({ r: resourceId, t: at.getTime() });
  }

  /** What a fork token makes the new database from: a backup, or a database at a moment. */
  openSeed(token: string): { backupId: string } | { resourceId: string; at: Date } | { refused: "invalid" | "expired" } {
    const opened = this.openClaims(token);
    if ("refused" in opened) return opened;
    const { claims } = opened;
    if (typeof claims.b === "string") return { backupId: claims.b };
    if (typeof claims.r === "string" && typeof claims.t === "number") return { resourceId: claims.r, at: new Date(claims.t) };
    return { refused: "invalid" };
  }
}

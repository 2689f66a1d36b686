import { createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

/** How long a download link works. */
const DOWNLOAD_LINK_TTL_MS = 10 * 60_000;

/**
 * Signed download links of backups: `<publicUrl>/backups/download?token=<token>`, the token naming the
 * backup and its expiry, signed (HMAC-SHA256) with a key derived from the deployment's encryption
 * key. Whoever holds the link downloads that one backup until it expires, without other credentials
 * (as S3's presigned URLs): it is handed only to the addon's owner, over the provider API.
 */
export class BackupLinks {
  readonly #key: Buffer;

  constructor(
    encryptionKey: Buffer,
    private readonly publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    this.#key = Buffer.from(hkdfSync("sha256", encryptionKey, Buffer.alloc(0), "berth backup download links", 32));
  }

  create(backupId: string): { url: string; expiresAt: Date } {
    const expiresAt = new Date(this.now() + DOWNLOAD_LINK_TTL_MS);
    const payload = Buffer.from(JSON.stringify({ b: backupId, e: expiresAt.getTime() })).toString("base64url");
    const token = `${payload}.${this.#sign(payload)}`;
    return { url: `${this.publicUrl.replace(/\/$/, "")}/backups/download?token=${token}`, expiresAt };
  }

  /** The backup a token names, or why it does not open: `invalid` (forged, damaged) or `expired`. */
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

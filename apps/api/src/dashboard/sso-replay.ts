import { createHash } from "node:crypto";
import type { PrismaClient } from "@berth/db";

/**
 * Claims an SSO token for one session: true the first time, false on every later use (a replay).
 * One `INSERT … ON CONFLICT DO NOTHING` decides, so of two concurrent uses exactly one wins.
 * Only the token's SHA-256 is stored, until `expiresAt` (the end of its validity window, after
 * which the signature check refuses it anyway); rows past theirs are pruned on each claim.
 */
export async function claimSsoToken(db: PrismaClient, token: string, expiresAt: Date): Promise<boolean> {
  // The signature check ignores case: so does the claim, or an upper-cased copy would be a new token.
  const tokenHash = createHash("sha256").update(token.toLowerCase()).digest("hex");
  const { count } = await db.usedSsoToken.createMany({ data: [{ tokenHash, expiresAt }], skipDuplicates: true });
  if (count === 0) return false;
  await db.usedSsoToken.deleteMany({ where: { expiresAt: { lte: new Date() } } });
  return true;
}

/**
 * The first moment the token is refused as stale: `verifySsoToken` accepts a timestamp up to
 * `maxAgeSeconds` old in whole seconds, i.e. until the end of second `timestamp + maxAgeSeconds`.
 */
export function ssoTokenExpiry(timestamp: string, maxAgeSeconds: number): Date {
  return new Date((Number(timestamp) + maxAgeSeconds + 1) * 1000);
}

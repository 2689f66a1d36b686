/**
 * Single sign-on tokens (spec §2.7): `token = sha1_hex("<id>:<sso_salt>:<timestamp>")`,
 * the formula Scalingo took from Heroku's v1 add-on API.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export function ssoToken(resourceId: string, ssoSalt: string, timestamp: number | string): string {
  return createHash("sha1").update(`${resourceId}:${ssoSalt}:${timestamp}`).digest("hex");
}

export interface SsoWindow {
  /** How old a timestamp may be. */
  maxAgeSeconds: number;
  /** How far in the future a timestamp may be (clock skew between platform and provider). */
  futureSkewSeconds: number;
}

export type SsoVerdict = "valid" | "bad_token" | "stale";

/** Checks a token in constant time, then its timestamp against the window. */
export function verifySsoToken(
  request: { resourceId: string; timestamp: string; token: string },
  ssoSalt: string,
  window: SsoWindow,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SsoVerdict {
  if (!/^\d{1,12}$/.test(request.timestamp)) return "bad_token";
  const expected = Buffer.from(ssoToken(request.resourceId, ssoSalt, request.timestamp), "utf8");
  const given = Buffer.from(request.token.toLowerCase(), "utf8");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return "bad_token";
  const age = nowSeconds - Number(request.timestamp);
  if (age > window.maxAgeSeconds || -age > window.futureSkewSeconds) return "stale";
  return "valid";
}

import { randomInt } from "node:crypto";

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomString(alphabet: string, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** A password from the CSPRNG: 32 alphanumerics ≈ 190 bits, safe in URLs without escaping. */
export function generatePassword(length = 32): string {
  return randomString(ALPHANUMERIC, length);
}

/** A random SQL-safe identifier (lowercase, starts with a letter), e.g. a user or database name. */
export function generateIdentifier(prefix: string, length = 12): string {
  return `${prefix}${randomString(LOWER_ALPHANUMERIC, length)}`;
}

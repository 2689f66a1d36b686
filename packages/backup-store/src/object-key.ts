import { InvalidObjectKeyError } from "./errors.js";

/**
 * Object keys are `/`-separated names, the same on every backend: each segment starts with a
 * letter or digit and holds only letters, digits, `.`, `_` and `-`. So a key never climbs out of
 * the store's directory (`..`, absolute paths), never names a hidden file (where the directory
 * backend keeps its temporary files), and means the same on a file system and in S3.
 */
const SEGMENT = "[A-Za-z0-9][A-Za-z0-9._-]*";
const KEY = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`);
/** A list prefix: whole segments, each followed by `/`, then possibly the start of one more. */
const PREFIX = new RegExp(`^(?:${SEGMENT}/)*(?:${SEGMENT})?$`);

/** S3's limit on a key's length, in bytes (the keys here are ASCII, so characters). */
export const MAX_KEY_LENGTH = 1024;
/** Most file systems' limit on one name; temporary files add a few characters to it. */
const MAX_SEGMENT_LENGTH = 200;

export function validateObjectKey(key: string): string {
  if (typeof key !== "string" || !KEY.test(key)) {
    throw new InvalidObjectKeyError(
      `invalid object key ${JSON.stringify(key)}: use /-separated segments of letters, digits, ".", "_" and "-", each starting with a letter or digit`,
    );
  }
  checkLengths(key);
  return key;
}

export function validatePrefix(prefix: string): string {
  if (typeof prefix !== "string" || !PREFIX.test(prefix)) {
    throw new InvalidObjectKeyError(
      `invalid key prefix ${JSON.stringify(prefix)}: use whole segments followed by "/", then possibly the start of one more segment`,
    );
  }
  checkLengths(prefix);
  return prefix;
}

function checkLengths(value: string): void {
  if (value.length > MAX_KEY_LENGTH) throw new InvalidObjectKeyError(`object key longer than ${MAX_KEY_LENGTH} characters`);
  if (value.split("/").some((segment) => segment.length > MAX_SEGMENT_LENGTH)) {
    throw new InvalidObjectKeyError(`object key segment longer than ${MAX_SEGMENT_LENGTH} characters`);
  }
}

/** True when `key` would be a valid key: listings skip whatever else lies in the store. */
export function isObjectKey(key: string): boolean {
  return KEY.test(key) && key.length <= MAX_KEY_LENGTH && key.split("/").every((segment) => segment.length <= MAX_SEGMENT_LENGTH);
}

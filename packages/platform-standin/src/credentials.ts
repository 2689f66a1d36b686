import { createHash, timingSafeEqual } from "node:crypto";
import type { StandInAddon } from "./types.js";

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Finds the addon whose manifest credentials these are. Comparing digests
 * keeps lengths equal for timingSafeEqual, and every addon is compared, so the
 * time taken says nothing about which part matched.
 */
export function createCredentialCheck(addons: readonly StandInAddon[]): (username: string, password: string) => StandInAddon | undefined {
  const expected = addons.map((addon) => ({ addon, username: digest(addon.username), password: digest(addon.password) }));
  return (username, password) => {
    const given = { username: digest(username), password: digest(password) };
    let found: StandInAddon | undefined;
    for (const entry of expected) {
      const usernameMatches = timingSafeEqual(entry.username, given.username);
      const passwordMatches = timingSafeEqual(entry.password, given.password);
      if (usernameMatches && passwordMatches && found === undefined) found = entry.addon;
    }
    return found;
  };
}

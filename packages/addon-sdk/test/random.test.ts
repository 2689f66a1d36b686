import { describe, expect, it } from "vitest";
import { generateIdentifier, generatePassword } from "../src/random.js";

describe("generated secrets", () => {
  it("are 32 alphanumerics, all different, drawn from the whole alphabet", () => {
    const passwords = Array.from({ length: 10_000 }, () => generatePassword());
    expect(new Set(passwords).size).toBe(passwords.length);
    for (const password of passwords) expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    // ~190 bits each: every symbol of the 62 shows up, none dominates.
    const counts = new Map<string, number>();
    for (const char of passwords.join("")) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    const expected = (32 * passwords.length) / 62;
    for (const count of counts.values()) expect(Math.abs(count - expected) / expected).toBeLessThan(0.1);
  });

  it("identifiers are SQL-safe and unique", () => {
    const ids = Array.from({ length: 10_000 }, () => generateIdentifier("u_"));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^u_[a-z0-9]{12}$/);
  });
});

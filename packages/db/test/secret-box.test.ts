import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretBox } from "../src/secret-box.js";

describe("SecretBox", () => {
  const key = randomBytes(32);

  it("opens what it sealed, and never stores the plaintext", () => {
    const box = new SecretBox(key);
    const sealed = box.sealJson({ password: "hunter2-but-longer" });
    expect(sealed).not.toContain("hunter2");
    expect(box.openJson(sealed)).toEqual({ password: "hunter2-but-longer" });
  });

  it("seals the same secret differently each time (random IV)", () => {
    const box = new SecretBox(key);
    expect(box.seal("same")).not.toBe(box.seal("same"));
  });

  it("refuses a tampered envelope", () => {
    const box = new SecretBox(key);
    const parts = box.seal("secret value").split(".");
    const ciphertext = Buffer.from(parts[4]!, "base64url");
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[4] = ciphertext.toString("base64url");
    expect(() => box.open(parts.join("."))).toThrow();
  });

  it("opens secrets sealed with a previous key after rotation, and seals with the new one", () => {
    const sealedWithOld = new SecretBox(key).seal("old secret");
    const rotated = new SecretBox(randomBytes(32), [key]);
    expect(rotated.open(sealedWithOld)).toBe("old secret");
    expect(() => new SecretBox(key).open(rotated.seal("new secret"))).toThrow(/unknown key/);
  });

  it("refuses keys that are not 32 bytes", () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ssoToken, verifySsoToken } from "../src/sso.js";

const window = { maxAgeSeconds: 300, futureSkewSeconds: 60 };
const now = 1_800_000_000;

describe("SSO tokens", () => {
  it("is sha1 of id:salt:timestamp in lowercase hex (spec §2.7)", () => {
    expect(ssoToken("db-1", "salt", 1600073910)).toBe(createHash("sha1").update("db-1:salt:1600073910").digest("hex"));
  });

  it("accepts a fresh token, also in upper case, and a small future skew", () => {
    const token = ssoToken("db-1", "salt", now - 10);
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now - 10), token }, "salt", window, now)).toBe("valid");
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now - 10), token: token.toUpperCase() }, "salt", window, now)).toBe("valid");
    const future = ssoToken("db-1", "salt", now + 30);
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now + 30), token: future }, "salt", window, now)).toBe("valid");
  });

  it("refuses a token for another id, salt or timestamp", () => {
    const token = ssoToken("db-1", "salt", now);
    expect(verifySsoToken({ resourceId: "db-2", timestamp: String(now), token }, "salt", window, now)).toBe("bad_token");
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now), token }, "other", window, now)).toBe("bad_token");
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now + 1), token }, "salt", window, now)).toBe("bad_token");
    expect(verifySsoToken({ resourceId: "db-1", timestamp: "abc", token }, "salt", window, now)).toBe("bad_token");
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(now), token: token.slice(1) }, "salt", window, now)).toBe("bad_token");
  });

  it("refuses a valid token outside the window", () => {
    const old = now - 301;
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(old), token: ssoToken("db-1", "salt", old) }, "salt", window, now)).toBe("stale");
    const ahead = now + 61;
    expect(verifySsoToken({ resourceId: "db-1", timestamp: String(ahead), token: ssoToken("db-1", "salt", ahead) }, "salt", window, now)).toBe("stale");
  });
});

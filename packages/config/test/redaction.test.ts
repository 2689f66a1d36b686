import { describe, expect, it } from "vitest";
import { MIN_SECRET_LENGTH, REDACTED, isSecretName, redact, redactUrl, redactValue } from "../src/index.js";

describe("redact", () => {
  it("replaces every occurrence of each known secret, as is and percent-encoded", () => {
    const password = "s3cr3tPassw0rdXYZs3cr3tPassw0rd";
    expect(redact(`connect postgres://u:${password}@h/db failed (${password})`, { secrets: [password] })).toBe(
      "connect postgres://u:[redacted]@h/db failed ([redacted])",
    );
    const awkward = "p@ss/w0rd with space";
    expect(redact(`echoed ${encodeURIComponent(awkward)} and ${awkward}`, { secrets: [awkward] })).toBe("echoed [redacted] and [redacted]");
  });

  it("replaces a secret containing another whole, and ignores empty, missing and short values", () => {
    expect(redact("key abcdefgh-and-more, then abcdefgh", { secrets: ["abcdefgh", "abcdefgh-and-more"] })).toBe("key [redacted], then [redacted]");
    const short = "x".repeat(MIN_SECRET_LENGTH - 1);
    expect(redact(`port 5432, user app, ${short}`, { secrets: ["", undefined, null, "5432", "app", short] })).toBe(`port 5432, user app, ${short}`);
  });

  it("hides the password of a URL's userinfo, keeping the user, host and the rest", () => {
    expect(redact("postgres://user:s3cr3t@127.0.0.1:5432/db?sslmode=disable")).toBe("postgres://user:[redacted]@127.0.0.1:5432/db?sslmode=disable");
    expect(redact("could not reach redis://:only-password@127.0.0.1:6379 (ECONNREFUSED)")).toBe(
      "could not reach redis://:[redacted]@127.0.0.1:6379 (ECONNREFUSED)",
    );
    // A raw `@` in a sloppy password: hidden up to the authority's last one, as URL parsers read it.
    expect(redact("mysql://u:p@ss@db:3306/x")).toBe("mysql://u:[redacted]@db:3306/x");
    expect(redact("two: http://a:one@h1/ and HTTPS://b:two@h2")).toBe("two: http://a:[redacted]@h1/ and HTTPS://b:[redacted]@h2");
  });

  it("hides the value of query parameters with a secret name", () => {
    expect(redact("GET /postgresql/sso?id=postgresql-1&timestamp=1700000000&token=abc123 answered 403")).toBe(
      "GET /postgresql/sso?id=postgresql-1&timestamp=1700000000&token=[redacted] answered 403",
    );
    expect(redact('fetch "https://x.example/y?resource_token=abc#top" failed')).toBe('fetch "https://x.example/y?resource_token=[redacted]#top" failed');
    expect(redact("/x?api_key=k1&password=p&Access-Token=t")).toBe("/x?api_key=[redacted]&password=[redacted]&Access-Token=[redacted]");
  });

  it("hides the credentials of Authorization headers, keeping the scheme", () => {
    expect(redact("Authorization: Basic dXNlcjpwYXNzd29yZA==")).toBe("Authorization: Basic [redacted]");
    expect(redact('{"headers":{"authorization":"Bearer eyJhbGciOi.x.y","accept":"*/*"}}')).toBe(
      '{"headers":{"authorization":"Bearer [redacted]","accept":"*/*"}}',
    );
    expect(redact("proxy-authorization=Digest abc")).toBe("proxy-authorization=Digest [redacted]");
  });

  it("leaves ordinary text alone", () => {
    for (const text of [
      "Missing or malformed Basic authorization.",
      "authorization failed: the platform answered 401",
      "the Basic plan has 256 MiB; contact ops@example.com",
      "http://127.0.0.1:4100/v1/provider/addons/res-1/config answered 503",
      "GET /dashboard/postgresql-1?tab=usage&from=2024-01-01",
      "/x?tokens=1&tokenizer=2&token&passport=3&key=4",
      "a time 12:30@noon, a ratio 3:4, user:pass without a scheme",
      "postgres://user@host/db has no password; redis://:@host neither",
      "",
    ]) {
      expect(redact(text)).toBe(text);
    }
  });

  it("changes nothing more when run twice", () => {
    const text = "postgres://u:pw123456789@h/db?token=t Authorization: Bearer abc pw123456789";
    const once = redact(text, { secrets: ["pw123456789"] });
    expect(once).not.toContain("pw123456789");
    expect(redact(once, { secrets: ["pw123456789"] })).toBe(once);
  });
});

describe("redactUrl", () => {
  it("hides the value of each secret query parameter, the rest byte for byte", () => {
    expect(redactUrl("/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=abc123")).toBe(
      "/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=[redacted]",
    );
    expect(redactUrl("/x?resource_token=abc&resource_id=r1")).toBe("/x?resource_token=[redacted]&resource_id=r1");
    expect(redactUrl("/x?token=a&token=b")).toBe("/x?token=[redacted]&token=[redacted]");
    expect(redactUrl("/x?token=")).toBe("/x?token=[redacted]");
    expect(redactUrl('/x?token=a"b c')).toBe("/x?token=[redacted]");
    expect(redactUrl("https://u:pw@h/x?token=a#frag")).toBe("https://u:[redacted]@h/x?token=[redacted]#frag");
  });

  it("matches names as the query parser reads them: percent-decoded, in any case", () => {
    expect(redactUrl("/x?to%6Ben=abc")).toBe("/x?to%6Ben=[redacted]");
    expect(redactUrl("/x?TOKEN=abc")).toBe("/x?TOKEN=[redacted]");
    expect(redactUrl("/x?sso+token=abc")).toBe("/x?sso+token=[redacted]");
    expect(redactUrl("/x?%E0%A4%A=1&token=abc")).toBe("/x?%E0%A4%A=1&token=[redacted]");
  });

  it("leaves other URLs and names alone", () => {
    expect(redactUrl("/dashboard/postgresql-1")).toBe("/dashboard/postgresql-1");
    expect(redactUrl("/x?tokens=1&resource_id=2&token")).toBe("/x?tokens=1&resource_id=2&token");
  });
});

describe("redactValue", () => {
  it("hides passwords inside URLs and keeps the rest", () => {
    expect(redactValue({ config: { SCALINGO_POSTGRESQL_URL: "postgres://user:s3cr3t@127.0.0.1:5432/db?sslmode=disable" } })).toEqual({
      config: { SCALINGO_POSTGRESQL_URL: "postgres://user:[redacted]@127.0.0.1:5432/db?sslmode=disable" },
    });
    expect(redactValue("redis://:only-password@127.0.0.1:6379")).toBe("redis://:[redacted]@127.0.0.1:6379");
    expect(redactValue("http://127.0.0.1:4100/v1")).toBe("http://127.0.0.1:4100/v1");
  });

  it("hides values of secret names, in both config forms, and known secrets anywhere", () => {
    expect(redactValue({ config: { SCALINGO_POSTGRESQL_PASSWORD: "pw", SCALINGO_POSTGRESQL_USER: "u" } })).toEqual({
      config: { SCALINGO_POSTGRESQL_PASSWORD: REDACTED, SCALINGO_POSTGRESQL_USER: "u" },
    });
    expect(redactValue({ config: [{ name: "API_TOKEN", value: "t" }, { name: "HOST", value: "h" }] })).toEqual({
      config: [{ name: "API_TOKEN", value: REDACTED }, { name: "HOST", value: "h" }],
    });
    expect(redactValue({ note: ["echo a-known-secret"] }, { secrets: ["a-known-secret"] })).toEqual({ note: ["echo [redacted]"] });
  });

  it("keeps other values", () => {
    expect(redactValue(undefined)).toBeUndefined();
    expect(redactValue({ n: 1, b: true, x: null, password: 12 })).toEqual({ n: 1, b: true, x: null, password: 12 });
  });
});

describe("isSecretName", () => {
  it("knows secret names by their words, in any case and style", () => {
    for (const name of ["token", "resource_token", "SCALINGO_POSTGRESQL_PASSWORD", "BERTH_ADDON_MY_ENGINE_SSO_SALT", "apiKey", "API_KEY", "accessToken", "client-secret", "db.passwd", "sso salt"]) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ["tokens", "tokenizer", "passport", "bypass", "resource_id", "timestamp", "key", "SCALINGO_POSTGRESQL_URL", "HOST", "username"]) {
      expect(isSecretName(name), name).toBe(false);
    }
  });
});

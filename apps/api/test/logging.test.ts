import { describe, expect, it } from "vitest";
import { redactUrlTokens } from "../src/observability/logging.js";

describe("redactUrlTokens", () => {
  it("replaces the value of token= and resource_token=, keeping the rest of the URL", () => {
    expect(redactUrlTokens("/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=abc123")).toBe(
      "/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=[redacted]",
    );
    expect(redactUrlTokens("/x?resource_token=abc&resource_id=r1")).toBe("/x?resource_token=[redacted]&resource_id=r1");
    expect(redactUrlTokens("/x?token=a&token=b")).toBe("/x?token=[redacted]&token=[redacted]");
    expect(redactUrlTokens("/x?token=")).toBe("/x?token=[redacted]");
  });

  it("matches names as the query parser decodes them, in any case", () => {
    expect(redactUrlTokens("/x?to%6Ben=abc")).toBe("/x?to%6Ben=[redacted]");
    expect(redactUrlTokens("/x?TOKEN=abc")).toBe("/x?TOKEN=[redacted]");
    expect(redactUrlTokens("/x?%E0%A4%A=1&token=abc")).toBe("/x?%E0%A4%A=1&token=[redacted]");
  });

  it("leaves URLs without such a parameter alone", () => {
    expect(redactUrlTokens("/dashboard/postgresql-1")).toBe("/dashboard/postgresql-1");
    expect(redactUrlTokens("/x?tokens=1&my_token=2&token")).toBe("/x?tokens=1&my_token=2&token");
  });
});

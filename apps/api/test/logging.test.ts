import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { apiLoggerOptions } from "../src/observability/logging.js";

// The rule itself (which names, which forms) is @berth/config's `redactUrl`, tested there.
describe("the API's request log", () => {
  it("carries URLs through the shared redaction, and never the Authorization header", async () => {
    const lines: string[] = [];
    const app = Fastify({ logger: apiLoggerOptions({ level: "info", stream: { write: (line) => void lines.push(line) } }) });
    app.get("/postgresql/sso", async () => ({ ok: true }));
    const credentials = Buffer.from("berth-postgresql:a-long-enough-password").toString("base64");
    await app.inject({
      url: "/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=abc123&resource_token=def456",
      headers: { authorization: `Basic ${credentials}` },
    });
    await app.close();

    const incoming = lines.map((line) => JSON.parse(line) as { msg: string; req?: { url: string } }).find((line) => line.msg === "incoming request");
    expect(incoming?.req?.url).toBe("/postgresql/sso?id=postgresql-1&timestamp=1700000000&token=[redacted]&resource_token=[redacted]");
    const log = lines.join("");
    for (const secret of ["abc123", "def456", credentials]) expect(log).not.toContain(secret);
  });
});

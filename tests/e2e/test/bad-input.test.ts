import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../src/index.js";

/**
 * Many bad requests, generated where that helps: each gets a 4xx JSON error
 * with a stable code, none creates anything, and the API keeps answering.
 */
describe("bad input", () => {
  let stack: Stack;
  let base: string;
  let auth: string;
  let tried = 0;
  const CODES = new Set(["invalid_json", "invalid_request", "unknown_plan", "unsupported_media_type", "payload_too_large", "unauthorized", "not_found", "resource_not_found"]);

  beforeAll(async () => {
    stack = await startStack();
    base = `${stack.apiUrl}/postgresql/resources`;
    const { username, password } = stack.credentials("postgresql");
    auth = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  });
  afterAll(async () => {
    console.log(`bad input: ${tried} requests tried`);
    await stack?.close();
  });

  async function send(method: string, url: string, body?: string | Buffer, headers: Record<string, string> = {}) {
    tried++;
    const response = await fetch(url, { method, body, headers: { authorization: auth, "content-type": "application/json", ...headers } });
    const text = await response.text();
    let json: { error?: string; message?: string } | undefined;
    try {
      json = JSON.parse(text) as { error?: string; message?: string };
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  }

  function expectRefusal(response: { status: number; json?: { error?: string; message?: string } }) {
    expect(response.status, JSON.stringify(response.json)).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(CODES).toContain(response.json?.error);
    expect(response.json?.message).toEqual(expect.any(String));
  }

  it("refuses any JSON value that is not a provision request", async () => {
    const before = await stack.db.resource.count();
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        // A value that happens to be a valid request would be accepted: keep those out.
        fc.pre(!(typeof value === "object" && value !== null && "plan" in value && "app_id" in value));
        expectRefusal(await send("POST", base, JSON.stringify(value)));
      }),
      { numRuns: 150 },
    );
    expect(await stack.db.resource.count()).toBe(before);
  });

  it("refuses provision requests with fields of the wrong type or shape", async () => {
    const before = await stack.db.resource.count();
    const badString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object());
    const badId = fc.oneof(
      fc.constant(""),
      fc.constant("../../etc/passwd"),
      fc.constant("app'; DROP TABLE resources;--"),
      fc.constant("<script>alert(1)</script>"),
      fc.constant("ａｐｐ-ünïcödé-🚀"),
      fc.constant("a".repeat(256)),
      fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,254}$/.test(s)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { plan: fc.oneof(badString, fc.constant("postgresql-sandbox")), app_id: fc.oneof(badString, badId), uuid: fc.oneof(badString, badId), options: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer())) },
          { requiredKeys: [] },
        ),
        async (body) => {
          const valid =
            body.plan === "postgresql-sandbox" &&
            typeof body.app_id === "string" &&
            /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,254}$/.test(body.app_id) &&
            body.uuid === undefined &&
            body.options === undefined;
          fc.pre(!valid);
          expectRefusal(await send("POST", base, JSON.stringify(body)));
        },
      ),
      { numRuns: 150 },
    );
    expect(await stack.db.resource.count()).toBe(before);
  });

  it("refuses odd resource ids in paths: unicode, injection, traversal", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom("..", "%2e%2e%2f", "' OR 1=1 --", "postgresql-0000", "%00", "😀")), async (id) => {
        const path = `${base}/${encodeURIComponent(id)}`;
        const put = await send("PUT", path, JSON.stringify({ plan: "postgresql-sandbox" }));
        const del = await send("DELETE", path);
        for (const response of [put, del]) {
          // A path that normalises away the id reaches another route: 404 too.
          expectRefusal(response);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("refuses options nested too deep or too large (400), whatever the depth, and the API keeps answering", async () => {
    const before = await stack.db.resource.count();
    const nested = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + "}".repeat(depth);
    // Depth 5,000 (about 30 KB: JSON.stringify overflowed the stack on it, a 500), and up to what the body limit lets in.
    const depth = fc.oneof(fc.integer({ min: 33, max: 200 }), fc.constantFrom(5_000, 10_000));
    await fc.assert(
      fc.asyncProperty(depth, fc.constantFrom("1", '"x"', "[]", "null"), fc.boolean(), async (levels, leaf, arrays) => {
        const options = arrays ? `{"a":${"[".repeat(levels - 1)}${leaf}${"]".repeat(levels - 1)}}` : nested(levels, leaf);
        const post = await send("POST", base, `{"plan":"postgresql-sandbox","app_id":"app-deep","options":${options}}`);
        expect([post.status, post.json?.error]).toEqual([400, "invalid_request"]);
        expect(post.json?.message).toContain("options: must be nested at most 32 levels deep");
        const put = await send("PUT", `${base}/postgresql-0000000000000000`, `{"plan":"postgresql-sandbox","options":${options}}`);
        expect([put.status, put.json?.error]).toEqual([400, "invalid_request"]);
      }),
      { numRuns: 30 },
    );
    const large = await send("POST", base, JSON.stringify({ plan: "postgresql-sandbox", app_id: "app-large", options: { blob: "x".repeat(20_000) } }));
    expect([large.status, large.json?.error]).toEqual([400, "invalid_request"]);
    expect(large.json?.message).toContain("options: must be at most 16384 bytes as JSON");
    // Deep nesting elsewhere in a body (unknown fields are accepted, never serialised): no 500 either.
    const deepExtra = await send("PUT", `${base}/postgresql-0000000000000000`, `{"plan":"postgresql-sandbox","extra":${nested(10_000, "1")}}`);
    expect([deepExtra.status, deepExtra.json?.error]).toEqual([404, "resource_not_found"]);
    const deepArray = await send("POST", base, "[".repeat(30_000) + "]".repeat(30_000));
    expect([deepArray.status, deepArray.json?.error]).toEqual([400, "invalid_request"]);
    expect(await stack.db.resource.count()).toBe(before);
    expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200);
  });

  it("refuses malformed JSON, wrong content types, oversized bodies, missing or wrong auth", async () => {
    const before = await stack.db.resource.count();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 80 }), async (text) => {
        let isJson = true;
        try {
          JSON.parse(text);
        } catch {
          isJson = false;
        }
        fc.pre(!isJson);
        const response = await send("POST", base, text);
        expectRefusal(response);
        expect(response.json?.error).toBe("invalid_json");
      }),
      { numRuns: 100 },
    );
    for (const contentType of ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const response = await send("POST", base, "plan=postgresql-sandbox&app_id=x", { "content-type": contentType });
      expectRefusal(response);
      expect(response.json?.error).toBe("unsupported_media_type");
    }
    const huge = await send("POST", base, JSON.stringify({ plan: "postgresql-sandbox", app_id: "app", pad: "x".repeat(200_000) }));
    expect([huge.status, huge.json?.error]).toEqual([413, "payload_too_large"]);
    for (const authorization of ["", "Bearer abc", "Basic", "Basic " + Buffer.from("postgresql").toString("base64"), "Basic " + Buffer.from(":").toString("base64")]) {
      const response = await send("POST", base, JSON.stringify({ plan: "postgresql-sandbox", app_id: "app", uuid: randomUUID() }), { authorization });
      expect([response.status, response.json?.error]).toEqual([401, "unauthorized"]);
    }
    for (const url of [`${stack.apiUrl}/nosuch/resources`, `${stack.apiUrl}/postgresql/resource`, `${stack.apiUrl}/`]) {
      const response = await send("POST", url, JSON.stringify({ plan: "postgresql-sandbox", app_id: "app" }));
      expect(response.status).toBe(404);
    }
    expect(await stack.db.resource.count()).toBe(before);
    // Still serving.
    expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200);
  });
});

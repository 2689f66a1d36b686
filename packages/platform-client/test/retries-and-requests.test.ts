/** The client with an injected fetch: what it sends, and how it treats what comes back. */
import { describe, expect, it } from "vitest";
import { PlatformApiError, PlatformClient, type PlatformClientOptions, type RetryInfo } from "../src/index.js";
import { backoffDelayMs, parseRetryAfterMs } from "../src/retry-delay.js";

const PASSWORD = "p4ssw0rd-never-shown";

interface SentRequest {
  url: string;
  init: RequestInit;
}

/** A fetch answering from a script; each entry is a Response or an error to throw. */
function scriptedFetch(script: Array<Response | Error | ((init: RequestInit) => Promise<Response>)>) {
  const sent: SentRequest[] = [];
  const fetchImpl = (async (input: string | URL | Request, init: RequestInit = {}) => {
    sent.push({ url: input instanceof Request ? input.url : input.toString(), init });
    const next = script.shift();
    if (next === undefined) throw new Error("no scripted answer left");
    if (next instanceof Error) throw next;
    if (typeof next === "function") return next(init);
    return next;
  }) as typeof fetch;
  return { fetchImpl, sent };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

function client(fetchImpl: typeof fetch, overrides: Partial<PlatformClientOptions> = {}): PlatformClient {
  return new PlatformClient({
    baseUrl: "http://127.0.0.1:4100/",
    username: "berth-postgresql",
    password: PASSWORD,
    minRetryDelayMs: 1,
    maxRetryDelayMs: 5,
    fetch: fetchImpl,
    ...overrides,
  });
}

async function failure(promise: Promise<unknown>): Promise<PlatformApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PlatformApiError);
  return error as PlatformApiError;
}

const appBody = {
  app: { addon_provider_id: "postgresql", id: "app-1", name: "app-1", owner_email: "o@example.com", plan: "free", config: {} },
};

describe("requests", () => {
  it("sends Basic auth, JSON headers, a User-Agent and the JSON body", async () => {
    const { fetchImpl, sent } = scriptedFetch([json(200, appBody)]);
    await client(fetchImpl).patchAppConfig("app-1", { SCALINGO_POSTGRESQL_URL: "u" });
    const [request] = sent;
    expect(request?.url).toBe("http://127.0.0.1:4100/v1/provider/apps/app-1");
    expect(request?.init.method).toBe("PATCH");
    expect(request?.init.headers).toEqual({
      Accept: "application/json",
      Authorization: `Basic ${Buffer.from(`berth-postgresql:${PASSWORD}`).toString("base64")}`,
      "Content-Type": "application/json",
      "User-Agent": "berth-platform-client",
    });
    expect(request?.init.body).toBe('{"config":{"SCALINGO_POSTGRESQL_URL":"u"}}');
    expect(request?.init.signal).toBeInstanceOf(AbortSignal);
  });

  it("sends no body and no Content-Type on the provision action, and keeps a base path", async () => {
    const { fetchImpl, sent } = scriptedFetch([json(200, {})]);
    await client(fetchImpl, { baseUrl: "https://platform.example/api/" }).markProvisioned("a b");
    expect(sent[0]?.url).toBe("https://platform.example/api/v1/provider/addons/a%20b/actions/provision");
    expect(sent[0]?.init.body).toBeUndefined();
    expect(sent[0]?.init.headers).not.toHaveProperty("Content-Type");
  });

  it("refuses a base URL holding credentials without repeating it", () => {
    expect(() => new PlatformClient({ baseUrl: `http://u:${PASSWORD}@127.0.0.1:4100`, username: "u", password: "p" })).toThrow(
      /must not embed credentials/,
    );
    try {
      new PlatformClient({ baseUrl: `http://u:${PASSWORD}@127.0.0.1:4100`, username: "u", password: "p" });
    } catch (error) {
      expect(String(error)).not.toContain(PASSWORD);
    }
    expect(() => new PlatformClient({ baseUrl: "ftp://127.0.0.1", username: "u", password: "p" })).toThrow(/http/);
    expect(() => new PlatformClient({ baseUrl: "http://127.0.0.1", username: "a:b", password: "p" })).toThrow(/username/);
  });
});

describe("answers", () => {
  it("validates answers with the protocol schemas", async () => {
    const { fetchImpl } = scriptedFetch([json(200, { app: { id: "app-1" } })]);
    const error = await failure(client(fetchImpl).getApp("app-1"));
    expect(error).toMatchObject({ code: "invalid_response", retryable: false, status: 200 });
    expect(error.message).toMatch(/unexpected body \(app\.addon_provider_id: /);
  });

  it("does not retry a 4xx other than 429", async () => {
    const { fetchImpl, sent } = scriptedFetch([json(400, { error: "invalid JSON" })]);
    const error = await failure(client(fetchImpl).patchAddonConfig("r", {}));
    expect(error).toMatchObject({ code: "bad_request", retryable: false, status: 400, attempts: 1 });
    expect(sent).toHaveLength(1);
  });

  it("copes with a non-JSON error page and never shows the password even if echoed", async () => {
    const { fetchImpl } = scriptedFetch([new Response(`<h1>Forbidden for ${PASSWORD}</h1>`, { status: 403 })]);
    const error = await failure(client(fetchImpl).getApp("app-1"));
    expect(error).toMatchObject({ code: "forbidden", retryable: false });
    expect(error.message).toBe("GET /v1/provider/apps/app-1 answered 403: <h1>Forbidden for [redacted]</h1>");
  });

  it("treats a redirect as a non-retryable failure rather than following it with the credentials", async () => {
    const { fetchImpl, sent } = scriptedFetch([new Response(null, { status: 302, headers: { Location: "http://elsewhere.example/" } })]);
    const error = await failure(client(fetchImpl).getApp("app-1"));
    expect(error).toMatchObject({ code: "unexpected_status", retryable: false, status: 302 });
    expect(sent[0]?.init.redirect).toBe("manual");
  });
});

describe("retries", () => {
  it("retries network errors, then succeeds", async () => {
    const refused = new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4100"), { code: "ECONNREFUSED" }) });
    const retries: RetryInfo[] = [];
    const { fetchImpl, sent } = scriptedFetch([refused, json(200, appBody)]);
    await expect(client(fetchImpl, { onRetry: (info) => retries.push(info) }).getApp("app-1")).resolves.toMatchObject({ id: "app-1" });
    expect(sent).toHaveLength(2);
    expect(retries).toEqual([
      { attempt: 1, delayMs: expect.any(Number), error: "GET /v1/provider/apps/app-1: network error: fetch failed (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:4100)" },
    ]);
  });

  it("times out a silent platform, retries, then gives up with a retryable timeout", async () => {
    const hang = (init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => {
        init.signal?.addEventListener("abort", () => reject(init.signal?.reason as Error)); // fetch rejects with the abort reason
      });
    const { fetchImpl, sent } = scriptedFetch([hang, hang]);
    const error = await failure(client(fetchImpl, { timeoutMs: 20, retries: 1 }).markProvisioned("r"));
    expect(error).toMatchObject({ code: "timeout", retryable: true, attempts: 2 });
    expect(error.message).toBe("gave up after 2 attempts: POST /v1/provider/addons/r/actions/provision: no answer within 20 ms");
    expect(sent).toHaveLength(2);
  });

  it("reads Retry-After as an HTTP date on 503, and caps it at maxRetryDelayMs", async () => {
    const retries: RetryInfo[] = [];
    const inAnHour = new Date(Date.now() + 3_600_000).toUTCString();
    const { fetchImpl } = scriptedFetch([
      json(503, { error: "maintenance" }, { "Retry-After": inAnHour }),
      json(429, "Retry later", { "Retry-After": "3600" }),
      json(200, {}),
    ]);
    await client(fetchImpl, { maxRetryDelayMs: 30, onRetry: (info) => retries.push(info) }).markProvisioned("r");
    expect(retries.map(({ status, delayMs }) => ({ status, delayMs }))).toEqual([
      { status: 503, delayMs: 30 },
      { status: 429, delayMs: 30 },
    ]);
  });

  it("keeps the server's Retry-After on the error when it gives up", async () => {
    const { fetchImpl } = scriptedFetch([json(429, { error: "Retry later" }, { "Retry-After": "120" })]);
    const error = await failure(client(fetchImpl, { retries: 0 }).markProvisioned("r"));
    expect(error).toMatchObject({ code: "rate_limited", retryable: true, attempts: 1, retryAfterMs: 120_000 });
  });

  it("is not derailed by an onRetry observer that throws", async () => {
    const { fetchImpl } = scriptedFetch([json(502, {}), json(200, {})]);
    await expect(
      client(fetchImpl, {
        onRetry: () => {
          throw new Error("logger broke");
        },
      }).markProvisioned("r"),
    ).resolves.toBeUndefined();
  });
});

describe("retry delays", () => {
  it("backs off exponentially with equal jitter, capped", () => {
    const settings = { minRetryDelayMs: 250, maxRetryDelayMs: 30_000 };
    expect(backoffDelayMs(1, settings, () => 0)).toBe(125);
    expect(backoffDelayMs(1, settings, () => 1)).toBe(250);
    expect(backoffDelayMs(3, settings, () => 0)).toBe(500);
    expect(backoffDelayMs(3, settings, () => 1)).toBe(1000);
    expect(backoffDelayMs(20, settings, () => 1)).toBe(30_000);
  });

  it("parses Retry-After seconds and dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfterMs("2", now)).toBe(2000);
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfterMs("Wed, 31 Dec 2025 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfterMs("soon", now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
  });
});

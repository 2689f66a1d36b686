import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startPlatformStandIn, type PlatformStandIn, type StandInAddon } from "../src/index.js";
import { startFakeProvider, type FakeProvider } from "./fake-provider.js";

const postgresql: StandInAddon = {
  id: "postgresql",
  username: "berth-postgresql",
  password: "pg-password-123",
  configVars: ["SCALINGO_POSTGRESQL_URL", "SCALINGO_POSTGRESQL_USER"],
};
const redis: StandInAddon = { id: "redis", username: "berth-redis", password: "redis-password-456", configVars: ["SCALINGO_REDIS_URL"] };

function basic(addon: Pick<StandInAddon, "username" | "password">): string {
  return `Basic ${Buffer.from(`${addon.username}:${addon.password}`).toString("base64")}`;
}

let standIn: PlatformStandIn;
let provider: FakeProvider;

beforeEach(async () => {
  standIn = await startPlatformStandIn({ addons: [postgresql, redis] });
  provider = await startFakeProvider();
});

afterEach(async () => {
  await standIn.close();
  await provider.close();
});

async function call(
  method: string,
  path: string,
  options: { as?: Pick<StandInAddon, "username" | "password"> | null; body?: unknown; rawBody?: string; contentType?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const as = options.as === undefined ? postgresql : options.as;
  if (as) headers.Authorization = basic(as);
  const rawBody = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (rawBody !== undefined || options.contentType) headers["Content-Type"] = options.contentType ?? "application/json";
  const response = await fetch(`${standIn.url}${path}`, { method, headers, ...(rawBody === undefined ? {} : { body: rawBody }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/** Makes app `appId` use a `postgresql` resource `resourceId`, the way the platform learns it: from a provision answer. */
async function provisionThroughDriver(appId: string, resourceId: string, status = 202, config?: Record<string, string>) {
  provider.answers.push({ status, body: { id: resourceId, message: "started", ...(config ? { config } : {}) } });
  const response = await standIn.driver("postgresql", provider.baseUrl).provision({ plan: "free", app_id: appId });
  expect(response.status).toBe(status);
}

describe("authentication", () => {
  it("answers 401 JSON with a Basic challenge without credentials, with wrong ones, and records the call", async () => {
    for (const as of [null, { username: postgresql.username, password: "wrong" }, { username: "nobody", password: postgresql.password }]) {
      const response = await call("GET", "/v1/provider/apps", { as });
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: expect.stringContaining("unauthorized") });
      expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
    }
    expect(standIn.calls.map((c) => [c.status, c.addonId])).toEqual([
      [401, undefined],
      [401, undefined],
      [401, undefined],
    ]);
  });

  it("tells addons apart by their credentials", async () => {
    await call("PATCH", "/v1/provider/addons/r-redis/config", { as: redis, body: { config: { SCALINGO_REDIS_URL: "redis://x" } } });
    expect(standIn.calls.at(-1)).toMatchObject({ addonId: "redis", resourceId: "r-redis", status: 200 });
  });
});

describe("PATCH /v1/provider/addons/:resource_id/config", () => {
  it("accepts the object form, for a resource id not yet known from a provision answer", async () => {
    const response = await call("PATCH", "/v1/provider/addons/res-1/config", {
      body: { config: { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1:5432/db" } },
    });
    expect(response.status).toBe(200);
    expect(standIn.addonConfig("res-1")).toEqual({ SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1:5432/db" });
    expect(standIn.calls.at(-1)).toMatchObject({
      method: "PATCH",
      path: "/v1/provider/addons/res-1/config",
      addonId: "postgresql",
      resourceId: "res-1",
      body: { config: { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1:5432/db" } },
      status: 200,
    });
  });

  it("accepts the [{name, value}] array form and merges with earlier values", async () => {
    await call("PATCH", "/v1/provider/addons/res-1/config", { body: { config: { SCALINGO_POSTGRESQL_URL: "u1" } } });
    const response = await call("PATCH", "/v1/provider/addons/res-1/config", {
      body: { config: [{ name: "SCALINGO_POSTGRESQL_USER", value: "alice" }] },
    });
    expect(response.status).toBe(200);
    expect(standIn.addonConfig("res-1")).toEqual({ SCALINGO_POSTGRESQL_URL: "u1", SCALINGO_POSTGRESQL_USER: "alice" });
  });

  it("refuses names outside the addon's config vars with 422 and changes nothing", async () => {
    const response = await call("PATCH", "/v1/provider/addons/res-1/config", {
      body: { config: { SCALINGO_POSTGRESQL_URL: "u1", DATABASE_URL: "x" } },
    });
    expect(response.status).toBe(422);
    expect(response.body).toEqual({ errors: { config: [expect.stringContaining("DATABASE_URL")] } });
    expect(standIn.addonConfig("res-1")).toEqual({});
  });

  it("answers 422 on a malformed body and 400 on invalid JSON", async () => {
    const malformed = await call("PATCH", "/v1/provider/addons/res-1/config", { body: { config: { SCALINGO_POSTGRESQL_URL: 42 } } });
    expect(malformed.status).toBe(422);
    expect(malformed.body).toEqual({ errors: { config: expect.any(Array) } });
    const missing = await call("PATCH", "/v1/provider/addons/res-1/config", { body: {} });
    expect(missing.status).toBe(422);
    const invalidJson = await call("PATCH", "/v1/provider/addons/res-1/config", { rawBody: "{not json" });
    expect(invalidJson.status).toBe(400);
    expect(invalidJson.body).toEqual({ error: expect.any(String) });
  });

  it("answers 404 for a resource of another addon", async () => {
    await call("PATCH", "/v1/provider/addons/shared-id/config", { as: redis, body: { config: { SCALINGO_REDIS_URL: "r" } } });
    const response = await call("PATCH", "/v1/provider/addons/shared-id/config", { body: { config: { SCALINGO_POSTGRESQL_URL: "p" } } });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ resource: "addon", error: "not found" });
    expect(standIn.addonConfig("shared-id")).toEqual({ SCALINGO_REDIS_URL: "r" });
  });
});

describe("POST /v1/provider/addons/:resource_id/actions/provision", () => {
  it("answers 200 JSON with or without a JSON content type, and counts the actions", async () => {
    expect(standIn.provisionActions("res-9")).toBe(0);
    const bare = await call("POST", "/v1/provider/addons/res-9/actions/provision");
    const withContentType = await call("POST", "/v1/provider/addons/res-9/actions/provision", { contentType: "application/json" });
    expect(bare.status).toBe(200);
    expect(withContentType.status).toBe(200);
    expect(bare.body).toEqual({ addon: { resource_id: "res-9", status: "running" } });
    expect(standIn.provisionActions("res-9")).toBe(2);
    expect(standIn.addonConfig("res-9")).toEqual({});
  });

  it("does not count refused actions", async () => {
    await call("POST", "/v1/provider/addons/res-9/actions/provision", { as: null });
    expect(standIn.provisionActions("res-9")).toBe(0);
  });
});

describe("waitForProvisioned", () => {
  it("resolves on an action that arrives later, and at once for one already received", async () => {
    const waiting = standIn.waitForProvisioned("res-w", { timeoutMs: 10_000 });
    await call("PATCH", "/v1/provider/addons/res-w/config", { body: { config: { SCALINGO_POSTGRESQL_URL: "u" } } });
    await call("POST", "/v1/provider/addons/other/actions/provision");
    await call("POST", "/v1/provider/addons/res-w/actions/provision");
    const recorded = await waiting;
    expect(recorded).toMatchObject({ method: "POST", resourceId: "res-w", status: 200, addonId: "postgresql" });
    await expect(standIn.waitForProvisioned("res-w", { timeoutMs: 1 })).resolves.toBe(recorded);
  });

  it("rejects after the timeout, saying what was received for the resource", async () => {
    await call("PATCH", "/v1/provider/addons/res-late/config", { body: { config: { SCALINGO_POSTGRESQL_URL: "u" } } });
    await expect(standIn.waitForProvisioned("res-late", { timeoutMs: 50 })).rejects.toThrow(
      /no POST \/v1\/provider\/addons\/res-late\/actions\/provision answered 200 within 50 ms; calls received for this resource: PATCH \/v1\/provider\/addons\/res-late\/config → 200/,
    );
  });

  it("rejects when the stand-in closes", async () => {
    const waiting = standIn.waitForProvisioned("res-never", { timeoutMs: 10_000 });
    await standIn.close();
    await expect(waiting).rejects.toThrow(/closed/);
  });
});

describe("apps", () => {
  it("lists the apps using the calling addon, paginated", async () => {
    await provisionThroughDriver("app-a", "res-a");
    await provisionThroughDriver("app-b", "res-b");
    await provisionThroughDriver("app-c", "res-c");
    await call("PATCH", "/v1/provider/addons/redis-only/config", { as: redis, body: { config: { SCALINGO_REDIS_URL: "r" } } });

    const first = await call("GET", "/v1/provider/apps?page=1&per_page=2");
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      apps: [
        { addon_provider_id: "postgresql", app_id: "app-a", plan: "free" },
        { addon_provider_id: "postgresql", app_id: "app-b", plan: "free" },
      ],
      meta: { pagination: { prev_page: null, current_page: 1, next_page: 2, total_pages: 2, total_count: 3 } },
    });
    const second = await call("GET", "/v1/provider/apps?page=2&per_page=2");
    expect(second.body).toMatchObject({
      apps: [{ app_id: "app-c" }],
      meta: { pagination: { prev_page: 1, current_page: 2, next_page: null, total_pages: 2, total_count: 3 } },
    });
    expect(standIn.calls.at(-1)).toMatchObject({ path: "/v1/provider/apps", query: "page=2&per_page=2" });

    const ofRedis = await call("GET", "/v1/provider/apps", { as: redis });
    expect(ofRedis.body).toMatchObject({ apps: [], meta: { pagination: { total_count: 0 } } });
    expect((await call("GET", "/v1/provider/apps?page=0")).status).toBe(400);
  });

  it("shows an app with the config of its addons, newest value winning", async () => {
    await provisionThroughDriver("app-a", "res-a", 201, { SCALINGO_POSTGRESQL_URL: "from-provision-answer" });
    await call("PATCH", "/v1/provider/addons/res-a/config", { body: { config: { SCALINGO_POSTGRESQL_USER: "alice" } } });

    const response = await call("GET", "/v1/provider/apps/app-a");
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      app: {
        addon_provider_id: "postgresql",
        id: "app-a",
        name: "app-a",
        owner_email: expect.any(String),
        plan: "free",
        config: { SCALINGO_POSTGRESQL_URL: "from-provision-answer", SCALINGO_POSTGRESQL_USER: "alice" },
      },
    });
    expect(standIn.calls.at(-1)).toMatchObject({ appId: "app-a", addonId: "postgresql" });
  });

  it("keeps config the provider sent before the provision answer was recorded", async () => {
    // The worker may call back before the platform has read the 202 answer.
    await call("PATCH", "/v1/provider/addons/res-early/config", { body: { config: { SCALINGO_POSTGRESQL_URL: "from-callback" } } });
    await provisionThroughDriver("app-e", "res-early", 201, { SCALINGO_POSTGRESQL_URL: "from-answer", SCALINGO_POSTGRESQL_USER: "u" });
    expect(standIn.addonConfig("res-early")).toEqual({ SCALINGO_POSTGRESQL_URL: "from-callback", SCALINGO_POSTGRESQL_USER: "u" });
    expect(await call("GET", "/v1/provider/apps/app-e")).toMatchObject({
      body: { app: { config: { SCALINGO_POSTGRESQL_URL: "from-callback" } } },
    });
  });

  it("PATCH sets the vars on the addon's resources of the app, checking names", async () => {
    await provisionThroughDriver("app-a", "res-a");
    const response = await call("PATCH", "/v1/provider/apps/app-a", { body: { config: { SCALINGO_POSTGRESQL_URL: "v2" } } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ app: { id: "app-a", config: { SCALINGO_POSTGRESQL_URL: "v2" } } });
    expect(standIn.addonConfig("res-a")).toEqual({ SCALINGO_POSTGRESQL_URL: "v2" });

    const refused = await call("PATCH", "/v1/provider/apps/app-a", { body: { config: { SCALINGO_REDIS_URL: "x" } } });
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({ errors: { config: [expect.stringContaining("SCALINGO_REDIS_URL")] } });
  });

  it("answers 404 for an app that does not use the calling addon", async () => {
    await provisionThroughDriver("app-a", "res-a");
    for (const [method, as] of [
      ["GET", postgresql],
      ["GET", redis],
      ["PATCH", redis],
    ] as const) {
      const path = as === postgresql ? "/v1/provider/apps/unknown-app" : "/v1/provider/apps/app-a";
      const response = await call(method, path, { as, ...(method === "PATCH" ? { body: { config: {} } } : {}) });
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ resource: "app", error: "not found" });
    }
  });

  it("forgets a deprovisioned resource", async () => {
    await provisionThroughDriver("app-a", "res-a", 201, { SCALINGO_POSTGRESQL_URL: "u" });
    provider.answers.push({ status: 204 });
    await standIn.driver("postgresql", provider.baseUrl).deprovision("res-a");
    expect(standIn.addonConfig("res-a")).toBeUndefined();
    expect((await call("GET", "/v1/provider/apps/app-a")).status).toBe(404);
  });
});

describe("injectFaults", () => {
  it("answers the next matching calls with the fault, with Retry-After, then serves again", async () => {
    standIn.injectFaults({ status: 429, times: 2, retryAfterSeconds: 7, paths: /\/actions\/provision$/ });
    const unaffected = await call("PATCH", "/v1/provider/addons/res-f/config", { body: { config: {} } });
    expect(unaffected.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const faulted = await call("POST", "/v1/provider/addons/res-f/actions/provision");
      expect(faulted.status).toBe(429);
      expect(faulted.headers.get("retry-after")).toBe("7");
      expect(faulted.body).toEqual({ error: "Retry later" });
    }
    expect(standIn.provisionActions("res-f")).toBe(0);
    expect((await call("POST", "/v1/provider/addons/res-f/actions/provision")).status).toBe(200);
    expect(standIn.calls.map((c) => c.status)).toEqual([200, 429, 429, 200]);
  });

  it("applies faults in order, to authenticated calls only", async () => {
    standIn.injectFaults({ status: 500, times: 1 });
    standIn.injectFaults({ status: 503, times: 1 });
    expect((await call("GET", "/v1/provider/apps", { as: null })).status).toBe(401);
    const first = await call("GET", "/v1/provider/apps");
    const second = await call("GET", "/v1/provider/apps");
    expect([first.status, second.status]).toEqual([500, 503]);
    expect(second.headers.get("retry-after")).toBeNull();
    expect((await call("GET", "/v1/provider/apps")).status).toBe(200);
  });

  it("answers a refusal (4xx) with the body asked for", async () => {
    standIn.injectFaults({ status: 422, times: 1, body: { errors: { config: ["is invalid"] } }, paths: /\/config$/ });
    standIn.injectFaults({ status: 401, times: 1, paths: /\/config$/ });
    const refused = await call("PATCH", "/v1/provider/addons/res-g/config", { body: { config: {} } });
    expect([refused.status, refused.body]).toEqual([422, { errors: { config: ["is invalid"] } }]);
    const unauthorized = await call("PATCH", "/v1/provider/addons/res-g/config", { body: { config: {} } });
    expect([unauthorized.status, unauthorized.body]).toEqual([401, { error: "injected fault 401" }]);
    expect((await call("PATCH", "/v1/provider/addons/res-g/config", { body: { config: {} } })).status).toBe(200);
  });

  it("rejects a nonsensical fault", () => {
    expect(() => standIn.injectFaults({ status: 500, times: 0 })).toThrow(/times/);
  });
});

describe("startPlatformStandIn", () => {
  it("listens on 127.0.0.1 by default", () => {
    expect(standIn.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("refuses invalid addons", async () => {
    await expect(startPlatformStandIn({ addons: [] })).rejects.toThrow(/at least one addon/);
    await expect(startPlatformStandIn({ addons: [postgresql, { ...postgresql }] })).rejects.toThrow(/listed twice/);
    await expect(startPlatformStandIn({ addons: [{ ...postgresql, configVars: ["lower-case"] }] })).rejects.toThrow(
      /not a valid config var name/,
    );
  });

  it("answers unknown routes with a JSON 404", async () => {
    const response = await call("GET", "/v1/provider/nothing");
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error: expect.stringContaining("no route") });
  });
});

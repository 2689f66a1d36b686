/** The client against the real platform stand-in, over real HTTP on 127.0.0.1. */
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startPlatformStandIn, type PlatformStandIn, type StandInAddon } from "@berth/platform-standin";
import { PlatformApiError, PlatformClient, type PlatformClientOptions, type RetryInfo } from "../src/index.js";

const postgresql: StandInAddon = {
  id: "postgresql",
  username: "berth-postgresql",
  password: "pg-password-123",
  configVars: ["SCALINGO_POSTGRESQL_URL", "SCALINGO_POSTGRESQL_USER"],
};

let standIn: PlatformStandIn;
let provider: Server;
let providerUrl: string;

beforeEach(async () => {
  standIn = await startPlatformStandIn({ addons: [postgresql] });
  // A provider that accepts every provision asynchronously, answering with an id derived from the app.
  provider = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const { app_id } = JSON.parse(body) as { app_id: string };
      response.writeHead(202, { "Content-Type": "application/json" }).end(JSON.stringify({ id: `res-${app_id}` }));
    });
  });
  provider.listen(0, "127.0.0.1");
  await once(provider, "listening");
  providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/resources`;
});

afterEach(async () => {
  await standIn.close();
  provider.close();
  await once(provider, "close");
});

function client(overrides: Partial<PlatformClientOptions> = {}): PlatformClient {
  return new PlatformClient({
    baseUrl: standIn.url,
    username: postgresql.username,
    password: postgresql.password,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 50,
    ...overrides,
  });
}

async function provisionApp(appId: string): Promise<string> {
  const response = await standIn.driver("postgresql", providerUrl).provision({ plan: "free", app_id: appId });
  expect(response.status).toBe(202);
  return `res-${appId}`;
}

async function failure(promise: Promise<unknown>): Promise<PlatformApiError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PlatformApiError);
  return error as PlatformApiError;
}

describe("PlatformClient methods", () => {
  it("listApps returns the apps using the addon, with pagination", async () => {
    await provisionApp("app-1");
    await provisionApp("app-2");
    await expect(client().listApps()).resolves.toEqual({
      apps: [
        { addon_provider_id: "postgresql", app_id: "app-1", plan: "free" },
        { addon_provider_id: "postgresql", app_id: "app-2", plan: "free" },
      ],
      meta: { pagination: { prev_page: null, current_page: 1, next_page: null, total_pages: 1, total_count: 2 } },
    });
    const page2 = await client().listApps({ page: 2, perPage: 1 });
    expect(page2.apps).toEqual([{ addon_provider_id: "postgresql", app_id: "app-2", plan: "free" }]);
    expect(standIn.calls.at(-1)).toMatchObject({ path: "/v1/provider/apps", query: "page=2&per_page=1" });
  });

  it("getApp returns the app", async () => {
    await provisionApp("app-1");
    await expect(client().getApp("app-1")).resolves.toEqual({
      addon_provider_id: "postgresql",
      id: "app-1",
      name: "app-1",
      owner_email: expect.any(String),
      plan: "free",
      config: {},
    });
  });

  it("getApp of an unknown app fails at once with not_found", async () => {
    const error = await failure(client().getApp("no-such-app"));
    expect(error).toMatchObject({ status: 404, code: "not_found", retryable: false, attempts: 1 });
    expect(error.message).toBe("GET /v1/provider/apps/no-such-app answered 404: app not found");
    expect(error.body).toEqual({ resource: "app", error: "not found" });
  });

  it("patchAppConfig sets the vars and returns the updated app", async () => {
    const resourceId = await provisionApp("app-1");
    const app = await client().patchAppConfig("app-1", { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
    expect(app.config).toEqual({ SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
    expect(standIn.addonConfig(resourceId)).toEqual({ SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
  });

  it("patchAddonConfig and markProvisioned report an asynchronous provision", async () => {
    const resourceId = await provisionApp("app-1");
    const provisioned = standIn.waitForProvisioned(resourceId, { timeoutMs: 10_000 });
    await client().patchAddonConfig(resourceId, { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
    await client().markProvisioned(resourceId);

    await expect(provisioned).resolves.toMatchObject({ method: "POST", resourceId, addonId: "postgresql", status: 200 });
    expect(standIn.provisionActions(resourceId)).toBe(1);
    expect(standIn.addonConfig(resourceId)).toEqual({ SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
    expect(await client().getApp("app-1")).toMatchObject({ config: { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" } });
    expect(standIn.calls.map((call) => [call.method, call.path, call.body])).toEqual([
      ["PATCH", `/v1/provider/addons/${resourceId}/config`, { config: { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" } }],
      ["POST", `/v1/provider/addons/${resourceId}/actions/provision`, undefined],
      ["GET", "/v1/provider/apps/app-1", undefined],
    ]);
  });

  it("URL-encodes ids", async () => {
    await client().patchAddonConfig("res/with spaces?x", { SCALINGO_POSTGRESQL_USER: "u" });
    expect(standIn.calls.at(-1)).toMatchObject({
      path: "/v1/provider/addons/res%2Fwith%20spaces%3Fx/config",
      resourceId: "res/with spaces?x",
      status: 200,
    });
    expect(standIn.addonConfig("res/with spaces?x")).toEqual({ SCALINGO_POSTGRESQL_USER: "u" });
  });
});

describe("PlatformClient failures", () => {
  it("wrong credentials: 401, not retried, and the password appears nowhere", async () => {
    const retries: RetryInfo[] = [];
    const wrongPassword = "wrong-password-987";
    const error = await failure(client({ password: wrongPassword, onRetry: (info) => retries.push(info) }).markProvisioned("res-1"));
    expect(error).toMatchObject({ status: 401, code: "unauthorized", retryable: false, attempts: 1 });
    expect(retries).toEqual([]);
    expect(standIn.calls).toHaveLength(1);
    const everything = `${error.message} ${error.stack} ${JSON.stringify(error)} ${JSON.stringify(error.body)}`;
    expect(everything).not.toContain(wrongPassword);
    expect(everything).not.toContain(Buffer.from(`${postgresql.username}:${wrongPassword}`).toString("base64"));
  });

  it("an unknown config var: 422, not retried, with the platform's reason", async () => {
    const error = await failure(client().patchAddonConfig("res-1", { DATABASE_URL: "x" }));
    expect(error).toMatchObject({ status: 422, code: "unprocessable_entity", retryable: false, attempts: 1 });
    expect(error.message).toMatch(/^PATCH \/v1\/provider\/addons\/res-1\/config answered 422: config: DATABASE_URL is not a config var/);
    expect(standIn.calls).toHaveLength(1);
  });

  it("retries through injected 500s, with backoff, and succeeds", async () => {
    standIn.injectFaults({ status: 500, times: 2 });
    const retries: RetryInfo[] = [];
    await client({ onRetry: (info) => retries.push(info) }).markProvisioned("res-1");
    expect(standIn.calls.map((call) => call.status)).toEqual([500, 500, 200]);
    expect(standIn.provisionActions("res-1")).toBe(1);
    expect(retries).toEqual([
      { attempt: 1, status: 500, delayMs: expect.any(Number), error: expect.stringContaining("answered 500") },
      { attempt: 2, status: 500, delayMs: expect.any(Number), error: expect.stringContaining("answered 500") },
    ]);
    // Equal jitter: at least half of each exponential step (10 ms, then 20 ms).
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(5);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(10);
  });

  it("honours Retry-After on 429", async () => {
    standIn.injectFaults({ status: 429, times: 1, retryAfterSeconds: 1 });
    const retries: RetryInfo[] = [];
    const started = performance.now();
    await client({ maxRetryDelayMs: 30_000, onRetry: (info) => retries.push(info) }).patchAddonConfig("res-1", {
      SCALINGO_POSTGRESQL_URL: "u",
    });
    const elapsedMs = performance.now() - started;
    expect(retries).toEqual([{ attempt: 1, status: 429, delayMs: 1000, error: expect.stringContaining("answered 429: Retry later") }]);
    // Lower bound only (timers may fire a hair early, a slow machine is later).
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
    expect(standIn.calls.map((call) => call.status)).toEqual([429, 200]);
    expect(standIn.addonConfig("res-1")).toEqual({ SCALINGO_POSTGRESQL_URL: "u" });
  });

  it("gives up after its budget with a retryable error, for the job to retry later", async () => {
    standIn.injectFaults({ status: 503, times: 10 });
    const error = await failure(client({ retries: 2 }).markProvisioned("res-1"));
    expect(error).toMatchObject({ status: 503, code: "server_error", retryable: true, attempts: 3 });
    expect(error.message).toMatch(/^gave up after 3 attempts: POST \/v1\/provider\/addons\/res-1\/actions\/provision answered 503/);
    expect(standIn.calls).toHaveLength(3);
    expect(standIn.provisionActions("res-1")).toBe(0);
  });

  it("a platform that cannot be reached is a retryable network error", async () => {
    const closed = await startPlatformStandIn({ addons: [postgresql] });
    const url = closed.url;
    await closed.close();
    const error = await failure(client({ baseUrl: url, retries: 1 }).markProvisioned("res-1"));
    expect(error).toMatchObject({ code: "network_error", retryable: true, attempts: 2 });
    expect(error.status).toBeUndefined();
    expect(error.message).toContain("ECONNREFUSED");
  });
});

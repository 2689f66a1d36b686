import { randomBytes } from "node:crypto";
import { addons } from "@berth/addons";
import { ConfigError, addonEnvName } from "@berth/config";
import { ForkTokens, type BackupStore } from "@berth/backup-store";
import { SecretBox, type PrismaClient } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import type { FastifyRequest } from "fastify";
import { describe, expect, it } from "vitest";
import { crossSiteRefusal, readOnlyRefusal } from "../src/plugins/request-guards.js";
import { buildApp, deriveSessionKey } from "../src/app.js";
import { loadApiConfig } from "../src/config.js";
import { BackupLinks } from "../src/routes/backup-links.js";

const key = randomBytes(32);
const env = {
  BERTH_REDIS_URL: "redis://127.0.0.1:6390",
  BERTH_DATABASE_URL: "postgresql://postgres@127.0.0.1:5433/berth",
  BERTH_ENCRYPTION_KEY: key.toString("base64"),
  ...Object.fromEntries(
    [...addons.keys()].flatMap((id) => [
      [addonEnvName(id, "USERNAME"), `berth-${id}`],
      [addonEnvName(id, "PASSWORD"), "a-long-enough-password"],
      [addonEnvName(id, "SSO_SALT"), "a-long-enough-sso-salt"],
    ]),
  ),
};

function configError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a configuration error");
}

describe("operator console configuration", () => {
  it("is off without operator credentials, and on with both", () => {
    expect(loadApiConfig(env, addons).admin).toBeUndefined();
    expect(loadApiConfig({ ...env, BERTH_ADMIN_USERNAME: "", BERTH_ADMIN_PASSWORD: "" }, addons).admin).toBeUndefined();
    expect(loadApiConfig({ ...env, BERTH_ADMIN_USERNAME: "ops", BERTH_ADMIN_PASSWORD: "sixteen-chars-ok" }, addons).admin).toEqual({
      username: "ops",
      password: "sixteen-chars-ok",
      readOnly: false,
    });
    expect(
      loadApiConfig({ ...env, BERTH_ADMIN_USERNAME: "ops", BERTH_ADMIN_PASSWORD: "sixteen-chars-ok", BERTH_ADMIN_READ_ONLY: "true" }, addons).admin
        ?.readOnly,
    ).toBe(true);
  });

  it("names each problem: one credential without the other, a short password, a username with ':', a bad boolean", () => {
    expect(configError(() => loadApiConfig({ ...env, BERTH_ADMIN_USERNAME: "ops" }, addons))).toContain(
      "BERTH_ADMIN_PASSWORD is required when BERTH_ADMIN_USERNAME is set",
    );
    expect(configError(() => loadApiConfig({ ...env, BERTH_ADMIN_PASSWORD: "sixteen-chars-ok" }, addons))).toContain(
      "BERTH_ADMIN_USERNAME is required when BERTH_ADMIN_PASSWORD is set",
    );
    const message = configError(() =>
      loadApiConfig({ ...env, BERTH_ADMIN_USERNAME: "o:ps", BERTH_ADMIN_PASSWORD: "too-short", BERTH_ADMIN_READ_ONLY: "perhaps" }, addons),
    );
    expect(message).toContain("BERTH_ADMIN_PASSWORD: must be at least 16 characters");
    expect(message).toContain("BERTH_ADMIN_USERNAME: must contain no ':'");
    expect(message).toContain("BERTH_ADMIN_READ_ONLY: must be true or false");
    expect(message).not.toContain("too-short");
  });
});

describe("operator console switched off", () => {
  it("answers 404 under /admin", async () => {
    const app = await buildApp({
      // Neither is reached: no route of the console exists.
      db: {} as PrismaClient,
      queue: {} as OperationQueue,
      addons,
      addonCredentials: new Map([...addons.keys()].map((id) => [id, { username: id, password: "a-long-enough-password" }])),
      ssoSalts: new Map([...addons.keys()].map((id) => [id, "a-long-enough-sso-salt"])),
      ssoWindow: { maxAgeSeconds: 300, futureSkewSeconds: 60 },
      secrets: new SecretBox(key),
      sessionKey: deriveSessionKey(key),
      backups: { store: {} as BackupStore, links: new BackupLinks(key, "http://127.0.0.1:4000"), forks: new ForkTokens(key) },
      publicUrl: "http://127.0.0.1:4000",
      platformAppUrl: "https://dashboard.example.test/apps/{app_id}",
    });
    for (const url of ["/admin", "/admin/queues", "/admin/queues/api/queues"]) {
      const response = await app.inject({ url, headers: { authorization: `Basic ${Buffer.from("ops:sixteen-chars-ok").toString("base64")}` } });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toMatchObject({ error: "not_found" });
    }
    await app.close();
  });
});

describe("operator console request guards", () => {
  const trusted = new Set(["https://berth.example.com"]);
  const request = (method: string, headers: Record<string, string>) => ({ method, headers: { host: "127.0.0.1:4000", ...headers } }) as unknown as FastifyRequest;

  it("let reads through from anywhere", () => {
    expect(crossSiteRefusal(request("GET", { origin: "https://evil.example", "sec-fetch-site": "cross-site" }), trusted)).toBeUndefined();
    expect(readOnlyRefusal(request("HEAD", {}))).toBeUndefined();
  });

  it("let changes through from the console's own origin, or the public URL's", () => {
    for (const headers of <Record<string, string>[]>[
      { "sec-fetch-site": "same-origin", origin: "http://127.0.0.1:4000" },
      { "sec-fetch-site": "same-origin" },
      // A form posted from a page whose referrer policy is no-referrer (the dashboard's).
      { "sec-fetch-site": "same-origin", origin: "null" },
      { origin: "http://127.0.0.1:4000" },
      { referer: "http://127.0.0.1:4000/admin/queues/queue/berth-operations" },
      { origin: "https://berth.example.com" },
    ]) {
      expect(crossSiteRefusal(request("PUT", headers), trusted), JSON.stringify(headers)).toBeUndefined();
    }
  });

  it("refuse changes from other sites, sibling sites, unknown origins and requests that say nothing", () => {
    for (const [headers, why] of [
      [{ "sec-fetch-site": "cross-site", origin: "https://evil.example" }, "from a cross-site page"],
      [{ "sec-fetch-site": "same-site", origin: "http://127.0.0.1:4100" }, "from a same-site page"],
      [{ "sec-fetch-site": "same-origin", origin: "https://evil.example" }, "sent from https://evil.example"],
      [{ origin: "http://127.0.0.1:4100" }, "sent from http://127.0.0.1:4100"],
      [{ origin: "null" }, "neither Origin nor Referer"],
      [{ "sec-fetch-site": "cross-site", origin: "null" }, "from a cross-site page"],
      [{}, "neither Origin nor Referer"],
    ] as const) {
      const refusal = crossSiteRefusal(request("POST", headers), trusted);
      expect(refusal, JSON.stringify(headers)).toMatchObject({ code: "cross_site_request", statusCode: 403 });
      expect(refusal?.message).toContain(why);
    }
  });

  it("refuse every change in read-only mode", () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect(readOnlyRefusal(request(method, { "sec-fetch-site": "same-origin" }))).toMatchObject({ code: "read_only", statusCode: 403 });
    }
  });
});

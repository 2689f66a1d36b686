import { randomBytes } from "node:crypto";
import { redact } from "@berth/config";
import { SecretBox } from "@berth/db";
import { describe, expect, it } from "vitest";
import { credentialSecrets, resourceSecrets } from "../src/credential-secrets.js";
import type { WorkerDeps } from "../src/deps.js";

const secrets = new SecretBox(randomBytes(32));
const current = { user: "u_abcdefghijkl", password: "Current0Password0Of32Characters0" };
const next = { user: "u_abcdefghijkl", password: "Next0Password0Of32Characters0000" };

function depsWith(findUnique: () => Promise<unknown>): Pick<WorkerDeps, "db" | "secrets"> {
  return { db: { resource: { findUnique } } as unknown as WorkerDeps["db"], secrets };
}

describe("credentialSecrets", () => {
  it("gives both credential sets of a resource (a warm pool's hand-over holds two), which redact hides", async () => {
    const deps = depsWith(async () => ({ credentials: secrets.sealJson(current), nextCredentials: secrets.sealJson(next) }));
    const values = await credentialSecrets(deps, "r-1");
    expect(values).toEqual(expect.arrayContaining([current.user, current.password, next.password]));
    const message = `password authentication failed for postgres://${current.user}:${next.password}@h/db (was ${current.password})`;
    expect(redact(message, { secrets: values })).toBe("password authentication failed for postgres://[redacted]:[redacted]@h/db (was [redacted])");
  });

  it("gives none for an unknown resource, a control plane that is down, or a set that cannot be opened", async () => {
    expect(await credentialSecrets(depsWith(async () => null), "r-1")).toEqual([]);
    expect(await credentialSecrets(depsWith(async () => Promise.reject(new Error("ECONNREFUSED"))), "r-1")).toEqual([]);
    const other = new SecretBox(randomBytes(32));
    expect(resourceSecrets(secrets, { credentials: other.sealJson(current), nextCredentials: secrets.sealJson(next), retiringCredentials: null })).toEqual(Object.values(next));
    expect(resourceSecrets(secrets, { credentials: null, nextCredentials: null, retiringCredentials: null })).toEqual([]);
  });
});

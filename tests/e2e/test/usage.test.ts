import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, type Stack } from "../src/index.js";

const MiB = 1024 * 1024;

/** The answer of `GET /<addon>/resources/:id/usage` (usageResponseSchema in @berth/protocol). */
interface UsageResponse {
  resource_id: string;
  from: string;
  to: string;
  samples: { at: string; disk_bytes: number; memory_bytes: number; connections: number }[];
  disk_used: number | null;
  memory_limit_bytes: number | null;
}
/** Samples are taken every second here; polls wait far longer so a slow machine only makes the test slower. */
const POLL = { timeout: 90_000, interval: 500 };

describe("usage metering: the worker samples real databases, the provider endpoint answers the samples", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ usageIntervalMs: 1_000 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  function usage(addonId: string, id: string, query = "", credentials: { username: string; password: string } | null = stack.credentials(addonId)) {
    const headers: Record<string, string> = {};
    if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString("base64")}`;
    return fetch(`${stack.apiUrl}/${addonId}/resources/${encodeURIComponent(id)}/usage${query}`, { headers });
  }

  async function usageBody(addonId: string, id: string, query = ""): Promise<UsageResponse> {
    const response = await usage(addonId, id, query);
    expect(response.status).toBe(200);
    return (await response.json()) as UsageResponse;
  }

  async function provision(addonId: string, plan: string): Promise<{ id: string; url: string }> {
    const { status, body } = await stack.driver(addonId).provision({ plan, app_id: `app-usage-${addonId}` });
    expect(status).toBe(202);
    const { id } = body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    const url = Object.values(stack.standIn.addonConfig(id) ?? {})[0];
    expect(url).toBeTruthy();
    return { id, url: url! };
  }

  async function deprovision(addonId: string, id: string): Promise<void> {
    expect((await stack.driver(addonId).deprovision(id)).status).toBe(204);
    await expect.poll(async () => containersOf(id), POLL).toEqual([]);
  }

  /** Polls the endpoint until a sample satisfies `accept`; returns that sample and the answer it came in. */
  async function sampleWhere(addonId: string, id: string, accept: (sample: UsageResponse["samples"][number]) => boolean) {
    let found: { sample: UsageResponse["samples"][number]; body: UsageResponse } | undefined;
    await expect
      .poll(async () => {
        const body = await usageBody(addonId, id);
        const sample = body.samples.findLast(accept);
        if (sample) found = { sample, body };
        return sample !== undefined;
      }, POLL)
      .toBe(true);
    return found!;
  }

  it("PostgreSQL: counts the connections held, keeps memory within the plan, and sees the disk grow", async () => {
    const { id, url } = await provision("postgresql", "postgresql-sandbox");
    const held = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        return client;
      }),
    );
    try {
      const early = await sampleWhere("postgresql", id, (sample) => sample.connections >= held.length);
      expect(early.body).toMatchObject({ resource_id: id, memory_limit_bytes: 256 * MiB });
      expect(early.sample.memory_bytes).toBeGreaterThan(0);
      expect(early.sample.memory_bytes).toBeLessThanOrEqual(256 * MiB);
      expect(early.sample.disk_bytes).toBeGreaterThan(0);

      // About 24 MB of rows: the table's files and the WAL grow on the volume.
      await held[0]!.query("CREATE TABLE filler AS SELECT g, repeat(md5(g::text), 12) AS pad FROM generate_series(1, 60000) AS g");
      const late = await sampleWhere(
        "postgresql",
        id,
        (sample) => Date.parse(sample.at) > Date.parse(early.sample.at) && sample.disk_bytes >= early.sample.disk_bytes + 10 * MiB,
      );
      expect(late.sample.connections).toBeGreaterThanOrEqual(held.length);
      // The container's CPU time, sampled with the rest (the dashboard's CPU chart), counts the work the table took.
      const counters = (await stack.db.usageSample.findMany({ where: { resourceId: id }, orderBy: { takenAt: "asc" } })).map((sample) => sample.cpuNanos);
      expect(counters.every((counter) => counter !== null && counter > 0n)).toBe(true);
      expect(counters.at(-1)! > counters[0]!).toBe(true);
      expect(late.sample.memory_bytes).toBeGreaterThan(0);
      expect(late.sample.memory_bytes).toBeLessThanOrEqual(late.body.memory_limit_bytes!);
      expect(late.body.disk_used).toBe(late.body.samples.at(-1)!.disk_bytes);
      const times = late.body.samples.map((sample) => Date.parse(sample.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));

      // A window starting at the late sample holds it and nothing earlier.
      const windowed = await usageBody("postgresql", id, `?from=${encodeURIComponent(late.sample.at)}`);
      expect(windowed.from).toBe(late.sample.at);
      expect(windowed.samples[0]).toEqual(late.sample);
      expect(windowed.samples.every((sample) => Date.parse(sample.at) >= Date.parse(late.sample.at))).toBe(true);
    } finally {
      await Promise.all(held.map((client) => client.end().catch(() => undefined)));
    }

    await deprovision("postgresql", id);
    // The history stays readable after the database is gone: its last period is billed too.
    expect((await usageBody("postgresql", id)).samples.length).toBeGreaterThan(0);
  });

  it("Redis: counts the connections held and sees the append-only file grow", async () => {
    const { id, url } = await provision("redis", "redis-sandbox");
    const held = [new Redis(url), new Redis(url)];
    try {
      await Promise.all(held.map((client) => client.ping()));
      const early = await sampleWhere("redis", id, (sample) => sample.connections >= held.length);
      expect(early.body.memory_limit_bytes).toBe(128 * MiB);
      expect(early.sample.memory_bytes).toBeGreaterThan(0);
      expect(early.sample.memory_bytes).toBeLessThanOrEqual(128 * MiB);

      // About 8 MB of values, appended to the AOF on the volume.
      const value = "v".repeat(64 * 1024);
      for (let batch = 0; batch < 8; batch += 1) {
        await held[0]!.mset(...Array.from({ length: 16 }, (_, i) => [`key-${batch}-${i}`, value]).flat());
      }
      const late = await sampleWhere(
        "redis",
        id,
        (sample) => Date.parse(sample.at) > Date.parse(early.sample.at) && sample.disk_bytes >= early.sample.disk_bytes + 4 * MiB,
      );
      expect(late.sample.connections).toBeGreaterThanOrEqual(held.length);
      // The container's CPU time, sampled with the rest (the dashboard's CPU chart), counts the work the table took.
      const counters = (await stack.db.usageSample.findMany({ where: { resourceId: id }, orderBy: { takenAt: "asc" } })).map((sample) => sample.cpuNanos);
      expect(counters.every((counter) => counter !== null && counter > 0n)).toBe(true);
      expect(counters.at(-1)! > counters[0]!).toBe(true);
      expect(late.sample.memory_bytes).toBeLessThanOrEqual(128 * MiB);
    } finally {
      held.forEach((client) => client.disconnect());
    }
    await deprovision("redis", id);
  });

  it("answers 401 without credentials, 400 on a bad window, 404 on an unknown id or another addon's resource", async () => {
    const { id } = await provision("redis", "redis-sandbox");
    try {
      const unauthenticated = await usage("redis", id, "", null);
      expect(unauthenticated.status).toBe(401);
      expect(await unauthenticated.json()).toMatchObject({ error: "unauthorized" });
      const wrong = await usage("redis", id, "", { username: stack.credentials("redis").username, password: "not-the-password" });
      expect(wrong.status).toBe(401);

      for (const query of ["?from=yesterday", "?from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z"]) {
        const response = await usage("redis", id, query);
        expect(response.status, query).toBe(400);
        const body = (await response.json()) as Record<string, unknown>;
        expect(Object.keys(body).sort()).toEqual(["error", "message"]);
        expect(body.error).toBe("invalid_request");
      }

      const unknown = await usage("redis", "redis-0000000000000000");
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ error: "resource_not_found" });
      const otherAddon = await usage("postgresql", id);
      expect(otherAddon.status).toBe(404);
      expect(await otherAddon.json()).toMatchObject({ error: "resource_not_found" });
    } finally {
      await deprovision("redis", id);
    }
  });
});

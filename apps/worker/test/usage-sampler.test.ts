import { randomBytes, randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import type { AddonDefinition, Endpoint } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { ConfigError, addonEnvName } from "@berth/config";
import type { BackupStore } from "@berth/backup-store";
import { SecretBox, createDatabase, type PrismaClient } from "@berth/db";
import { USAGE_QUEUE } from "@berth/jobs";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkerConfig } from "../src/config.js";
import type { WorkerDeps } from "../src/deps.js";
import type { ContainerRuntime, ContainerUsage } from "../src/runtime/container-runtime.js";
import { sampleUsageOnce, startUsageSampler } from "../src/usage/usage-sampler.js";

const DAY_MS = 24 * 3600 * 1000;
const databaseUrl = process.env.BERTH_TEST_DATABASE_URL;

describe("usage metering configuration", () => {
  const env = {
    BERTH_REDIS_URL: "redis://127.0.0.1:6390",
    BERTH_DATABASE_URL: "postgresql://postgres@127.0.0.1:5433/berth",
    BERTH_PLATFORM_API_URL: "https://api.osc-fr1.scalingo.com",
    BERTH_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    ...Object.fromEntries(
      [...installedAddons.keys()].flatMap((id) => [
        [addonEnvName(id, "USERNAME"), `berth-${id}`],
        [addonEnvName(id, "PASSWORD"), "a-long-enough-password"],
      ]),
    ),
  };

  it("samples every 60 s and keeps 90 days by default", () => {
    expect(loadWorkerConfig(env, installedAddons)).toMatchObject({ usageIntervalSeconds: 60, usageRetentionDays: 90 });
    const custom = loadWorkerConfig({ ...env, BERTH_USAGE_INTERVAL_SECONDS: "1", BERTH_USAGE_RETENTION_DAYS: "400" }, installedAddons);
    expect(custom).toMatchObject({ usageIntervalSeconds: 1, usageRetentionDays: 400 });
  });

  it("refuses an interval under one second and a retention under one day", () => {
    for (const interval of ["0", "0.5"]) {
      let error: unknown;
      try {
        loadWorkerConfig({ ...env, BERTH_USAGE_INTERVAL_SECONDS: interval, BERTH_USAGE_RETENTION_DAYS: "0" }, installedAddons);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues.join("\n");
      expect(issues).toMatch(/BERTH_USAGE_INTERVAL_SECONDS/);
      expect(issues).toMatch(/BERTH_USAGE_RETENTION_DAYS/);
    }
  });
});

/**
 * The metering pass against the real control-plane database, with a fake engine
 * and runtime: one database that cannot be sampled does not stop the others,
 * and what is logged about it carries no secret.
 */
describe.skipIf(!databaseUrl)("sampleUsageOnce", () => {
  let db: PrismaClient;
  const secrets = new SecretBox(randomBytes(32));
  const dockerHost = `usage-test-${randomUUID()}`;
  const logLines: Record<string, unknown>[] = [];
  const ids = {
    ok: `fakedb-${randomUUID()}`,
    unreachable: `fakedb-${randomUUID()}`,
    stopped: `fakedb-${randomUUID()}`,
    replacing: `fakedb-${randomUUID()}`,
    /** Hurt by an OOM kill but running: sampled like any other. */
    degraded: `fakedb-${randomUUID()}`,
    /** Degraded, its container restarting: skipped without a warning. */
    restarting: `fakedb-${randomUUID()}`,
  };
  const secret = `pw-${randomBytes(12).toString("hex")}`;

  const addon = {
    id: "fakedb",
    async connections(endpoint: Endpoint) {
      if (endpoint.credentials.password === secret) throw new Error(`connect refused for fakedb://:${secret}@127.0.0.1:${endpoint.port}`);
      return 4;
    },
  } as unknown as AddonDefinition;
  const runtime = {
    async usage(containerName: string): Promise<ContainerUsage | undefined> {
      if ([ids.stopped, ids.replacing, ids.restarting].some((id) => containerName === `berth-${id}`)) return undefined;
      return { memoryBytes: 12_345_678, diskBytes: 5_000_000_000, cpuNanos: 2_500_000_000 };
    },
  } as unknown as ContainerRuntime;

  let deps: WorkerDeps;
  beforeAll(async () => {
    db = createDatabase({ url: databaseUrl! });
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    deps = {
      db,
      runtime,
      secrets,
      logger: pino({ level: "debug" }, sink),
      addons: new Map([["fakedb", addon]]),
      addonRuntime: new Map(),
      placement: { publicHost: "127.0.0.1", bindAddress: "127.0.0.1", portRange: { first: 1, last: 2 } },
      readinessIntervalMs: 100,
      rotationGraceMs: 0,
      usageRetentionDays: 90,
      backups: {} as BackupStore, // not reached: metering takes no backup
      backupConcurrency: 1,
      deletedRetentionDays: 30,
    };
    let port = 1;
    for (const [name, id] of Object.entries(ids)) {
      await db.resource.create({
        data: {
          id,
          addon: "fakedb",
          appId: "app-usage",
          plan: "small",
          status: name === "replacing" ? "changing_plan" : name === "degraded" || name === "restarting" ? "degraded" : "provisioned",
          dockerHost,
          port: port++,
          credentials: secrets.sealJson({ password: name === "unreachable" ? secret : "fine-password" }),
        },
      });
    }
    await db.usageSample.createMany({
      data: [
        { resourceId: ids.ok, takenAt: new Date(Date.now() - 100 * DAY_MS), diskBytes: 1n, memoryBytes: 1n, connections: 0 },
        { resourceId: ids.ok, takenAt: new Date(Date.now() - 10 * DAY_MS), diskBytes: 2n, memoryBytes: 2n, connections: 0 },
      ],
    });
  });
  afterAll(async () => {
    if (!db) return;
    await db.usageSample.deleteMany({ where: { resourceId: { in: Object.values(ids) } } });
    await db.resource.deleteMany({ where: { id: { in: Object.values(ids) } } });
    await db.$disconnect();
  });

  it("stores a sample of every database it can reach, skips the others with a warning, and drops samples past the retention", async () => {
    const pass = await sampleUsageOnce(deps);
    expect(pass.sampled).toBeGreaterThanOrEqual(1);
    expect(pass.skipped).toBeGreaterThanOrEqual(4);

    const samples = await db.usageSample.findMany({ where: { resourceId: { in: [ids.ok, ids.unreachable, ids.stopped, ids.replacing] } }, orderBy: { takenAt: "asc" } });
    expect(samples.map((sample) => [sample.resourceId, sample.diskBytes, sample.memoryBytes, sample.cpuNanos, sample.connections])).toEqual([
      [ids.ok, 2n, 2n, null, 0],
      [ids.ok, 5_000_000_000n, 12_345_678n, 2_500_000_000n, 4],
    ]);

    const degraded = await db.usageSample.findMany({ where: { resourceId: { in: [ids.degraded, ids.restarting] } } });
    expect(degraded.map((sample) => [sample.resourceId, sample.memoryBytes, sample.connections])).toEqual([[ids.degraded, 12_345_678n, 4]]);

    const warnings = logLines.filter((line) => line.level === 40 && Object.values(ids).includes(line.resourceId as string));
    expect(warnings.map((line) => line.resourceId).sort()).toEqual([ids.stopped, ids.unreachable].sort());
    expect(warnings.find((line) => line.resourceId === ids.stopped)?.err).toBe("the container is not running");
    expect(JSON.stringify(logLines)).not.toContain(secret);
    expect(JSON.stringify(warnings)).toContain("[redacted]");
  });
});

describe.skipIf(!process.env.BERTH_REDIS_URL)("startUsageSampler", () => {
  it("with two workers, keeps one schedule: one pass per interval, not one per worker", async () => {
    const prefix = `berth-test-${randomUUID()}`;
    let passes = 0;
    const deps = {
      db: {
        resource: { findMany: async () => ((passes += 1), []) },
        usageSample: { createMany: async () => ({ count: 0 }), deleteMany: async () => ({ count: 0 }) },
      },
      logger: pino({ level: "silent" }),
    } as unknown as WorkerDeps;
    const connections = [0, 1].map(() => new Redis(process.env.BERTH_REDIS_URL!, { maxRetriesPerRequest: null }));
    const samplers = await Promise.all(connections.map((connection) => startUsageSampler(deps, { connection, prefix, intervalMs: 500 })));
    const queue = new Queue(USAGE_QUEUE, { connection: connections[0]!, prefix });
    try {
      expect(await queue.getJobSchedulersCount()).toBe(1);
      await expect.poll(async () => (await queue.getJobs(["completed"])).length, { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(3);
      const completed = await queue.getJobs(["completed"]);
      // Each job is one slot of the one schedule: no slot was run twice.
      const slots = completed.map((job) => job.id);
      expect(new Set(slots).size).toBe(slots.length);
      expect(slots.every((id) => id?.startsWith("repeat:berth-usage-sampler:"))).toBe(true);
      expect(await queue.getJobSchedulersCount()).toBe(1);
    } finally {
      await samplers[0]!.close();
      await samplers[1]!.close({ removeSchedule: true });
      await queue.close();
      connections.forEach((connection) => connection.disconnect());
    }
    expect(passes).toBeGreaterThanOrEqual(3);
  });
});

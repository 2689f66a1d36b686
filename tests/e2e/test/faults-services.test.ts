import { randomBytes } from "node:crypto";
import { addons } from "@berth/addons";
import { postgresqlAddon } from "@berth/addon-postgresql";
import { OperationQueue } from "@berth/jobs";
import { createWorker, type BerthWorker } from "@berth/worker";
import { loadWorkerConfig } from "@berth/worker/config";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, startStack, startTestRedis, testWorkerParts, volumeExists, type Stack, type TestRedis } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 200 };

describe("Redis loses its data while work is queued", () => {
  let redis: TestRedis;
  let stack: Stack;
  /** Another worker of the deployment, never started: the tests run its reconciliation passes and use its runtime. */
  let reconciler: BerthWorker;
  let queue: OperationQueue;
  let connection: Redis;
  beforeAll(async () => {
    redis = await startTestRedis();
    stack = await startStack({ inProcessWorker: false, redisUrl: redis.url, env: { BERTH_JOB_LOCK_SECONDS: "2" } });
    reconciler = createWorker(loadWorkerConfig(stack.env, addons), { ...testWorkerParts, warmPool: false, logger: pino({ level: "silent" }) });
    connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    queue = new OperationQueue({ connection, prefix: stack.env.BERTH_QUEUE_PREFIX });
  });
  afterAll(async () => {
    await queue?.close();
    connection?.disconnect();
    await reconciler?.close();
    try {
      await stack?.close();
    } finally {
      await redis?.stop();
    }
  });

  it("reconciliation queues the lost operations again, and each runs once", async () => {
    const driver = stack.driver("postgresql");
    const id = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "lost-in-redis" })).body as { id: string }).id;
    await redis.crashAndRestart(); // the job is gone; the control plane still has the operation
    expect(await queue.queue.getJob((await stack.db.operation.findFirstOrThrow({ where: { resourceId: id } })).id)).toBeUndefined();

    const worker = await stack.spawnWorker();
    const report = await reconciler.reconcileOnce({ graceMs: 0 });
    console.log(`reconciliation after the Redis crash: ${JSON.stringify(report)}`);
    expect(report.resumedOperations).toHaveLength(1);
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
    expect(stack.standIn.provisionActions(id)).toBe(1);
    expect(await containersOf(id)).toEqual([`berth-${id}`]);

    // A second pass finds nothing left to do.
    expect((await reconciler.reconcileOnce({ graceMs: 0 })).resumedOperations).toEqual([]);
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("deprovisioned");
    await worker.stop();
  });

  it("reconciliation removes this deployment's orphans and leaves live databases alone", async () => {
    const driver = stack.driver("postgresql");
    const worker = await stack.spawnWorker();
    const live = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "live-one" })).body as { id: string }).id;
    await stack.standIn.waitForProvisioned(live, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: live } }))?.status, WAIT).toBe("provisioned");

    // A container and volume the control plane does not know: e.g. left by a database reset.
    const orphan = `postgresql-orphan${randomBytes(4).toString("hex")}`;
    const plan = postgresqlAddon.plans[0]!;
    await reconciler.deps.runtime.ensureVolume(`berth-${orphan}-data`, { resourceId: orphan, addonId: "postgresql", plan: plan.name }, plan.limits.diskMb);
    await reconciler.deps.runtime.ensureContainerRunning({
      name: `berth-${orphan}`,
      volumeName: `berth-${orphan}-data`,
      labels: { resourceId: orphan, addonId: "postgresql", plan: plan.name },
      port: 31_999,
      spec: postgresqlAddon.containerSpec({
        plan,
        credentials: postgresqlAddon.generateCredentials(),
        image: stack.env.BERTH_ADDON_POSTGRESQL_IMAGE ?? postgresqlAddon.defaultImage,
      }),
    });
    expect(await containersOf(orphan)).toEqual([`berth-${orphan}`]);

    const report = await reconciler.reconcileOnce({ graceMs: 0 });
    console.log(`reconciliation with one orphan: ${JSON.stringify(report)}`);
    expect(report.removedContainers).toContain(`berth-${orphan}`);
    expect(report.removedVolumes).toContain(`berth-${orphan}-data`);
    expect(report.removedContainers).not.toContain(`berth-${live}`);
    expect(await containersOf(orphan)).toEqual([]);
    expect(await volumeExists(`berth-${orphan}-data`)).toBe(false);
    expect(await containersOf(live)).toEqual([`berth-${live}`]);

    expect((await driver.deprovision(live)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: live } }))?.status, WAIT).toBe("deprovisioned");
    await worker.stop();
  });
});

describe("the platform's API is down past the retry budget", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { BERTH_PLATFORM_RETRIES: "1" },
      jobOptions: { attempts: 2, backoff: { type: "fixed", delay: 200 } },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("marks the resource failed with the reason, keeps the database, and nothing is dropped silently", async () => {
    stack.standIn.injectFaults({ status: 500, times: 1_000, paths: /\/config$/ });
    const driver = stack.driver("postgresql");
    const id = ((await driver.provision({ plan: "postgresql-sandbox", app_id: "platform-down" })).body as { id: string }).id;
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("failed");
    const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    const operation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id } });
    const refused = stack.standIn.calls.filter((call) => call.resourceId === id && call.status === 500).length;
    console.log(`platform down: ${refused} refused callbacks, resource ${resource.status} (${resource.statusReason})`);
    expect(resource.statusReason).toMatch(/provision failed: .*500/);
    expect([operation.status, operation.attempts]).toEqual(["failed", 2]);
    expect(refused).toBe(4); // 2 job attempts × (1 try + 1 client retry)
    expect(stack.standIn.provisionActions(id)).toBe(0);
    // The database itself was made and is kept for the operator's retry.
    expect(await containersOf(id)).toEqual([`berth-${id}`]);
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("deprovisioned");
  });
});

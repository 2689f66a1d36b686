import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { addons } from "@berth/addons";
import { ownerRole, postgresqlAddon, type PostgresqlCredentials } from "@berth/addon-postgresql";
import { SecretBox } from "@berth/db";
import { createWorker } from "@berth/worker";
import { loadWorkerConfig, type WorkerConfig } from "@berth/worker/config";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { engineTestClients } from "../src/engine-clients.js";
import { containersOf, dockerExec, dockerInspect, pgRows, type Stack, startStack, testWorkerParts, waitUntil } from "../src/index.js";

const run = promisify(execFile);

/** A refiller with another configuration than the worker's, on the stack's queue (as a redeployed worker would be): a worker never started. */
function warmPoolOf(stack: Stack, targets: WorkerConfig["warmPool"]) {
  const worker = createWorker({ ...loadWorkerConfig(stack.env, addons), warmPool: targets }, { ...testWorkerParts, logger: pino({ level: "silent" }) });
  onTestFinished(() => worker.close());
  return { refillOnce: () => worker.refillWarmPool() };
}

const PLAN = "postgresql-sandbox";
/** Every engine that can change a password gets a pool of its first plan. */
const POOLED = [...addons.values()].filter((addon) => addon.rotation !== undefined);

/** Connects with a URL and runs one query; rejects when the server refuses the credentials. */

const urlOf = (port: number, c: PostgresqlCredentials) => `postgres://${c.user}:${c.password}@127.0.0.1:${port}/${c.database}`;

describe("warm pool: ready databases claimed at provision, handed over with a password of their own", () => {
  let stack: Stack;
  let secrets: SecretBox;
  const warmRows = () => stack.db.resource.findMany({ where: { addon: "postgresql", plan: PLAN, status: "warm", appId: "" } });

  beforeAll(async () => {
    const otherPools = POOLED.filter((addon) => addon.id !== "postgresql").map((addon) => `${addon.plans[0]!.name}=1`);
    stack = await startStack({ inProcessWorker: false, env: { BERTH_WARM_POOL: [`${PLAN}=2`, ...otherPools].join(",") } });
    secrets = new SecretBox(Buffer.from(stack.env.BERTH_ENCRYPTION_KEY!, "base64"));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("fills the pool, hands a pool database to the platform with a new password, and refills", async () => {
    const worker = await stack.spawnWorker();
    onTestFinished(() => worker.stop());
    await waitUntil("2 warm databases", async () => (await warmRows()).length === 2, { timeoutMs: 120_000 });
    const pool = await warmRows();
    // Built but not handed to anyone: no app, no callback to the platform.
    for (const row of pool) {
      expect(row.platformUuid).toBeNull();
      expect((await dockerInspect(`berth-${row.id}`))?.State.Running).toBe(true);
      expect(stack.standIn.calls.filter((call) => call.resourceId === row.id)).toEqual([]);
    }
    const poolCredentials = new Map(pool.map((row) => [row.id, secrets.openJson<PostgresqlCredentials>(row.credentials!)]));

    const uuid = randomUUID();
    const response = await stack.driver("postgresql").provision({ plan: PLAN, app_id: "app-warm", uuid });
    expect(response.status).toBe(202);
    const { id } = response.body as { id: string };
    expect(poolCredentials.has(id)).toBe(true); // the oldest ready one was claimed
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 60_000 });

    const url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
    const delivered = new URL(url);
    const before = poolCredentials.get(id)!;
    // PostgreSQL keeps one password per role: the app logs in as the owner's twin, which acts as the owner.
    expect(ownerRole(decodeURIComponent(delivered.username))).toBe(before.user);
    expect(delivered.password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(delivered.password).not.toBe(before.password);
    // The app's password works; the pool's no longer does.
    await pgRows(url, "CREATE TABLE t (v int)");
    expect(await pgRows(url, "SELECT count(*)::int AS n FROM t")).toEqual([{ n: 0 }]);
    expect(await pgRows(url, "SELECT tableowner, current_user AS acting FROM pg_tables WHERE tablename = 't'")).toEqual([{ tableowner: before.user, acting: before.user }]);
    await expect(pgRows(urlOf(Number(delivered.port), before), "SELECT 1")).rejects.toThrow(/password authentication failed/);

    const claimed = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(claimed).toMatchObject({ status: "provisioned", appId: "app-warm", platformUuid: uuid, nextCredentials: null });
    expect(claimed.claimedAt).not.toBeNull();
    expect(claimed.credentialsRotatedAt).not.toBeNull();
    expect(secrets.openJson<PostgresqlCredentials>(claimed.credentials!).password).toBe(delivered.password);
    const calls = stack.standIn.calls.filter((call) => call.resourceId === id).map((call) => `${call.method} ${call.path}`);
    expect(calls).toEqual([`PATCH /v1/provider/addons/${id}/config`, `POST /v1/provider/addons/${id}/actions/provision`]);

    // The same request again answers with the same database.
    const again = await stack.driver("postgresql").provision({ plan: PLAN, app_id: "app-warm", uuid });
    expect((again.body as { id: string }).id).toBe(id);

    // The pool is back to its size, with a database that is not the claimed one.
    await waitUntil("pool refilled", async () => (await warmRows()).length === 2, { timeoutMs: 120_000 });
    expect((await warmRows()).map((row) => row.id)).not.toContain(id);

    const deleted = await stack.driver("postgresql").deprovision(id);
    expect(deleted.status).toBe(204);
    await waitUntil("deprovisioned", async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "deprovisioned");
    expect(await containersOf(id)).toEqual([]);
  });

  it("finishes a password hand-over that a crash interrupted after the engine had the new password", async () => {
    const worker = await stack.spawnWorker();
    await waitUntil("a warm database", async () => (await warmRows()).length > 0, { timeoutMs: 120_000 });
    await worker.stop();

    // Claimed while no worker runs: the operation waits in the queue.
    const response = await stack.driver("postgresql").provision({ plan: PLAN, app_id: "app-crash" });
    const { id } = response.body as { id: string };
    const row = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(row.claimedAt).not.toBeNull();
    const current = secrets.openJson<PostgresqlCredentials>(row.credentials!);
    // What a worker killed mid-hand-over leaves: the next credentials stored and admitted by the engine, not yet current.
    const next = postgresqlAddon.rotation!.next(current);
    await stack.db.resource.update({ where: { id }, data: { nextCredentials: secrets.sealJson(next) } });
    await dockerExec(`berth-${id}`, postgresqlAddon.rotation!.admit(current, next));

    const resumed = await stack.spawnWorker();
    onTestFinished(() => resumed.stop());
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 60_000 });
    const url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
    expect([new URL(url).username, new URL(url).password]).toEqual([next.user, next.password]);
    expect(await pgRows(url, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    const handedOver = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect([handedOver.nextCredentials, handedOver.retiringCredentials]).toEqual([null, null]);
    // The pool's password, which the engine took until the hand-over ended, is refused.
    const poolUrl = Object.assign(new URL(url), { username: current.user, password: current.password });
    await expect(pgRows(poolUrl.toString(), "SELECT 1")).rejects.toThrow(/password authentication failed/);
  });

  it.each(POOLED.map((addon) => [addon.id, addon] as const))("hands a warm %s database over with a password that survives a restart", async (_id, addon) => {
    const plan = addon.plans[0]!.name;
    const worker = await stack.spawnWorker();
    onTestFinished(() => worker.stop());
    const warm = () => stack.db.resource.findFirst({ where: { addon: addon.id, plan, status: "warm", appId: "" }, orderBy: { createdAt: "asc" } });
    await waitUntil(`a warm ${plan}`, async () => (await warm()) !== null, { timeoutMs: 120_000 });
    const pooled = (await warm())!;
    const poolUrl = Object.values(addon.connectionConfig({ host: "127.0.0.1", port: pooled.port!, credentials: secrets.openJson(pooled.credentials!) }, addon.plans[0]!))[0]!;

    const { id } = (await stack.driver(addon.id).provision({ plan, app_id: `app-${addon.id}` })).body as { id: string };
    expect(id).toBe(pooled.id);
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 60_000 });
    const url = stack.standIn.addonConfig(id)![addon.urlConfigVar]!;
    expect(url).not.toBe(poolUrl);
    const client = engineTestClients[addon.id]!;
    const session = await client.connect(url);
    await session.write("handed-over", "yes");
    await session.close();
    await expect(client.connect(poolUrl)).rejects.toThrow();

    // The engine keeps the new password in its data, not in the container's command or environment.
    await run("docker", ["restart", `berth-${id}`]);
    let reopened: Awaited<ReturnType<typeof client.connect>> | undefined;
    await waitUntil("the database back after a restart", async () => Boolean((reopened = await client.connect(url).catch(() => undefined))), { timeoutMs: 60_000 });
    expect(await reopened!.read("handed-over")).toBe("yes");
    await reopened!.close();
    await expect(client.connect(poolUrl)).rejects.toThrow();
    expect((await stack.driver(addon.id).deprovision(id)).status).toBe(204);
  });

  it("drains what the configuration no longer asks for: a smaller size, a plan left out", async () => {
    const worker = await stack.spawnWorker();
    onTestFinished(() => worker.stop());
    const othersWarm = () => stack.db.resource.findMany({ where: { status: "warm", NOT: { addon: "postgresql" } } });
    await waitUntil("the pools full", async () => (await warmRows()).length === 2 && (await othersWarm()).length === POOLED.length - 1, {
      timeoutMs: 120_000,
    });
    const others = await othersWarm();
    const newest = (await warmRows()).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0]!;

    const report = await warmPoolOf(stack, [{ addonId: "postgresql", plan: PLAN, size: 1 }]).refillOnce();
    expect(report.building).toEqual([]);
    expect(report.removing.sort()).toEqual([newest.id, ...others.map((row) => row.id)].sort());
    for (const id of report.removing) {
      await waitUntil(`${id} removed`, async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "deprovisioned");
      expect(await containersOf(id)).toEqual([]);
    }
    expect((await warmRows()).length).toBe(1);
  });

  it("never removes a database that a provision request claims at the same moment", async () => {
    const worker = await stack.spawnWorker();
    await waitUntil("a warm database", async () => (await warmRows()).length > 0, { timeoutMs: 120_000 });
    await worker.stop();
    const target = (await warmRows())[0]!;

    // A claim holding its row lock (as the accept path's statement does until it commits)…
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const claimTaken = new Promise<void>((resolve) => (taken = resolve));
    const claim = stack.db.$transaction(
      async (tx) => {
        await tx.$executeRaw`UPDATE resources SET status = 'provisioning', app_id = 'racer' WHERE id = ${target.id} AND status = 'warm'`;
        taken();
        await released;
      },
      { timeout: 30_000 },
    );
    await claimTaken;
    // …while a refill that wants no pool at all reads the row as still warm and waits on the lock.
    const refill = warmPoolOf(stack, []).refillOnce();
    await new Promise((resolve) => setTimeout(resolve, 500));
    release();
    await claim;
    expect((await refill).removing).not.toContain(target.id);
    expect((await stack.db.resource.findUniqueOrThrow({ where: { id: target.id } })).status).toBe("provisioning");
  });
});

describe("warm pool: a plan whose pool database cannot be built", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false, env: { BERTH_WARM_POOL: `${PLAN}=2`, BERTH_ADDON_POSTGRESQL_IMAGE: "berth-local/no-such-image:0" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("is paused, not retried in a storm, and tried again once the pause is over", async () => {
    const since = new Date();
    const worker = await stack.spawnWorker();
    onTestFinished(() => worker.stop());
    const poolRows = () => stack.db.resource.findMany({ where: { plan: PLAN, appId: "", createdAt: { gte: since } } });
    await waitUntil("both pool databases failed", async () => (await poolRows()).filter((row) => row.status === "failed").length === 2);
    const failed = await poolRows();
    expect(failed.every((row) => /no-such-image/.test(row.statusReason ?? ""))).toBe(true);

    const pool = warmPoolOf(stack, [{ addonId: "postgresql", plan: PLAN, size: 2 }]);
    for (let pass = 0; pass < 3; pass++) expect(await pool.refillOnce()).toEqual({ building: [], removing: [], pausedPlans: [PLAN] });
    expect(await poolRows()).toHaveLength(2);

    // Ten minutes later: the failed ones are removed and the plan is tried again.
    await stack.db.resource.updateMany({ where: { id: { in: failed.map((row) => row.id) } }, data: { updatedAt: new Date(Date.now() - 11 * 60_000) } });
    const resumed = await pool.refillOnce();
    expect(resumed.removing.sort()).toEqual(failed.map((row) => row.id).sort());
    expect(resumed.building).toHaveLength(2);
  });
});

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { postgresqlAddon } from "@berth/addon-postgresql";
import { redisAddon } from "@berth/addon-redis";
import { defineAddon, type AddonDefinition, type AddonPlan } from "@berth/addon-sdk";
import { createWorker, type BerthWorker } from "@berth/worker";
import { loadWorkerConfig } from "@berth/worker/config";
import { DiskImages } from "@berth/worker/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, dockerExec, dockerInspect, startStack, testWorkerParts, volumeExists, waitUntil, type Stack } from "../src/index.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const WAIT = { timeout: 120_000, interval: 200 };

/** Copies of the engines with tiny test-only plans, so filling a disk takes a few seconds and little of the host's disk. */
function withPlans(addon: AddonDefinition, plans: readonly { name: string; diskMb: number }[]): AddonDefinition {
  const base = addon.plans[0]!;
  return defineAddon({
    ...addon,
    plans: plans.map(({ name, diskMb }): AddonPlan => ({ ...base, name, displayName: name, limits: { ...base.limits, diskMb } })),
  });
}
const SMALL = "postgresql-disk-128";
const BIG = "postgresql-disk-192";
const testAddons = new Map<string, AddonDefinition>([
  ["postgresql", withPlans(postgresqlAddon, [{ name: SMALL, diskMb: 128 }, { name: BIG, diskMb: 192 }])],
  ["redis", withPlans(redisAddon, [{ name: "redis-disk-32", diskMb: 32 }])],
]);

/** What the host shows of one database's disk: the image, its loop devices, every mount of its filesystem. */
async function hostView(dir: string, volume: string) {
  const image = join(dir, `${volume}.img`);
  const info = await stat(image).catch(() => undefined);
  const loops = (await run("losetup", ["--list", "--noheadings", "--output", "NAME,BACK-FILE"])).stdout
    .split("\n")
    .filter((line) => line.includes(volume));
  const mounts = (await readFile("/proc/self/mountinfo", "utf8")).split("\n").filter((line) => line.includes(volume));
  const leftovers = (await run("ls", ["-a", dir])).stdout.split("\n").filter((name) => name.includes(volume));
  return { image, sizeBytes: info?.size, allocatedBytes: info ? info.blocks * 512 : undefined, loops, mounts, leftovers };
}

async function expectNothingLeft(dir: string, volume: string): Promise<void> {
  const view = await hostView(dir, volume);
  expect(view.sizeBytes).toBeUndefined();
  expect(view.loops).toEqual([]);
  expect(view.mounts).toEqual([]);
  expect(view.leftovers).toEqual([]);
  expect(await volumeExists(volume)).toBe(false);
}

/** ~2 MB of rows a batch, each under TOAST's threshold so nothing is compressed. */
const FILL_BATCH =
  "INSERT INTO filler (pad) SELECT (SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 50) AS s) FROM generate_series(1, 1300) AS g";

/**
 * Inserts until PostgreSQL refuses. A checkpoint after each batch lets PostgreSQL recycle its WAL
 * segments instead of creating new ones, so the data files, not the WAL, meet the limit (a WAL
 * write that fails is a PANIC: the server restarts; that is the engine's way, not the disk's).
 */
async function fillUntilRefused(client: pg.Client, resourceId: string, maxBatches: number): Promise<{ error: Error; batches: number }> {
  await client.query("CREATE TABLE IF NOT EXISTS filler (id bigserial, pad text)");
  for (let batch = 0; batch < maxBatches; batch++) {
    try {
      await client.query(FILL_BATCH);
    } catch (error) {
      return { error: error as Error, batches: batch };
    }
    await checkpoint(resourceId);
  }
  throw new Error(`${maxBatches} batches of about 2 MB went in without an error`);
}

/** CHECKPOINT is the administrator's (the app's user may not): run it as Berth does, inside the container. */
async function checkpoint(resourceId: string): Promise<void> {
  await dockerExec(`berth-${resourceId}`, {
    command: ["psql", "-X", "-q", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "postgres", "-c", "CHECKPOINT"],
    user: "postgres",
  });
}

describe("disk limits: each database on a filesystem of its plan's size", () => {
  let stack: Stack;
  /** Another worker of the deployment, never started: the tests run its reconciliation passes and use its runtime. */
  let reconciler: BerthWorker;
  let deps: BerthWorker["deps"];
  let diskDir: string;
  beforeAll(async () => {
    // PostgreSQL's WAL waits in the disk's archive spool until shipped: this stack ships it (every
    // second), as production's workers do; a deployment of its own, so it ships only its databases.
    stack = await startStack({
      addons: testAddons,
      archiveShipper: true,
      env: { BERTH_DEPLOYMENT_ID: `disks-${randomBytes(4).toString("hex")}`, BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS: "1" },
    });
    const config = loadWorkerConfig(stack.env, testAddons);
    expect(config.disks.limits).toBe("loop");
    diskDir = join(config.disks.dir, config.deploymentId);
    reconciler = createWorker(config, { ...testWorkerParts, warmPool: false, logger: pino({ level: "silent" }) });
    deps = reconciler.deps;
  });
  afterAll(async () => {
    await reconciler?.close();
    await stack?.close();
  });

  async function provision(addonId: string, plan: string): Promise<{ id: string; url: string; volume: string; container: string }> {
    const { status, body } = await stack.driver(addonId).provision({ plan, app_id: `app-disk-${addonId}` });
    expect(status).toBe(202);
    const { id } = body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    const url = Object.values(stack.standIn.addonConfig(id) ?? {})[0]!;
    return { id, url, volume: `berth-${id}-data`, container: `berth-${id}` };
  }

  async function changePlan(id: string, plan: string): Promise<{ status: string; error: string | null }> {
    expect((await stack.driver("postgresql").changePlan(id, plan)).status).toBe(200);
    let operation: { status: string; error: string | null } | null = null;
    await expect
      .poll(async () => {
        operation = await stack.db.operation.findFirst({ where: { resourceId: id, kind: "change_plan", targetPlan: plan }, orderBy: { seq: "desc" } });
        return operation?.status;
      }, WAIT)
      .toMatch(/^(succeeded|failed)$/);
    return operation!;
  }

  async function deprovision(addonId: string, id: string): Promise<void> {
    expect((await stack.driver(addonId).deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("deprovisioned");
    expect(await containersOf(id)).toEqual([]);
  }

  async function connect(url: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }

  it("PostgreSQL: writes stop at the plan's disk with the engine's error, the host holds at most that, the data stays readable, space freed is writable again; a bigger plan grows the disk, data kept; a smaller one is refused until the data fits, then shrinks", async () => {
    const db = await provision("postgresql", SMALL);
    // The volume keeps its name and labels and binds a directory of the mounted image, not its root.
    const volume = JSON.parse((await run("docker", ["volume", "inspect", db.volume])).stdout)[0] as {
      Labels: Record<string, string>;
      Options: Record<string, string>;
    };
    expect(volume.Labels["berth.resource"]).toBe(db.id);
    expect(volume.Options).toEqual({ type: "none", o: "bind", device: join(diskDir, db.volume, "data") });
    const view = await hostView(diskDir, db.volume);
    expect(view.sizeBytes).toBe(128 * MiB);
    expect(view.loops).toHaveLength(1);
    // Ours, and Docker's for the running container: both of the one filesystem.
    expect(view.mounts.some((line) => line.split(" ")[4] === join(diskDir, db.volume))).toBe(true);
    // ext4's lost+found sits beside the volume's directory; Docker copied the image's data directory template into it.
    expect((await run("ls", [join(diskDir, db.volume)])).stdout.split("\n")).toEqual(expect.arrayContaining(["data", "lost+found"]));
    expect((await stat(join(diskDir, db.volume, "data", "PG_VERSION"))).isFile()).toBe(true);

    let client = await connect(db.url);
    try {
      await client.query("CREATE TABLE keep (n int)");
      await client.query("INSERT INTO keep SELECT generate_series(1, 100)");

      const refused = await fillUntilRefused(client, db.id, 100);
      console.log(`PostgreSQL on a 128 MiB disk refused batch ${refused.batches + 1}: ${refused.error.message}`);
      expect(refused.error.message).toMatch(/could not extend file .*No space left on device/);
      const full = await hostView(diskDir, db.volume);
      expect(full.allocatedBytes!).toBeLessThanOrEqual(128 * MiB);
      const fs = await statfs(join(diskDir, db.volume));
      expect(fs.bavail * fs.bsize).toBeLessThan(8 * MiB);

      // Still readable, and writable again once space is freed.
      expect((await client.query("SELECT count(*)::int AS n FROM keep")).rows[0].n).toBe(100);
      await client.query("DROP TABLE filler");
      await client.query("INSERT INTO keep VALUES (101)");
      expect((await client.query("SELECT count(*)::int AS n FROM keep")).rows[0].n).toBe(101);
    } finally {
      await client.end().catch(() => undefined);
    }

    // A bigger disk: grown while the database runs, data kept, and more data fits than the old disk held.
    expect(await changePlan(db.id, BIG)).toMatchObject({ status: "succeeded" });
    expect((await hostView(diskDir, db.volume)).sizeBytes).toBe(192 * MiB);
    const grown = await statfs(join(diskDir, db.volume));
    expect(grown.blocks * grown.bsize).toBeGreaterThan(160 * MiB); // ext4 keeps the rest for its journal and inode tables
    client = await connect(db.url);
    try {
      expect((await client.query("SELECT count(*)::int AS n FROM keep")).rows[0].n).toBe(101);
      const refused = await fillUntilRefused(client, db.id, 150);
      expect(refused.error.message).toMatch(/could not extend file .*No space left on device/);
      const used = await statfs(join(diskDir, db.volume));
      expect((used.blocks - used.bfree) * used.bsize).toBeGreaterThan(130 * MiB); // more than the old disk could hold
      expect((await hostView(diskDir, db.volume)).allocatedBytes!).toBeLessThanOrEqual(192 * MiB);

      // Back to the small disk while the data does not fit: refused with the reason, nothing changed
      // (the session stays open: on a full disk PostgreSQL may refuse new sessions, "could not write init file").
      const refusedChange = await changePlan(db.id, SMALL);
      console.log(`plan change to the smaller disk while full: ${refusedChange.error}`);
      expect(refusedChange.status).toBe("failed");
      expect(refusedChange.error).toMatch(/refused: the data takes \d+ MiB .* a disk of 128 MiB/);
      expect(await stack.db.resource.findUniqueOrThrow({ where: { id: db.id } })).toMatchObject({ status: "provisioned", plan: BIG });
      expect((await hostView(diskDir, db.volume)).sizeBytes).toBe(192 * MiB);
      expect((await client.query("SELECT count(*)::int AS n FROM keep")).rows[0].n).toBe(101);
      await client.query("DROP TABLE filler");
      // The WAL of the drop, checkpointed and archived (the worker ships it within a second):
      // what stays on the disk is the database's.
      await checkpoint(db.id);
      await checkpoint(db.id);
    } finally {
      await client.end().catch(() => undefined);
    }
    await waitUntil("the archive's spool emptied", async () => (await dockerExec(`berth-${db.id}`, { command: ["ls", "/var/lib/postgresql/data/pg_wal/berth-archive"], user: "postgres" })).trim() === "", { timeoutMs: 60_000 });
    // Once it fits: shrunk offline during the container's replacement, the data kept.
    const before = await statfs(join(diskDir, db.volume));
    console.log(`before shrinking: ${Math.round(((before.blocks - before.bfree) * before.bsize) / MiB)} MiB used`);
    expect(await changePlan(db.id, SMALL)).toMatchObject({ status: "succeeded", error: null });
    expect((await hostView(diskDir, db.volume)).sizeBytes).toBe(128 * MiB);
    const shrunk = await statfs(join(diskDir, db.volume));
    expect(shrunk.blocks * shrunk.bsize).toBeLessThanOrEqual(128 * MiB);
    client = await connect(db.url);
    try {
      expect((await client.query("SELECT count(*)::int AS n FROM keep")).rows[0].n).toBe(101);
    } finally {
      await client.end().catch(() => undefined);
    }

    await deprovision("postgresql", db.id);
    await expectNothingLeft(diskDir, db.volume);
  });

  it("Redis: the append-only file meets the disk and writes are refused, reads go on", async () => {
    const db = await provision("redis", "redis-disk-32");
    const client = new Redis(db.url, { maxRetriesPerRequest: 0 });
    try {
      await client.set("kept", "yes");
      const value = randomBytes(96 * 1024).toString("base64"); // 128 KiB, incompressible
      let refused: Error | undefined;
      for (let i = 0; i < 400 && !refused; i++) {
        try {
          await client.set(`filler-${i}`, value);
        } catch (error) {
          refused = error as Error;
        }
      }
      console.log(`Redis on a 32 MiB disk: ${refused?.message}`);
      expect(refused?.message).toMatch(/MISCONF.*No space left on device/);
      expect((await hostView(diskDir, db.volume)).allocatedBytes!).toBeLessThanOrEqual(32 * MiB);
      expect(await client.get("kept")).toBe("yes");
    } finally {
      client.disconnect();
    }
    await deprovision("redis", db.id);
    await expectNothingLeft(diskDir, db.volume);
    // A full Redis cannot write a snapshot: what its deletion kept is a copy of its files.
    const [final] = await stack.db.backup.findMany({ where: { resourceId: db.id, method: "final" } });
    expect(final).toMatchObject({ status: "done", format: "data.tar" });
    expect(Number(final!.contentSize)).toBeGreaterThan(16 * MiB);
  });

  it("a disk not mounted (a host reboot) keeps its container from starting on the host's disk; reconciliation mounts it and starts the database, data kept", async () => {
    const db = await provision("postgresql", SMALL);
    let client = await connect(db.url);
    await client.query("CREATE TABLE keep AS SELECT 42 AS answer");
    await client.end();

    // What a reboot leaves: the container stopped, the image neither attached nor mounted.
    await run("docker", ["stop", db.container]);
    const mountPath = join(diskDir, db.volume);
    await run("umount", [mountPath]);
    for (const device of (await run("losetup", ["--noheadings", "--output", "NAME", "--associated", `${mountPath}.img`])).stdout.split("\n").filter(Boolean)) {
      await run("losetup", ["-d", device]);
    }
    expect((await hostView(diskDir, db.volume)).loops).toEqual([]);
    // Docker cannot bind the missing data directory: the database does not start on the host's disk.
    await expect(run("docker", ["start", db.container])).rejects.toThrow(/no such file or directory/);
    expect((await dockerInspect(db.container))?.State.Running).toBe(false);

    const report = await reconciler.reconcileOnce();
    console.log(`reconciliation after a simulated reboot: ${JSON.stringify(report)}`);
    expect(report.mountedDisks).toEqual([db.volume]);
    expect(report.startedContainers).toEqual([db.container]);
    await expect.poll(async () => (await dockerInspect(db.container))?.State.Running, WAIT).toBe(true);
    await expect
      .poll(async () => {
        const probe = new pg.Client({ connectionString: db.url });
        try {
          await probe.connect();
          return (await probe.query("SELECT answer FROM keep")).rows[0].answer as number;
        } catch {
          return undefined;
        } finally {
          await probe.end().catch(() => undefined);
        }
      }, WAIT)
      .toBe(42);
    // A second pass has nothing to mend.
    const again = await reconciler.reconcileOnce();
    expect([again.mountedDisks, again.startedContainers]).toEqual([[], []]);
    client = await connect(db.url);
    await client.end();

    await deprovision("postgresql", db.id);
    await expectNothingLeft(diskDir, db.volume);
  });

  it("ensureVolume and removeVolume replayed after a crash at any step, or twice, leave one disk or nothing", async () => {
    const labelsOf = (resourceId: string) => ({ resourceId, addonId: "postgresql", plan: SMALL });
    const disks = new DiskImages(diskDir);
    const resourceId = `postgresql-disktest${randomBytes(4).toString("hex")}`;
    const volume = `berth-${resourceId}-data`;
    const image = join(diskDir, `${volume}.img`);

    // Twice: one image, one loop device, one mount, one volume.
    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    let view = await hostView(diskDir, volume);
    expect([view.sizeBytes, view.loops.length, view.mounts.length]).toEqual([64 * MiB, 1, 1]);
    expect(await volumeExists(volume)).toBe(true);
    await writeFile(join(disks.dataPath(volume), "marker"), "kept");

    // Crash after losetup, before mount: the replay reuses the device.
    await run("umount", [disks.mountPath(volume)]);
    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    view = await hostView(diskDir, volume);
    expect([view.loops.length, view.mounts.length]).toEqual([1, 1]);
    expect(await readFile(join(disks.dataPath(volume), "marker"), "utf8")).toBe("kept");

    // Removal twice, and removal after a crash at each step: Docker volume gone; unmounted; detached.
    await deps.runtime.removeVolume(volume);
    await deps.runtime.removeVolume(volume);
    await expectNothingLeft(diskDir, volume);

    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    await run("docker", ["volume", "rm", volume]); // crash after the volume's removal
    await deps.runtime.removeVolume(volume);
    await expectNothingLeft(diskDir, volume);

    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    await run("docker", ["volume", "rm", volume]);
    await run("umount", [disks.mountPath(volume)]); // crash after the unmount
    await deps.runtime.removeVolume(volume);
    await expectNothingLeft(diskDir, volume);

    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    await run("docker", ["volume", "rm", volume]);
    await run("umount", [disks.mountPath(volume)]);
    await run("losetup", ["-d", (await hostView(diskDir, volume)).loops[0]!.split(/\s+/)[0]!]); // crash after the detach
    await deps.runtime.removeVolume(volume);
    await expectNothingLeft(diskDir, volume);

    // Crash during mkfs: a half-made image under its temporary name is rebuilt, never used.
    await mkdir(diskDir, { recursive: true });
    await writeFile(`${image}.tmp`, "half a filesystem");
    await deps.runtime.ensureVolume(volume, labelsOf(resourceId), 64);
    view = await hostView(diskDir, volume);
    expect(view.leftovers.sort()).toEqual([volume, `${volume}.img`]);
    expect([view.sizeBytes, view.loops.length, view.mounts.length]).toEqual([64 * MiB, 1, 1]);

    // Crash between the image and the volume of a resource the control plane does not know: reconciliation removes the stray disk.
    await run("docker", ["volume", "rm", volume]);
    const report = await reconciler.reconcileOnce();
    expect(report.removedVolumes).toContain(volume);
    await expectNothingLeft(diskDir, volume);
  });

  it("a volume made without a disk (limits were off) is not silently taken as limited", async () => {
    const resourceId = `postgresql-disktest${randomBytes(4).toString("hex")}`;
    const volume = `berth-${resourceId}-data`;
    await run("docker", ["volume", "create", "--label", `berth.resource=${resourceId}`, volume]);
    try {
      await expect(deps.runtime.ensureVolume(volume, { resourceId, addonId: "postgresql", plan: SMALL }, 64)).rejects.toThrow(
        /exists without its disk image/,
      );
    } finally {
      await deps.runtime.removeVolume(volume);
    }
    await expectNothingLeft(diskDir, volume);
  });
});

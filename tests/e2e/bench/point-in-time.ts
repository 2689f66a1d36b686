/**
 * 7. Point-in-time recovery of PostgreSQL, with production's settings (archive_timeout 60 s, the
 * worker's shipper every 15 s): a database filled to `sizeMiB`, backed up (its physical copy), then
 * written to five times a second (a little longer each trial) until its host is "lost" (its container removed; its volume is
 * never read again). It is put back to the moment of the loss from the backup store alone. The
 * recovery point is how long before the loss its last recovered write was made; the restore time
 * is the operation's, as the control plane recorded it.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { pgRows, startStack, waitUntil, type Stack } from "../src/index.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const PLAN = "postgresql-business-1024";
const WRITE_EVERY_MS = 200;
/** How much longer each trial writes than the one before. */
const LOSS_OFFSET_SECONDS = 23;

export interface PointInTimeBenchRow {
  trial: number;
  writingSeconds: number;
  recoveryPointSeconds: number;
  writesLost: number;
  restoreSeconds: number;
  baseMiB: number;
  segmentsArchived: number;
}

export async function benchPointInTime({ sizeMiB, trials, writingSeconds }: { sizeMiB: number; trials: number; writingSeconds: number }): Promise<PointInTimeBenchRow[]> {
  // A deployment of its own, so that its shipper ships only its databases; no containment (the loss stays a loss).
  const stack = await startStack({ archiveShipper: true, containmentWatchers: 0, env: { BERTH_DEPLOYMENT_ID: `bench-pitr-${randomBytes(3).toString("hex")}` } });
  const rows: PointInTimeBenchRow[] = [];
  try {
    const driver = stack.driver("postgresql");
    const { id } = (await driver.provision({ plan: PLAN, app_id: "bench-pitr" })).body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 300_000 });
    const url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
    await pgRows(url, `CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5(random()::text) AS hash, repeat('berth ', 36) AS body FROM generate_series(1, ${Math.round((sizeMiB * MiB) / 330)}) g`);
    await pgRows(url, "CREATE TABLE beats (trial int NOT NULL, at timestamptz NOT NULL)");
    // Each trial loses its host at another point of the archive's 60-second cycle (and of the shipper's 15).
    for (let trial = 1; trial <= trials; trial++) rows.push(await benchOne(stack, id, url, trial, writingSeconds + (trial - 1) * LOSS_OFFSET_SECONDS));
    await driver.deprovision(id);
  } finally {
    await stack.close();
  }
  console.log("\n7. PostgreSQL point-in-time recovery after a lost host (%s, %d MiB; archive_timeout 60 s, shipped every 15 s)", PLAN, sizeMiB);
  console.table(
    Object.fromEntries(
      rows.map((row) => [
        `trial ${row.trial}`,
        {
          "written for s": row.writingSeconds,
          "recovery point s": row.recoveryPointSeconds,
          "writes lost": row.writesLost,
          "restore s": row.restoreSeconds,
          "base MiB": row.baseMiB,
          "WAL segments": row.segmentsArchived,
        },
      ]),
    ),
  );
  return rows;
}

async function benchOne(stack: Stack, id: string, url: string, trial: number, writingSeconds: number): Promise<PointInTimeBenchRow> {
  const driver = stack.driver("postgresql");
  // A backup since the last recovery: its physical copy starts the next one.
  const created = await driver.request("POST", `${id}/backups`);
  const backupId = (created.body as { backup: { id: string } }).backup.id;
  await waitUntil("the backup", async () => (await stack.db.operation.findFirst({ where: { backupId } }))?.status === "succeeded", { timeoutMs: 3_600_000, intervalMs: 200 });
  const base = await stack.db.baseBackup.findUniqueOrThrow({ where: { backupId } });

  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  let written = 0;
  const until = Date.now() + writingSeconds * 1000;
  while (Date.now() < until) {
    await client.query("INSERT INTO beats VALUES ($1, clock_timestamp())", [trial]);
    written++;
    await sleep(WRITE_EVERY_MS);
  }
  // The loss: the database's container goes at once, and its volume is never read again.
  const lostAt = new Date();
  await run("docker", ["rm", "-f", `berth-${id}`]);
  await client.end().catch(() => undefined);
  const segmentsArchived = await stack.db.archivedLog.count({ where: { resourceId: id, volumeName: base.volumeName } });

  const restore = await driver.request("POST", `${id}/restore`, { at: lostAt.toISOString() });
  if (restore.status !== 202) throw new Error(`the restore was refused: ${JSON.stringify(restore.body)}`);
  const operationId = (restore.body as { operation_id: string }).operation_id;
  await waitUntil("the recovery", async () => {
    const operation = await stack.db.operation.findUnique({ where: { id: operationId } });
    if (operation?.status === "failed") throw new Error(`the recovery failed: ${operation.error}`);
    return operation?.status === "succeeded";
  }, { timeoutMs: 3_600_000, intervalMs: 200 });
  const operation = await stack.db.operation.findUniqueOrThrow({ where: { id: operationId } });
  const [kept] = await pgRows<{ last: Date; count: number }>(url, `SELECT max(at) AS last, count(*)::int AS count FROM beats WHERE trial = ${trial}`);
  return {
    trial,
    writingSeconds,
    recoveryPointSeconds: round((lostAt.getTime() - kept!.last.getTime()) / 1000),
    writesLost: written - kept!.count,
    restoreSeconds: round((operation.finishedAt!.getTime() - operation.startedAt!.getTime()) / 1000),
    baseMiB: round(Number(base.contentSize) / MiB),
    segmentsArchived,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;

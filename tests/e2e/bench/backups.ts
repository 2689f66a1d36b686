/**
 * 6. Backups: a PostgreSQL database filled to each size, backed up and restored through Berth
 * (API → worker → the sealed backup store on the host directory), beside `pg_dump | gzip` to a
 * file run by hand in the same container. Throughput is the database's size over the operation's
 * time as the control plane recorded it; the worker (a process of its own, doing nothing else) has
 * its RSS sampled every 50 ms while it works: it must stay flat as the database grows.
 */
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import pg from "pg";
import { startStack, waitUntil, type Stack } from "../src/index.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const PLAN = "postgresql-business-1024";

export interface BackupBenchRow {
  sizeMiB: number;
  databaseMiB: number;
  storedMiB: number;
  backupSeconds: number;
  backupMBps: number;
  restoreSeconds: number;
  restoreMBps: number;
  pgDumpGzipSeconds: number;
  pgDumpGzipMBps: number;
  workerPeakRssMiB: number;
  workerIdleRssMiB: number;
}

export async function benchBackups({ sizesMiB }: { sizesMiB: readonly number[] }): Promise<BackupBenchRow[]> {
  const stack = await startStack({ inProcessWorker: false });
  const worker = await stack.spawnWorker();
  const rows: BackupBenchRow[] = [];
  try {
    for (const sizeMiB of sizesMiB) rows.push(await benchOne(stack, worker.pid, sizeMiB));
  } finally {
    await worker.stop();
    await stack.close();
  }
  console.log("\n6. Backups of a PostgreSQL database (%s), through Berth vs pg_dump | gzip by hand", PLAN);
  console.table(
    Object.fromEntries(
      rows.map((row) => [
        `${row.sizeMiB} MiB`,
        {
          "db MiB": row.databaseMiB,
          "stored MiB": row.storedMiB,
          "backup MB/s": row.backupMBps,
          "restore MB/s": row.restoreMBps,
          "pg_dump|gzip MB/s": row.pgDumpGzipMBps,
          "worker peak RSS MiB": row.workerPeakRssMiB,
          "worker idle RSS MiB": row.workerIdleRssMiB,
        },
      ]),
    ),
  );
  return rows;
}

async function benchOne(stack: Stack, workerPid: number, sizeMiB: number): Promise<BackupBenchRow> {
  const driver = stack.driver("postgresql");
  const { id } = (await driver.provision({ plan: PLAN, app_id: `bench-backup-${sizeMiB}` })).body as { id: string };
  await stack.standIn.waitForProvisioned(id, { timeoutMs: 300_000 });
  const url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // Rows of ~300 bytes, half of them random (md5), made by the server itself.
  const rows = Math.round((sizeMiB * MiB) / 330);
  await client.query(`CREATE TABLE filler AS SELECT g AS id, md5(g::text) || md5(random()::text) AS hash, repeat('berth ', 36) AS body FROM generate_series(1, ${rows}) g`);
  const databaseBytes = Number((await client.query<{ size: string }>("SELECT pg_database_size(current_database()) AS size")).rows[0]!.size);
  const database = new URL(url).pathname.slice(1);
  await client.end();

  const sampler = sampleRss(workerPid);
  const idleRss = await rssMiB(workerPid);
  const created = await driver.request("POST", `${id}/backups`);
  const backupId = (created.body as { backup: { id: string } }).backup.id;
  await waitUntil("the backup", async () => (await stack.db.backup.findUnique({ where: { id: backupId } }))?.status === "done", { timeoutMs: 3_600_000, intervalMs: 200 });
  const backup = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId } });
  const backupSeconds = (backup.finishedAt!.getTime() - backup.startedAt!.getTime()) / 1000;

  const restore = await driver.request("POST", `${id}/restore`, { backup_id: backupId });
  const operationId = (restore.body as { operation_id: string }).operation_id;
  await waitUntil("the restore", async () => (await stack.db.operation.findUnique({ where: { id: operationId } }))?.status === "succeeded", {
    timeoutMs: 3_600_000,
    intervalMs: 200,
  });
  const operation = await stack.db.operation.findUniqueOrThrow({ where: { id: operationId } });
  const restoreSeconds = (operation.finishedAt!.getTime() - operation.startedAt!.getTime()) / 1000;
  const peakRss = sampler.stop();

  // By hand: the same pg_dump in the same container, gzipped to a file on the host.
  const file = `/tmp/berth-bench-${id}.pgdump.gz`;
  const started = performance.now();
  await run("bash", ["-c", `set -o pipefail; docker exec -u postgres berth-${id} pg_dump --host=/var/lib/postgresql/data --format=custom --dbname=${database} | gzip -6 > ${file}`], {
    maxBuffer: 1024 * 1024,
  });
  const pgDumpGzipSeconds = (performance.now() - started) / 1000;
  await rm(file, { force: true });
  await driver.deprovision(id);

  const mbps = (seconds: number) => Math.round((databaseBytes / 1e6 / seconds) * 10) / 10;
  return {
    sizeMiB,
    databaseMiB: Math.round(databaseBytes / MiB),
    storedMiB: Math.round(Number(backup.size) / MiB),
    backupSeconds: round(backupSeconds),
    backupMBps: mbps(backupSeconds),
    restoreSeconds: round(restoreSeconds),
    restoreMBps: mbps(restoreSeconds),
    pgDumpGzipSeconds: round(pgDumpGzipSeconds),
    pgDumpGzipMBps: mbps(pgDumpGzipSeconds),
    workerPeakRssMiB: await peakRss,
    workerIdleRssMiB: idleRss,
  };
}

const round = (value: number) => Math.round(value * 10) / 10;

async function rssMiB(pid: number): Promise<number> {
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024);
}

/** The process's highest RSS until `stop`, sampled every 50 ms. */
function sampleRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssMiB(pid).catch(() => 0));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

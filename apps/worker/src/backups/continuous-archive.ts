import { setTimeout as sleep } from "node:timers/promises";
import type { AddonDefinition, AdminCommand, ContinuousArchive } from "@berth/addon-sdk";
import { ARCHIVE_QUEUE, ARCHIVE_SCHEDULER_ID, ARCHIVE_SHIP_JOB } from "@berth/jobs";
import { statusesIn } from "@berth/operations";
import type { ConnectionOptions } from "bullmq";
import { runAdminCommand } from "../admin-commands.js";
import type { WorkerDeps } from "../deps.js";
import { startScheduledTask, type ScheduledTask } from "../scheduled-task.js";
import { archivedLogObjectKey, baseBackupObjectKey } from "./object-keys.js";

/** A database whose engine keeps a continuous archive, as the shipper reaches it. */
export interface ArchivingDatabase {
  readonly addon: AddonDefinition;
  readonly resourceId: string;
  readonly containerName: string;
}

/** What a spool's file name may be (it becomes part of an object key). */
const LOG_NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,99}$/;

/** How long one database's shipping may take in a pass before the pass moves on. */
const SHIP_TIMEOUT_MS = 5 * 60_000;

/** How long a closed log may take to reach the store (its engine archives it within moments). */
const CLOSE_TIMEOUT_MS = 60_000;

export function archiveOf(addon: AddonDefinition): ContinuousArchive | undefined {
  return addon.backup?.archive;
}

/**
 * Ships the closed log files in a database's spool: each is streamed into the backup store
 * (sealed and checksummed like a backup), recorded, and only then removed from the spool. A
 * crash at any point ships the file again (the same bytes, the same key); two shippers on one
 * database write the same object and record. Returns the names shipped.
 */
async function shipArchive(deps: WorkerDeps, database: ArchivingDatabase, signal: AbortSignal): Promise<string[]> {
  const archive = archiveOf(database.addon);
  if (!archive) return [];
  const { resourceId } = database;
  // Each volume's database has a history of its own (a restore switches to a new volume, and the
  // container's name stays): the files are recorded under the volume the container runs on, read
  // before and after each file. A restore records its switch before it starts the new container,
  // so when both reads agree, the file came from that volume.
  const volumeNow = async () => (await deps.db.resource.findUniqueOrThrow({ where: { id: resourceId }, select: { volumeName: true } })).volumeName;
  const volumeName = await volumeNow();
  if (volumeName === null) return [];
  const listing = await commandOutput(deps, database.containerName, archive.listSpool(), signal);
  const shipped: string[] = [];
  for (const line of listing.split("\n").filter((each) => each.trim() !== "")) {
    const [name, closedAtMs] = line.split("\t");
    if (!name || !LOG_NAME.test(name) || !closedAtMs || !/^\d+$/.test(closedAtMs)) throw new Error(`unexpected line in the archive's spool listing: ${JSON.stringify(line)}`);
    const path = `${archive.spoolDir}/${name}`;
    const content = await deps.runtime.execStream(database.containerName, { command: ["cat", path], user: archive.user }, signal);
    const stored = await deps.backups.write(archivedLogObjectKey(resourceId, volumeName, name), content, { signal });
    if ((await volumeNow()) !== volumeName) break; // switched meanwhile: the next pass ships from the new volume
    const key = { resourceId_volumeName_name: { resourceId, volumeName, name } };
    const record = { objectKey: stored.key, size: stored.size, contentSize: stored.contentSize, sha256: stored.sha256, archivedAt: new Date(Number(closedAtMs)) };
    await deps.db.archivedLog.upsert({ where: key, create: { resourceId, volumeName, name, ...record }, update: record }).catch(async (error: unknown) => {
      // Recorded at the same moment by another shipper of the same file.
      if (!(await deps.db.archivedLog.findUnique({ where: key }))) throw error;
    });
    await runAdminCommand(deps, database.containerName, { command: ["rm", "-f", path], user: archive.user }, signal);
    shipped.push(name);
  }
  return shipped;
}

/**
 * Closes the log being written and waits until it is in the store: every change made before
 * this call is then archived, up to a record with a time after them (what a recovery to a moment
 * just before needs to stop on).
 */
async function closeAndShip(deps: WorkerDeps, database: ArchivingDatabase): Promise<void> {
  const archive = archiveOf(database.addon);
  if (!archive) return;
  const signal = AbortSignal.timeout(CLOSE_TIMEOUT_MS);
  const closed = (await commandOutput(deps, database.containerName, archive.closeLog(), signal)).trim();
  if (!LOG_NAME.test(closed)) throw new Error(`the engine named its closed log ${JSON.stringify(closed)}`);
  const { volumeName } = await deps.db.resource.findUniqueOrThrow({ where: { id: database.resourceId }, select: { volumeName: true } });
  if (volumeName === null) return;
  for (;;) {
    await shipArchive(deps, database, signal);
    if (await deps.db.archivedLog.findFirst({ where: { resourceId: database.resourceId, volumeName, name: closed } })) return;
    if (signal.aborted) throw new Error(`log ${closed} was not archived within ${CLOSE_TIMEOUT_MS} ms`);
    await sleep(250, undefined, { signal }).catch(() => undefined);
  }
}

/**
 * `closeAndShip` before a recovery: when the database runs, its changes must be archived (a
 * failure fails the attempt, to be retried); when its container is gone (a lost host), the
 * archive as it is is all there is.
 */
export async function archiveLatestChanges(deps: WorkerDeps, database: ArchivingDatabase): Promise<void> {
  try {
    await closeAndShip(deps, database);
  } catch (error) {
    if ((await deps.runtime.inspectContainer(database.containerName))?.running) throw error;
    deps.logger.warn({ resourceId: database.resourceId, err: error }, "the database is not running: recovering from its archive as it is");
  }
}

/**
 * Takes the physical copy (base backup) that goes with backup `backupId`, once: a retried attempt
 * finds it recorded. A recovery from it may replay the logs from `walStart`, the one being written
 * before the copy began.
 */
export async function takeBaseBackup(deps: WorkerDeps, database: ArchivingDatabase & { volumeName: string }, backupId: string, signal: AbortSignal): Promise<void> {
  const archive = archiveOf(database.addon);
  if (!archive) return;
  if (await deps.db.baseBackup.findUnique({ where: { backupId } })) return;
  const walStart = (await commandOutput(deps, database.containerName, archive.currentLog(), signal)).trim();
  if (!LOG_NAME.test(walStart)) throw new Error(`the engine named its current log ${JSON.stringify(walStart)}`);
  const startedAt = new Date();
  const copy = await deps.runtime.execStream(database.containerName, archive.baseBackup(), signal);
  const stored = await deps.backups.write(baseBackupObjectKey(database.resourceId, database.volumeName, backupId), copy, { signal });
  await deps.db.baseBackup.create({
    data: { backupId, resourceId: database.resourceId, volumeName: database.volumeName, objectKey: stored.key, size: stored.size, contentSize: stored.contentSize, sha256: stored.sha256, walStart, startedAt, finishedAt: new Date() },
  });
}

/** A pass: ships the spool of every running database whose engine archives (one after the other; one failing does not stop the others). */
async function shipAll(deps: WorkerDeps): Promise<{ shipped: number; failed: string[] }> {
  const archiving = [...deps.addons.values()].filter((addon) => archiveOf(addon)).map((addon) => addon.id);
  // This worker's Docker host's databases (another deployment's, sharing the control plane, are its own workers' to ship).
  const containers = (await deps.runtime.listManaged()).containers.map((container) => container.name);
  const resources = await deps.db.resource.findMany({
    where: { addon: { in: archiving }, status: { in: statusesIn("archiving") }, containerName: { in: containers } },
    select: { id: true, addon: true, containerName: true },
  });
  let shipped = 0;
  const failed: string[] = [];
  for (const resource of resources) {
    const database = { addon: deps.addons.get(resource.addon)!, resourceId: resource.id, containerName: resource.containerName! };
    try {
      shipped += (await shipArchive(deps, database, AbortSignal.timeout(SHIP_TIMEOUT_MS))).length;
    } catch (error) {
      // A container between two runs, or being replaced: the next pass ships what is left.
      failed.push(resource.id);
      deps.logger.warn({ resourceId: resource.id, err: error }, "archive not shipped");
    }
  }
  return { shipped, failed };
}

/** The shipper: a pass every `intervalMs` (`BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS`), shared by all workers. */
export function startArchiveShipper(
  deps: WorkerDeps,
  { connection, prefix, intervalMs }: { connection: ConnectionOptions; prefix?: string; intervalMs: number },
): Promise<ScheduledTask> {
  return startScheduledTask({
    connection,
    prefix,
    intervalMs,
    queueName: ARCHIVE_QUEUE,
    schedulerId: ARCHIVE_SCHEDULER_ID,
    jobName: ARCHIVE_SHIP_JOB,
    logger: deps.logger,
    run: () => shipAll(deps),
  });
}

/** A short command's whole stdout. */
async function commandOutput(deps: Pick<WorkerDeps, "runtime">, containerName: string, command: AdminCommand, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await deps.runtime.execStream(containerName, command, signal)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

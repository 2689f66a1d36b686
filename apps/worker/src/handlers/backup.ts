import type { AddonCredentials, AddonDefinition } from "@berth/addon-sdk";
import type { Backup } from "@berth/db";
import { isIn } from "@berth/operations";
import { archiveOf, takeBaseBackup } from "../backups/continuous-archive.js";
import { backupObjectKey } from "../backups/object-keys.js";
import { pruneBackups } from "../backups/retention.js";
import type { WorkerDeps } from "../deps.js";
import { PermanentError } from "../errors.js";
import type { OperationContext } from "../operation-context.js";

/** How long one dump may take before the attempt is given up (and retried). */
const DUMP_TIMEOUT_MS = 6 * 3600_000;

/**
 * Takes a backup: the engine's dump, run in the database's container, is streamed into the backup
 * store, then the backup is recorded as done, and the resource's backups are pruned by their
 * retention rule. An engine with a continuous archive also gets a physical copy, the start of a
 * point-in-time recovery. The database serves throughout.
 */
export async function backup(ctx: OperationContext<"backup">): Promise<void> {
  const { deps, resource, operation } = ctx;
  if (operation.backupId === null) throw new PermanentError("backup operation without its backup");
  const record = await deps.db.backup.findUniqueOrThrow({ where: { id: operation.backupId } });
  if (record.status !== "done") {
    if (!isIn("backupable", resource.status)) throw new PermanentError(`cannot back up a database that is ${resource.status}`);
    await ctx.step("dump");
    await dumpInto(deps, { addon: ctx.addon, containerName: ctx.containerName, credentials: ctx.credentials() }, record);
  }
  if (archiveOf(ctx.addon) && isIn("backupable", resource.status)) {
    await ctx.step("base");
    const database = { addon: ctx.addon, resourceId: resource.id, containerName: ctx.containerName, volumeName: ctx.volumeName };
    await takeBaseBackup(deps, database, record.id, AbortSignal.timeout(DUMP_TIMEOUT_MS));
  }
  await ctx.step("prune");
  await pruneBackups(deps, resource.id, ctx.plan(resource.plan));
}

/**
 * Streams the engine's dump from the database's running container into the backup store
 * (compressed, encrypted, checksummed on the way: never held whole, never in clear on the worker's
 * disk) and records the backup done with its size and SHA-256. A retried attempt dumps again: the
 * store writes an object whole or not at all.
 */
export async function dumpInto(
  deps: WorkerDeps,
  database: { addon: AddonDefinition; containerName: string; credentials: AddonCredentials },
  record: Backup,
): Promise<void> {
  const engine = database.addon.backup;
  if (!engine) throw new PermanentError(`addon ${database.addon.id} has no backups`);
  await deps.db.backup.update({ where: { id: record.id }, data: { status: "running", startedAt: record.startedAt ?? new Date(), error: null } });
  const signal = AbortSignal.timeout(DUMP_TIMEOUT_MS);
  const dump = await deps.runtime.execStream(database.containerName, engine.dump(database.credentials), signal);
  const stored = await deps.backups.write(backupObjectKey(record.resourceId, record.id, engine.format), dump, { signal });
  await deps.db.backup.update({
    where: { id: record.id },
    data: { status: "done", objectKey: stored.key, size: stored.size, contentSize: stored.contentSize, sha256: stored.sha256, finishedAt: new Date() },
  });
  deps.metrics?.backupBytes.observe({ addon: database.addon.id }, stored.size);
}

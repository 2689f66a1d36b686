import { requireTransition } from "@berth/operations";
import type { OperationContext } from "../operation-context.js";
import type { Backup } from "@berth/db";
import { RAW_COPY_FORMAT } from "@berth/operations";
import { backupObjectKey } from "../backups/object-keys.js";
import { ReadinessTimeoutError, waitUntilReady } from "../readiness.js";
import { ExecFailedError } from "../runtime/container-runtime.js";
import { dumpInto } from "./backup.js";

/**
 * Removes a database: first a final backup of its data (kept `BERTH_DELETED_RETENTION_DAYS`, so a
 * deletion can be undone), then its container and volume; then the port is released and the
 * credentials forgotten. Nothing is removed until the final backup is stored: a dump that keeps
 * failing fails the deprovision with the data in place, for an operator to decide.
 */
export async function deprovision(ctx: OperationContext<"deprovision">): Promise<void> {
  const { deps, resource } = ctx;
  if (resource.status === "deprovisioned") return;
  await requireTransition(deps.db, resource.id, "deprovisioning");

  await ctx.step("final-backup");
  await takeFinalBackup(ctx);

  await ctx.step("container");
  await deps.runtime.removeContainer(ctx.containerName);

  await ctx.step("volume");
  await deps.runtime.removeVolume(ctx.volumeName);

  await requireTransition(deps.db, resource.id, "deprovisioned", {
    data: { statusReason: null, deprovisionedAt: new Date(), port: null, credentials: null },
  });
}

/**
 * The final backup, for a database a customer had (a warm pool's, or one whose provisioning never
 * finished, holds no customer data) of an engine with backups. Its container is started again if it
 * was stopped; a replay finds the backup done and goes on.
 */
async function takeFinalBackup(ctx: OperationContext<"deprovision">): Promise<void> {
  const { deps, resource } = ctx;
  if (!ctx.addon.backup || resource.provisionedAt === null || resource.credentials === null || resource.port === null) return;
  const existing = await deps.db.backup.findFirst({ where: { resourceId: resource.id, method: "final" }, orderBy: { createdAt: "desc" } });
  if (existing?.status === "done") return;
  const record = existing ?? (await deps.db.backup.create({ data: { resourceId: resource.id, method: "final", format: ctx.addon.backup.format } }));
  const credentials = ctx.credentials();
  await deps.runtime.ensureContainerRunning(await ctx.containerRequest(ctx.plan(resource.plan), credentials));
  try {
    await waitUntilReady(ctx.addon, [ctx.endpoints(credentials).probe], deps.readinessIntervalMs);
    await dumpInto(deps, { addon: ctx.addon, containerName: ctx.containerName, credentials }, record);
  } catch (error) {
    if (!(error instanceof ExecFailedError) && !(error instanceof ReadinessTimeoutError)) throw error;
    // The engine cannot dump its data (its disk is full, it does not start): keep a cold copy of its files instead.
    ctx.logger.warn({ err: error.message }, "final backup: the engine could not dump; keeping a copy of its data directory");
    await copyDataInto(ctx, record);
  }
}

/**
 * The data directory, copied as it is (a tar of the files, the container stopped) into the backup
 * store: what a deleted database leaves when its engine could not dump. It is downloaded, not
 * restored through Berth (format `data.tar`, which no engine loads).
 */
async function copyDataInto(ctx: OperationContext<"deprovision">, record: Backup): Promise<void> {
  const { deps, resource } = ctx;
  const spec = ctx.addon.containerSpec({ plan: ctx.plan(resource.plan), credentials: ctx.credentials(), image: ctx.image });
  const format = RAW_COPY_FORMAT;
  await deps.db.backup.update({ where: { id: record.id }, data: { status: "running", format, startedAt: record.startedAt ?? new Date(), error: null } });
  const copy = await deps.runtime.stopAndArchive(ctx.containerName, spec.dataPath);
  const stored = await deps.backups.write(backupObjectKey(resource.id, record.id, format), copy);
  await deps.db.backup.update({
    where: { id: record.id },
    data: { status: "done", objectKey: stored.key, size: stored.size, contentSize: stored.contentSize, sha256: stored.sha256, finishedAt: new Date() },
  });
}

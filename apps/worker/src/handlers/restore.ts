import { isIn, requireTransition } from "@berth/operations";
import { archiveLatestChanges } from "../backups/continuous-archive.js";
import { loadableBackup, startFromBackup, verifyBackup } from "../backups/load-backup.js";
import { startAtMoment, verifiedRecoveryPlan, type RecoveryPlan } from "../backups/point-in-time.js";
import { PermanentError } from "../errors.js";
import type { OperationContext } from "../operation-context.js";
import { waitUntilReady } from "../readiness.js";
import type { ContainerRequest } from "../runtime/container-runtime.js";

/** How long loading one backup may take before the attempt is given up (and retried from the start). */
const LOAD_TIMEOUT_MS = 6 * 3600_000;

/**
 * Restores one of the database's backups into it, or (point-in-time) puts it back to a moment:
 * its latest changes archived first, then a physical copy and the archived logs replayed to it.
 * What is loaded is verified (checksum and every record's tag) before anything is touched; then
 * loaded into a new volume by a staging container
 * (same image, limits and credentials, no public port), while the database keeps serving from its
 * old volume. Only when the load succeeded does the database switch: its container is replaced by
 * one on the new volume, and once it answers, the old volume is removed.
 *
 * Before the switch, a failure (or a crash, then a retry) leaves the database as it was: the
 * staging container and the new volume are discarded, and a retry starts over on an empty volume.
 * After the switch, a retry finishes the switch; the data is the backup's.
 */
export async function restore(ctx: OperationContext<"restore">): Promise<void> {
  const { deps, resource, operation } = ctx;
  if (!ctx.addon.backup) throw new PermanentError(`addon ${ctx.addon.id} has no backups`);
  const moment = operation.targetTime;
  if (operation.backupId === null && moment === null) throw new PermanentError("restore operation without its backup or moment");
  const backup = operation.backupId === null ? null : loadableBackup(await deps.db.backup.findUniqueOrThrow({ where: { id: operation.backupId } }));
  const plan = ctx.plan(resource.plan);
  const credentials = ctx.credentials();
  const labels = { resourceId: resource.id, addonId: ctx.addon.id, plan: plan.name };
  const spec = ctx.addon.containerSpec({ plan, credentials, image: ctx.image });
  // Named after the operation: every attempt of this restore finds the same one.
  const restoredVolume = `${ctx.volumeName.replace(/-r[0-9a-f]{8}$/, "")}-r${operation.id.slice(0, 8)}`;
  const staging: ContainerRequest = { name: `${ctx.containerName}-restore`, volumeName: restoredVolume, spec, labels };

  if (ctx.volumeName !== restoredVolume) {
    if (!isIn("backupable", resource.status) && resource.status !== "restoring") {
      throw new PermanentError(`cannot restore into a database that is ${resource.status}`);
    }
    await ctx.step("verify");
    // Refused before the database is touched: it stays as it is.
    let recovery: RecoveryPlan | null = null;
    if (backup) await verifyBackup(deps, backup);
    else {
      // Every change made so far into the archive, up to a record with a time after them all.
      const database = { addon: ctx.addon, resourceId: resource.id, containerName: ctx.containerName };
      await archiveLatestChanges(deps, database);
      recovery = await verifiedRecoveryPlan(deps, ctx.addon, resource.id, moment!);
    }
    await requireTransition(deps.db, resource.id, "restoring");
    const previousVolume = ctx.volumeName;
    const signal = AbortSignal.timeout(LOAD_TIMEOUT_MS);
    try {
      await ctx.step("volume");
      // A crashed attempt may have left part of a load: start over on an empty volume.
      await deps.runtime.removeContainer(staging.name);
      await deps.runtime.removeVolume(restoredVolume);
      await deps.runtime.ensureVolume(restoredVolume, labels, plan.limits.diskMb);

      await ctx.step("staging");
      const beforeLoad = () => ctx.step("load");
      const users = await ctx.databaseUsers();
      if (backup) await startFromBackup(deps, { addon: ctx.addon, credentials, users, container: staging, backup, signal, beforeLoad });
      else await startAtMoment(deps, { addon: ctx.addon, container: staging, plan: recovery!, to: credentials, users, signal, beforeLoad });

      await ctx.step("switch");
      await deps.runtime.removeContainer(staging.name);
      await deps.runtime.removeContainer(ctx.containerName);
      await deps.db.resource.update({ where: { id: resource.id }, data: { volumeName: restoredVolume } });
      await ctx.reloadResource();
    } catch (error) {
      await ctx.step("abandon");
      // Back on the volume it had (also when the failure came right after the switch was recorded).
      await deps.db.resource.update({ where: { id: resource.id }, data: { volumeName: previousVolume } });
      await ctx.reloadResource();
      await deps.runtime.removeContainer(staging.name);
      await deps.runtime.removeVolume(restoredVolume);
      await deps.runtime.ensureContainerRunning(await ctx.containerRequest(plan, credentials));
      await requireTransition(deps.db, resource.id, "provisioned");
      throw error;
    }
  }

  // Switched: the database runs on the restored volume (again, after a crash past the switch).
  await deps.runtime.ensureContainerRunning(await ctx.containerRequest(plan, credentials));
  await ctx.step("readiness");
  await waitUntilReady(ctx.addon, [ctx.endpoints(credentials).probe], deps.readinessIntervalMs);

  await ctx.step("cleanup");
  await deps.runtime.removeContainer(staging.name);
  const managed = await deps.runtime.listManaged();
  for (const volume of managed.volumes.filter((each) => each.resourceId === resource.id && each.name !== restoredVolume)) {
    await deps.runtime.removeVolume(volume.name);
  }
  await requireTransition(deps.db, resource.id, "provisioned", { data: { statusReason: null } });
}

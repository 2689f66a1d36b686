import { createHash } from "node:crypto";
import type { Backup, Resource } from "@berth/db";
import { BACKUP_SCHEDULE_JOB, BACKUP_SCHEDULER_ID, BACKUP_SCHEDULE_QUEUE } from "@berth/jobs";
import { ResourceService, statusesIn } from "@berth/operations";
import type { OperationQueue } from "@berth/jobs";
import type { ConnectionOptions } from "bullmq";
import type { WorkerDeps } from "../deps.js";
import { startScheduledTask, type ScheduledTask } from "../scheduled-task.js";
import { pruneExpiredFinalBackups } from "./retention.js";

/** Databases without an hour of their own are backed up between 00:00 and 05:59 UTC, spread by their id (the host is not hit at once). */
const NIGHT_HOURS = 6;

/** The hour (UTC) of a database's daily backup: its own (`PUT …/backup-schedule`), or one its id picks in the night. */
export function backupHourOf(resource: Pick<Resource, "id" | "backupHour">): number {
  return resource.backupHour ?? createHash("sha256").update(resource.id).digest().readUInt32BE(0) % NIGHT_HOURS;
}

/** Whether a database's daily backup is due at `now`: today's hour has come and no periodic backup was recorded since. */
export function isBackupDue(resource: Pick<Resource, "id" | "backupHour">, lastPeriodic: Pick<Backup, "createdAt"> | null, now: Date): boolean {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), backupHourOf(resource)));
  return now >= today && (lastPeriodic === null || lastPeriodic.createdAt < today);
}

/** Records the daily backups due at `now` (one operation each, queued in order with each database's others). */
async function scheduleDueBackups(deps: Pick<WorkerDeps, "db" | "addons" | "logger">, service: ResourceService, now = new Date()): Promise<string[]> {
  const withBackups = [...deps.addons.values()].filter((addon) => addon.backup).map((addon) => addon.id);
  const live = await deps.db.resource.findMany({
    where: { addon: { in: withBackups }, status: { in: statusesIn("backupable") } },
    include: { backups: { where: { method: "periodic" }, orderBy: { createdAt: "desc" }, take: 1 } },
  });
  const scheduled: string[] = [];
  for (const resource of live.filter((candidate) => isBackupDue(candidate, candidate.backups[0] ?? null, now))) {
    try {
      await service.backup(deps.addons.get(resource.addon)!, resource.id, "periodic");
      scheduled.push(resource.id);
    } catch (error) {
      // Removed or changed meanwhile: the next pass decides again.
      deps.logger.warn({ resourceId: resource.id, err: error }, "daily backup not scheduled");
    }
  }
  if (scheduled.length > 0) deps.logger.info({ resources: scheduled }, "daily backups scheduled");
  return scheduled;
}

/** A pass every `intervalMs`, shared by all workers (one job per interval): the daily backups due, and the deleted databases' final backups past their retention. */
export function startBackupScheduler(
  deps: WorkerDeps,
  { connection, prefix, intervalMs, queue }: { connection: ConnectionOptions; prefix?: string; intervalMs: number; queue: OperationQueue },
): Promise<ScheduledTask> {
  const service = new ResourceService(deps.db, queue);
  return startScheduledTask({
    connection,
    prefix,
    intervalMs,
    queueName: BACKUP_SCHEDULE_QUEUE,
    schedulerId: BACKUP_SCHEDULER_ID,
    jobName: BACKUP_SCHEDULE_JOB,
    logger: deps.logger,
    run: async () => ({
      scheduled: await scheduleDueBackups(deps, service),
      expired: await pruneExpiredFinalBackups(deps, deps.deletedRetentionDays),
    }),
  });
}

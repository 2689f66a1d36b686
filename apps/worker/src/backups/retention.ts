import type { AddonPlan } from "@berth/addon-sdk";
import type { Backup, BaseBackup } from "@berth/db";
import { RECOVERY_WINDOW_MS } from "@berth/operations";
import type { WorkerDeps } from "../deps.js";

/** How many backups of each kind a database keeps (Scalingo's rule): the newest of each day, week and month, and the last manual ones. */
export interface BackupRetention {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
  readonly manual: number;
}

/** Small plans: 7 dailies and 4 weeklies, the last 10 manual backups; business plans add 12 monthlies (`plan.backupRetention`). */
export const DEFAULT_RETENTION: BackupRetention = { daily: 7, weekly: 4, monthly: 0, manual: 10 };

/** A failed backup stays listed this long, for people to see why. */
const FAILED_KEPT_MS = 7 * 24 * 3600_000;

function retentionOf(plan: AddonPlan): BackupRetention {
  return { ...DEFAULT_RETENTION, ...plan.backupRetention };
}

type Listed = Pick<Backup, "id" | "method" | "status" | "createdAt">;

/**
 * The backups to delete under `retention`, at `now`. Done periodic backups are kept when they are
 * the newest of one of the `daily` latest days, `weekly` latest ISO weeks or `monthly` latest
 * months that have one (UTC); done manual ones when among the `manual` newest. A final backup (a
 * deleted database's) is kept by its own rule, a running or scheduled one is never touched, a
 * failed one goes after a week.
 */
export function backupsToPrune(backups: readonly Listed[], retention: BackupRetention, now: Date): string[] {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const done = (method: Backup["method"]) => newestFirst.filter((backup) => backup.status === "done" && backup.method === method);
  const kept = new Set<string>();
  const periodic = done("periodic");
  for (const [period, count] of [
    [dayOf, retention.daily],
    [isoWeekOf, retention.weekly],
    [monthOf, retention.monthly],
  ] as const) {
    const seen = new Set<string>();
    for (const backup of periodic) {
      const bucket = period(backup.createdAt);
      if (seen.has(bucket)) continue;
      if (seen.size === count) break;
      seen.add(bucket);
      kept.add(backup.id);
    }
  }
  for (const backup of done("manual").slice(0, retention.manual)) kept.add(backup.id);
  return newestFirst
    .filter((backup) => {
      if (backup.status === "failed") return now.getTime() - backup.createdAt.getTime() > FAILED_KEPT_MS;
      return backup.status === "done" && backup.method !== "final" && !kept.has(backup.id);
    })
    .map((backup) => backup.id);
}

/** Deletes the backups of a resource its plan's retention no longer keeps: the stored object, then the record. */
export async function pruneBackups(deps: Pick<WorkerDeps, "db" | "backups">, resourceId: string, plan: AddonPlan, now = new Date()): Promise<string[]> {
  const backups = await deps.db.backup.findMany({ where: { resourceId }, include: { base: true } });
  const pruned = backupsToPrune(backups, retentionOf(plan), now);
  for (const id of pruned) await deleteBackup(deps, backups.find((candidate) => candidate.id === id)!);
  await pruneArchive(deps, resourceId, now);
  return pruned;
}

/** The stored objects (the dump, its physical copy), then the record. */
async function deleteBackup(deps: Pick<WorkerDeps, "db" | "backups">, backup: Backup & { base: BaseBackup | null }): Promise<void> {
  if (backup.objectKey) await deps.backups.delete(backup.objectKey);
  if (backup.base) await deps.backups.delete(backup.base.objectKey);
  await deps.db.backup.delete({ where: { id: backup.id } });
}

/**
 * The continuous archive keeps what a recovery to any moment of the window needs: the logs from
 * the start of the newest physical copy taken before the window opened (or of the oldest, when all
 * are newer). Older logs are deleted; the timeline histories, small, are all kept.
 */
async function pruneArchive(deps: Pick<WorkerDeps, "db" | "backups">, resourceId: string, now: Date): Promise<void> {
  const opening = new Date(now.getTime() - RECOVERY_WINDOW_MS);
  const first =
    (await deps.db.baseBackup.findFirst({ where: { resourceId, finishedAt: { lte: opening } }, orderBy: { finishedAt: "desc" } })) ??
    (await deps.db.baseBackup.findFirst({ where: { resourceId }, orderBy: { finishedAt: "asc" } }));
  if (!first) return;
  // The segment being written when the copy began was closed after it began.
  const stale = await deps.db.archivedLog.findMany({ where: { resourceId, archivedAt: { lt: first.startedAt }, NOT: { name: { endsWith: ".history" } } } });
  for (const log of stale) {
    await deps.backups.delete(log.objectKey);
    await deps.db.archivedLog.delete({ where: { id: log.id } });
  }
}

const dayOf = (date: Date) => date.toISOString().slice(0, 10);
const monthOf = (date: Date) => date.toISOString().slice(0, 7);

/** ISO 8601 week (`2026-W49`): weeks start on Monday, week 1 holds the year's first Thursday. */
function isoWeekOf(date: Date): string {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday); // the Thursday of its week names the year
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** Deletes the final backups of deprovisioned databases older than `days` (`BERTH_DELETED_RETENTION_DAYS`): the object, then the record. */
export async function pruneExpiredFinalBackups(deps: Pick<WorkerDeps, "db" | "backups">, days: number, now = new Date()): Promise<string[]> {
  const expired = await deps.db.backup.findMany({
    where: { method: "final", createdAt: { lt: new Date(now.getTime() - days * 24 * 3600_000) }, resource: { status: "deprovisioned" } },
    include: { base: true },
  });
  for (const backup of expired) {
    await deleteBackup(deps, backup);
    // The deleted database's other backups and continuous archive go with its final one.
    for (const other of await deps.db.backup.findMany({ where: { resourceId: backup.resourceId }, include: { base: true } })) await deleteBackup(deps, other);
    for (const log of await deps.db.archivedLog.findMany({ where: { resourceId: backup.resourceId } })) {
      await deps.backups.delete(log.objectKey);
      await deps.db.archivedLog.delete({ where: { id: log.id } });
    }
  }
  return expired.map((backup) => backup.id);
}

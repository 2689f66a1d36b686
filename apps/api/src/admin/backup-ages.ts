import { Prisma, type PrismaClient } from "@berth/db";
import { statusesIn } from "@berth/operations";

/** A running database's last successful backup: its age (since provisioning when it has none yet). */
export interface BackupAge {
  readonly resourceId: string;
  readonly addon: string;
  readonly appId: string;
  readonly lastBackupAt: Date | null;
  readonly ageSeconds: number;
}

/** A daily backup older than this is overdue (a day and two hours of slack): the operator page lists those databases. */
export const OVERDUE_BACKUP_SECONDS = 26 * 3600;

/** The age of the last successful backup of every running database of these addons (those with backups), oldest first. */
export async function backupAges(db: PrismaClient, addonIds: readonly string[]): Promise<BackupAge[]> {
  if (addonIds.length === 0) return [];
  const rows = await db.$queryRaw<{ id: string; addon: string; app_id: string; last: Date | null; age: number }[]>`
    SELECT r.id, r.addon, r.app_id, max(b.finished_at) AS last,
           extract(epoch FROM (now() AT TIME ZONE 'UTC') - coalesce(max(b.finished_at), r.provisioned_at, r.created_at))::float8 AS age
    FROM resources r LEFT JOIN backups b ON b.resource_id = r.id AND b.status = 'done'
    WHERE r.addon IN (${Prisma.join([...addonIds])}) AND r.status::text IN (${Prisma.join(statusesIn("metered"))})
    GROUP BY r.id ORDER BY age DESC`;
  return rows.map((row) => ({ resourceId: row.id, addon: row.addon, appId: row.app_id, lastBackupAt: row.last, ageSeconds: Math.max(0, row.age) }));
}

/** Where a backup lives in the store: one folder per resource, the backup's id and its format's extension. */
export function backupObjectKey(resourceId: string, backupId: string, format: string): string {
  return `backups/${resourceId}/${backupId}.${format}`;
}

/** A file of a database's continuous archive (a WAL segment, a timeline history file), by its engine's name for it. */
export function archivedLogObjectKey(resourceId: string, volumeName: string, name: string): string {
  return `archive/${resourceId}/${volumeName}/logs/${name}`;
}

/** The physical copy (base backup) taken with a backup, from which a point-in-time recovery starts. */
export function baseBackupObjectKey(resourceId: string, volumeName: string, backupId: string): string {
  return `archive/${resourceId}/${volumeName}/base/${backupId}.tar`;
}

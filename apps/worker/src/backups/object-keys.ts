/** Where a backup lives in the store: one folder per resource, the backup's id and its format's extension. */
export function backupObjectKey(resourceId: string, backupId: string, format: string): string {
  return `backups/${resourceId}/${backupId}.${format}`;
}

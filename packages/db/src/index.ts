export * from "./client.js";
export * from "./secret-box.js";
export type { Resource, Operation, ContainmentEvent, Backup, BaseBackup, ArchivedLog, DatabaseUser } from "./generated/prisma/client.js";
export { ResourceStatus, OperationKind, OperationStatus, ContainmentEventKind, BackupStatus, BackupMethod } from "./generated/prisma/enums.js";

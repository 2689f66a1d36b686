/**
 * Why the operations service declines a request. Each surface turns a refusal
 * into its own shape (the API: `{error, message}` with the status below; the CLI:
 * `error: <message>`); `code` is stable, tests and callers branch on it.
 */
export type RefusalCode =
  | "unknown_plan"
  | "resource_not_found"
  | "resource_failed"
  | "idempotency_conflict"
  | "operation_not_found"
  | "operation_not_retryable"
  | "backups_not_supported"
  | "backup_not_found"
  | "backup_not_restorable"
  | "resource_not_backupable"
  | "resource_suspended"
  | "rotation_not_supported"
  | "users_not_supported"
  | "invalid_user"
  | "user_exists"
  | "user_not_found"
  | "user_protected"
  | "point_in_time_not_supported"
  | "restore_time_out_of_range"
  | "service_unavailable";

export class OperationRefusal extends Error {
  override readonly name = "OperationRefusal";

  constructor(
    readonly code: RefusalCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const refusals = {
  unknownPlan: (plan: string, addonId: string, available: readonly string[]) =>
    new OperationRefusal("unknown_plan", `Plan '${plan}' does not exist for addon ${addonId}. Available plans: ${available.join(", ")}.`),
  resourceNotFound: (id: string) => new OperationRefusal("resource_not_found", `No resource with id '${id}' exists for this addon.`),
  resourceFailed: (id: string, reason: string) =>
    new OperationRefusal("resource_failed", `Resource '${id}' is in a failed state (${reason}); an operator must repair it first.`),
  idempotencyConflict: (uuid: string, resourceId: string, differences: readonly string[]) =>
    new OperationRefusal(
      "idempotency_conflict",
      `uuid '${uuid}' was already used to provision resource '${resourceId}' with ${differences.join(" and ")}; a uuid names one provision request, send the same one or use another uuid.`,
    ),
  backupsNotSupported: (addonId: string) => new OperationRefusal("backups_not_supported", `Addon ${addonId} has no backups.`),
  backupNotFound: (resourceId: string, backupId: string) =>
    new OperationRefusal("backup_not_found", `No backup with id '${backupId}' exists for resource '${resourceId}'.`),
  backupNotRestorable: (backupId: string, status: string) =>
    new OperationRefusal("backup_not_restorable", `Backup '${backupId}' is ${status}: only a finished (done) backup can be restored.`),
  rawCopyNotRestorable: (backupId: string) =>
    new OperationRefusal(
      "backup_not_restorable",
      `Backup '${backupId}' is a copy of the database's files (its engine could not dump it when it was deleted): download it; it cannot be restored here.`,
    ),
  resourceNotBackupable: (id: string, status: string) =>
    new OperationRefusal("resource_not_backupable", `Resource '${id}' is ${status}: backups and restores need a running database.`),
  resourceSuspended: (id: string) =>
    new OperationRefusal("resource_suspended", `Resource '${id}' is suspended: it has to be resumed (POST …/resume) before its plan changes, its credentials are rotated, or it is backed up or restored.`),
  rotationNotSupported: (addonId: string) => new OperationRefusal("rotation_not_supported", `Addon ${addonId} cannot change a database's password: its credentials cannot be rotated.`),
  pointInTimeNotSupported: (addonId: string) =>
    new OperationRefusal("point_in_time_not_supported", `Addon ${addonId} keeps no continuous archive: restore one of its backups (backup_id) instead.`),
  restoreTimeOutOfRange: (id: string, why: string) => new OperationRefusal("restore_time_out_of_range", `Resource '${id}' cannot be put back to that moment: ${why}`),
  usersNotSupported: (addonId: string) => new OperationRefusal("users_not_supported", `Addon ${addonId} has no users beside the app's own.`),
  invalidUser: (why: string) => new OperationRefusal("invalid_user", why),
  userExists: (id: string, name: string) => new OperationRefusal("user_exists", `Resource '${id}' has a user named '${name}' already.`),
  userNotFound: (id: string, name: string) => new OperationRefusal("user_not_found", `Resource '${id}' has no user named '${name}'.`),
  userProtected: (name: string) =>
    new OperationRefusal("user_protected", `'${name}' is the app's own user (or the engine's): it is neither removed nor changed here; rotate the credentials instead (POST …/credentials/rotate).`),
  operationNotFound: (id: string) => new OperationRefusal("operation_not_found", `No operation with id '${id}' exists.`),
  operationNotRetryable: (id: string, why: string) => new OperationRefusal("operation_not_retryable", `Operation '${id}' cannot be retried: ${why}.`),
  queueUnavailable: (cause: unknown) =>
    new OperationRefusal("service_unavailable", "The request was recorded but could not be queued; retry it, it is safe to.", { cause }),
};

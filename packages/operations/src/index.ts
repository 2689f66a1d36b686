export { ResourceService, type AcceptedProvision, type ForkSeed, type PlanChangeOutcome } from "./resource-service.js";
export { OperationRefusal, refusals, type RefusalCode } from "./refusals.js";
export {
  DatabaseUserService,
  USER_NAME_PATTERN,
  USER_PASSWORD_PATTERN,
  type DatabaseUserSecret,
  type DatabaseUserView,
} from "./database-users.js";
export {
  OPERATION_KINDS,
  RAW_COPY_FORMAT,
  RESOURCE_TRANSITIONS,
  IllegalTransitionError,
  canTransition,
  isIn,
  isPlatforms,
  newResourceId,
  requireTransition,
  statusesBefore,
  statusesIn,
  stepPercent,
  transition,
  transitionUpdate,
  type OperationStep,
  type ResourceWriter,
  type StatusSet,
  type TransitionOptions,
} from "./lifecycle.js";
export {
  attemptFailed,
  beginAttempt,
  operationFailed,
  operationSucceeded,
  recordPoolBuild,
  recordPoolRemoval,
  recordStep,
  type QueuedOperation,
} from "./operation-records.js";
export { RECOVERY_WINDOW_MS, baseBackupFor } from "./point-in-time.js";

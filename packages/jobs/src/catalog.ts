import { z } from "zod";

/**
 * The jobs the API produces and the worker consumes. A job only points at an
 * operation row: the control plane holds the truth, so a job delivered twice,
 * or retried after a crash, reads the same intent.
 */
const operationJob = z.object({ operationId: z.uuid(), resourceId: z.string().min(1) });

export const jobCatalog = {
  provision: operationJob,
  "change-plan": operationJob,
  deprovision: operationJob,
  backup: operationJob,
  restore: operationJob,
  suspend: operationJob,
  resume: operationJob,
  "rotate-credentials": operationJob,
  "sync-users": operationJob,
} as const;

export type JobName = keyof typeof jobCatalog;
export type JobData<N extends JobName> = z.infer<(typeof jobCatalog)[N]>;

export const OPERATIONS_QUEUE = "berth-operations";

/**
 * Transient failures (Docker busy, platform down) retry with exponential
 * backoff: 2 s, 4 s, 8 s … about 17 minutes over 10 attempts in all.
 */
export const operationJobOptions = {
  attempts: 10,
  backoff: { type: "exponential", delay: 2_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
} as const;

/**
 * Usage metering: one job scheduler on its own queue produces one `sample-usage` job per
 * interval, whichever worker takes it, so several workers take one sample per interval between them.
 */
export const USAGE_QUEUE = "berth-usage";
export const USAGE_SAMPLE_JOB = "sample-usage";
export const USAGE_SCHEDULER_ID = "berth-usage-sampler";

/** Reconciliation of the control plane with the Docker host: one pass per interval, like metering. */
export const MAINTENANCE_QUEUE = "berth-maintenance";
export const RECONCILE_JOB = "reconcile";
export const RECONCILE_SCHEDULER_ID = "berth-reconciler";

/*
 * Each periodic task has a queue of its own: a queue's workers take any of its jobs, so two tasks
 * sharing one would each run the other's passes.
 */

/** Daily backups: a pass every few minutes queues the backups whose hour has come. */
export const BACKUP_SCHEDULE_QUEUE = "berth-backup-schedule";
export const BACKUP_SCHEDULE_JOB = "schedule-backups";
export const BACKUP_SCHEDULER_ID = "berth-backup-scheduler";

/** Continuous archives (PostgreSQL's WAL): a pass every few seconds ships the closed log files of every database. */
export const ARCHIVE_QUEUE = "berth-archive";
export const ARCHIVE_SHIP_JOB = "ship-archives";
export const ARCHIVE_SCHEDULER_ID = "berth-archive-shipper";

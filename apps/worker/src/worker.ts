import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from "bullmq";
import { redact } from "@berth/config";
import { OPERATIONS_QUEUE, jobCatalog, type JobName } from "@berth/jobs";
import { OPERATION_KINDS, attemptFailed, beginAttempt, operationFailed, operationSucceeded } from "@berth/operations";
import type { Operation } from "@berth/db";
import type { WorkerDeps } from "./deps.js";
import { PermanentError, classifyFailure } from "./errors.js";
import { runHandler } from "./handlers/index.js";
import { JobReport } from "./job-report.js";
import { OperationContext } from "./operation-context.js";
import { credentialSecrets } from "./credential-secrets.js";

/** How long an operation waits before checking again whether the resource's earlier operations are done. */
const ORDERING_DELAY_MS = 500;

export interface OperationWorkerOptions {
  connection: ConnectionOptions;
  prefix?: string;
  concurrency: number;
  /** How long a job stays with a worker that stopped renewing its lock (killed, frozen) before another takes it. */
  lockSeconds?: number;
}

/**
 * A job whose worker was killed comes back "stalled". BullMQ fails a job that stalls
 * more than `maxStalledCount` times; every step here is idempotent, so a job may be
 * picked up again this many times before it counts as failed.
 */
const MAX_STALLED_COUNT = 20;

/** Starts consuming the operations queue. Close the returned worker to stop (it finishes running jobs first). */
export function startOperationWorker(deps: WorkerDeps, options: OperationWorkerOptions): Worker {
  const worker = new Worker(OPERATIONS_QUEUE, (job, token) => runOperation(deps, job, token), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: (options.lockSeconds ?? 30) * 1000,
    stalledInterval: (options.lockSeconds ?? 30) * 500,
    maxStalledCount: MAX_STALLED_COUNT,
  });
  worker.on("error", (error) => deps.logger.error({ err: error }, "worker error"));
  return worker;
}

async function runOperation(jobDeps: WorkerDeps, job: Job, token: string | undefined): Promise<void> {
  // Every log line of this job, the handlers' included, carries its job id.
  const deps: WorkerDeps = { ...jobDeps, logger: jobDeps.logger.child({ jobId: job.id, job: job.name }) };
  const { db } = deps;
  const name = job.name as JobName;
  const schema = jobCatalog[name];
  if (!schema) throw new PermanentError(`unknown job ${job.name}`);
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) throw new PermanentError(`invalid ${job.name} job data: ${parsed.error.message}`);
  const { operationId } = parsed.data;

  const operation = await db.operation.findUnique({ where: { id: operationId } });
  if (!operation) throw new PermanentError(`operation ${operationId} does not exist`);
  if (operation.status === "succeeded" || operation.status === "failed") return; // already settled: a duplicate delivery
  if (OPERATION_KINDS[operation.kind].job !== name) throw new PermanentError(`job ${name} does not carry out ${operation.kind} operations`);

  // Operations of one resource run one at a time, in the order the platform sent them.
  const earlier = await db.operation.findFirst({
    where: { resourceId: operation.resourceId, seq: { lt: operation.seq }, status: { in: ["pending", "running"] } },
    select: { id: true },
  });
  if (earlier) {
    await job.moveToDelayed(Date.now() + ORDERING_DELAY_MS, token);
    throw new DelayedError();
  }

  // Backups and restores stream whole databases: at most `backupConcurrency` at once in this worker.
  const heavy = HEAVY_KINDS.has(operation.kind);
  if (heavy && (heavyRunning.get(jobDeps) ?? 0) >= deps.backupConcurrency) {
    await job.moveToDelayed(Date.now() + ORDERING_DELAY_MS, token);
    throw new DelayedError();
  }
  if (heavy) heavyRunning.set(jobDeps, (heavyRunning.get(jobDeps) ?? 0) + 1);
  try {
    await runAttempt(deps, job, operation);
  } finally {
    if (heavy) heavyRunning.set(jobDeps, heavyRunning.get(jobDeps)! - 1);
  }
}

/** Kinds that count against `backupConcurrency`. */
const HEAVY_KINDS = new Set<Operation["kind"]>(["backup", "restore"]);
/** Backups and restores running, per worker (its deps). */
const heavyRunning = new WeakMap<WorkerDeps, number>();

async function runAttempt(deps: WorkerDeps, job: Job, operation: Operation): Promise<void> {
  const { db } = deps;
  const operationId = operation.id;
  await beginAttempt(db, operation);
  const resource = await db.resource.findUniqueOrThrow({ where: { id: operation.resourceId } });
  // Counted on the operation, so an operator's retry goes on from the attempts before it.
  const attempt = operation.attempts + 1;
  const report = new JobReport(job, operation.kind);
  await report.started(attempt);
  const endTimer = deps.metrics?.operationDuration.startTimer({ kind: operation.kind });
  const finished = (outcome: "succeeded" | "failed" | "retrying") => {
    endTimer?.({ outcome });
    deps.metrics?.operationsFinished.inc({ kind: operation.kind, outcome });
  };

  try {
    const ctx = new OperationContext(deps, operation, resource, async (step) => {
      deps.onStep?.(operation.kind, step);
      await report.step(step);
    });
    await runHandler(ctx);
    await operationSucceeded(db, operation.id);
    await report.succeeded();
    finished("succeeded");
  } catch (thrown) {
    const error = classifyFailure(thrown);
    const message = redact(error instanceof Error ? error.message : String(error), { secrets: await credentialSecrets(deps, resource.id) });
    const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    deps.logger.warn({ operationId, resourceId: resource.id, err: message, final }, "operation attempt failed");
    finished(final ? "failed" : "retrying");
    await report.failed(attempt, message, final);
    if (final) await operationFailed(db, operation, message);
    else await attemptFailed(db, operation.id, message);
    throw error;
  }
}

import { Queue, type ConnectionOptions } from "bullmq";
import { OPERATIONS_QUEUE, jobCatalog, operationJobOptions, type JobData, type JobName } from "./catalog.js";

export interface OperationQueueOptions {
  connection: ConnectionOptions;
  /** Redis key prefix; tests use their own to stay apart. */
  prefix?: string;
  /** Overrides of the catalog's retry policy (tests reach the retry budget quickly with it). */
  jobOptions?: { attempts?: number; backoff?: { type: "exponential" | "fixed"; delay: number } };
}

/** The producer side: the API records an operation, then enqueues it with this. */
export class OperationQueue {
  readonly queue: Queue;

  constructor({ connection, prefix, jobOptions }: OperationQueueOptions) {
    this.queue = new Queue(OPERATIONS_QUEUE, { connection, prefix, defaultJobOptions: { ...operationJobOptions, ...jobOptions } });
  }

  /** Idempotent: the job id is the operation id, so enqueuing an operation twice adds one job. */
  async enqueue<N extends JobName>(name: N, data: JobData<N>): Promise<void> {
    const payload = jobCatalog[name].parse(data);
    await this.queue.add(name, payload, { jobId: payload.operationId });
  }

  /**
   * Runs an operation's job again (an operator's retry). BullMQ ignores `add` with the id
   * of a job it still holds, so a finished job is moved back to waiting, with a fresh
   * attempt budget; a job BullMQ has removed meanwhile is added anew; a job still
   * waiting, delayed or running is left alone: it will run anyway.
   */
  async rerun<N extends JobName>(name: N, data: JobData<N>): Promise<void> {
    const payload = jobCatalog[name].parse(data);
    const job = await this.queue.getJob(payload.operationId);
    if (!job) {
      await this.queue.add(name, payload, { jobId: payload.operationId });
      return;
    }
    const state = await job.getState();
    if (state === "failed" || state === "completed") {
      await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

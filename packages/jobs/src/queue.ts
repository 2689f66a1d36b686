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
   * Makes sure an operation's job will run: added anew when BullMQ holds none (never queued, or
   * removed), moved back to waiting when it failed or completed without settling its operation
   * (`freshAttempts`: with a full attempt budget, for an operator's retry), and left alone when it
   * is waiting, delayed or running: it will run anyway. True when it had to queue it.
   */
  async resume<N extends JobName>(name: N, data: JobData<N>, { freshAttempts = false } = {}): Promise<boolean> {
    const payload = jobCatalog[name].parse(data);
    const job = await this.queue.getJob(payload.operationId);
    const state = job ? await job.getState() : "missing";
    if (!job || state === "unknown" || state === "missing") {
      await this.queue.add(name, payload, { jobId: payload.operationId });
      return true;
    }
    if (state !== "failed" && state !== "completed") return false;
    await job.retry(state, freshAttempts ? { resetAttemptsMade: true, resetAttemptsStarted: true } : {});
    return true;
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

import { Queue, type ConnectionOptions } from "bullmq";
import { OPERATIONS_QUEUE, jobCatalog, operationJobOptions, type JobData, type JobName } from "./catalog.js";

export interface OperationQueueOptions {
  connection: ConnectionOptions;
  /** Redis key prefix; tests use their own to stay apart. */
  prefix?: string;
}

/** The producer side: the API records an operation, then enqueues it with this. */
export class OperationQueue {
  readonly queue: Queue;

  constructor({ connection, prefix }: OperationQueueOptions) {
    this.queue = new Queue(OPERATIONS_QUEUE, { connection, prefix, defaultJobOptions: operationJobOptions });
  }

  /** Idempotent: the job id is the operation id, so enqueuing an operation twice adds one job. */
  async enqueue<N extends JobName>(name: N, data: JobData<N>): Promise<void> {
    const payload = jobCatalog[name].parse(data);
    await this.queue.add(name, payload, { jobId: payload.operationId });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

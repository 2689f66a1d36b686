import { Queue, Worker, type ConnectionOptions } from "bullmq";
import type { Logger } from "pino";

export interface ScheduledTaskOptions {
  connection: ConnectionOptions;
  /** Redis key prefix of the queues; tests use their own. */
  prefix?: string;
  queueName: string;
  schedulerId: string;
  jobName: string;
  intervalMs: number;
  logger: Logger;
  run: () => Promise<unknown>;
}

export interface ScheduledTask {
  /**
   * Stops this process's part (a running pass finishes first). The schedule stays for the
   * other workers unless `removeSchedule`: then it and the queue's keys are removed (tests).
   */
  close(options?: { removeSchedule?: boolean }): Promise<void>;
}

/**
 * A periodic task shared by all workers: every worker upserts the same BullMQ job
 * scheduler, so Redis holds one schedule and produces one job per interval, which
 * one worker runs — one pass per interval however many workers run.
 */
export async function startScheduledTask(options: ScheduledTaskOptions): Promise<ScheduledTask> {
  const { connection, prefix, queueName, schedulerId, jobName, intervalMs, logger, run } = options;
  const queue = new Queue(queueName, { connection, prefix });
  await queue.upsertJobScheduler(
    schedulerId,
    { every: intervalMs },
    { name: jobName, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
  );
  const worker = new Worker(
    queueName,
    async (job) => {
      // A queue's workers take any of its jobs: a task has a queue of its own.
      if (job.name !== jobName) throw new Error(`queue ${queueName} is ${jobName}'s, not ${job.name}'s`);
      return run();
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on("error", (error) => logger.error({ err: error, task: jobName }, "scheduled task error"));
  worker.on("failed", (_job, error) => logger.warn({ err: error.message, task: jobName }, "scheduled pass failed"));
  return {
    async close({ removeSchedule = false } = {}) {
      await worker.close();
      if (removeSchedule) {
        await queue.removeJobScheduler(schedulerId);
        await queue.obliterate({ force: true });
      }
      await queue.close();
    },
  };
}

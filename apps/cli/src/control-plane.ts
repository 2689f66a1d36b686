/**
 * The services the operations commands talk to, opened on demand from the
 * configuration and always closed afterwards, so that `berth` exits.
 */
import { createDatabase, type PrismaClient } from "@berth/db";
import { OperationQueue, openBerthQueues } from "@berth/jobs";
import { ResourceService } from "@berth/operations";
import type { Queue } from "bullmq";
import { Redis } from "ioredis";
import type { CliContext } from "./context.js";

export interface Queues {
  /** The producer of operation jobs, as the API has it. */
  operations: OperationQueue;
  /** Every Berth queue, for counts. */
  all: Queue[];
}

export interface ControlPlane {
  db: PrismaClient;
  queues: Queues;
  /** Records and enqueues operations the way the API does. */
  resources: ResourceService;
}

export async function withDatabase<T>(context: CliContext, run: (db: PrismaClient) => Promise<T>): Promise<T> {
  // One command at a time: a small pool.
  const db = createDatabase({ url: context.config().databaseUrl(), poolSize: 2 });
  try {
    return await run(db);
  } finally {
    await db.$disconnect();
  }
}

export async function withQueues<T>(context: CliContext, run: (queues: Queues) => Promise<T>): Promise<T> {
  const { redisUrl, prefix } = context.config().queues();
  // A command fails at once when Redis is not there, rather than reconnecting forever.
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5_000 });
  connection.on("error", () => undefined); // reported by the command that fails
  const queues: Queues = { operations: new OperationQueue({ connection, prefix }), all: openBerthQueues({ connection, prefix }) };
  // Each queue relays its connection's errors; the command awaiting a call gets them too.
  for (const queue of [queues.operations.queue, ...queues.all]) queue.on("error", () => undefined);
  try {
    return await run(queues);
  } finally {
    await Promise.allSettled([queues.operations.close(), ...queues.all.map((queue) => queue.close())]);
    await connection.quit().catch(() => connection.disconnect());
  }
}

export function withControlPlane<T>(context: CliContext, run: (controlPlane: ControlPlane) => Promise<T>): Promise<T> {
  return withDatabase(context, (db) => withQueues(context, (queues) => run({ db, queues, resources: new ResourceService(db, queues.operations) })));
}

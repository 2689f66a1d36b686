/**
 * Watching an operation's job until the operation ends (`berth jobs follow`, and the
 * `--follow` of the commands that record one). The control plane says when it has ended
 * (the job may wait between attempts, or for an earlier operation of its resource); the
 * job says where it stands (progress) and what happened (its log).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Operation } from "@berth/db";
import { readJobProgress } from "@berth/jobs";
import type { CliContext } from "./context.js";
import type { ControlPlane } from "./control-plane.js";
import { CommandFailure, EXIT, Exit } from "./errors.js";
import { createFollowDisplay } from "./follow-display.js";

const POLL_MS = 250;
/** After the operation is settled, how long to wait for the worker to write the job's last lines. */
const SETTLE_MS = 3_000;

/**
 * Shows the operation's job (a progress bar on a terminal, its log lines elsewhere) until the
 * operation ends, then its outcome: resolves with it when it succeeded, ends the command with
 * exit 1 when it failed (the reason printed).
 */
export async function followOperation(context: CliContext, { db, queues }: ControlPlane, operationId: string): Promise<Operation> {
  const { io } = context;
  const first = await db.operation.findUnique({ where: { id: operationId } });
  if (!first) throw new CommandFailure(`no operation with id ${operationId}`);
  io.stderr(`Following ${first.kind} of ${first.resourceId} (operation ${operationId})\n`);

  const display = createFollowDisplay(io);
  const queue = queues.operations.queue;
  let logsShown = 0;
  const showNews = async (): Promise<string | undefined> => {
    const job = await queue.getJob(operationId);
    if (!job) return undefined;
    const { logs } = await queue.getJobLogs(operationId, logsShown, -1, true);
    for (const line of logs) display.log(line);
    logsShown += logs.length;
    const progress = readJobProgress(job.progress);
    if (progress) display.progress(progress);
    return job.getState();
  };

  let operation = first;
  try {
    while (operation.status !== "succeeded" && operation.status !== "failed") {
      await showNews();
      await sleep(POLL_MS);
      operation = await db.operation.findUniqueOrThrow({ where: { id: operationId } });
    }
    // Settled in the control plane: the worker finishes the job right after.
    const deadline = Date.now() + SETTLE_MS;
    while (!isFinished(await showNews()) && Date.now() < deadline) await sleep(POLL_MS);
  } finally {
    display.stop();
  }

  const attempts = `${operation.attempts} attempt${operation.attempts === 1 ? "" : "s"}`;
  if (operation.status === "succeeded") {
    const took = operation.startedAt && operation.finishedAt ? ` in ${((operation.finishedAt.getTime() - operation.startedAt.getTime()) / 1000).toFixed(1)} s` : "";
    io.stdout(`Operation ${operationId} succeeded after ${attempts}${took}.\n`);
    return operation;
  }
  io.stdout(`Operation ${operationId} failed after ${attempts}: ${operation.error ?? "no reason recorded"}\n`);
  throw new Exit(EXIT.failure);
}

/** A job BullMQ no longer holds counts as finished too. */
function isFinished(state: string | undefined): boolean {
  return state === undefined || state === "completed" || state === "failed" || state === "unknown";
}

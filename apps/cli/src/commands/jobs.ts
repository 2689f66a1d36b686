/**
 * `berth jobs follow <operationId>`: watch an operation's job until the
 * operation ends. The control plane says when it has ended (the job may wait
 * between attempts, or for an earlier operation of its resource); the job
 * says where it stands (progress) and what happened (its log).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { readJobProgress } from "@berth/jobs";
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { withControlPlane, type ControlPlane } from "../control-plane.js";
import { CommandFailure, EXIT, Exit } from "../errors.js";
import { createFollowDisplay } from "../follow-display.js";

const POLL_MS = 250;
/** After the operation is settled, how long to wait for the worker to write the job's last lines. */
const SETTLE_MS = 3_000;

export function registerJobsCommands(program: Command, context: CliContext): void {
  const jobs = program.command("jobs").description("the jobs that carry out operations");

  jobs
    .command("follow")
    .description(
      "follow an operation's job with a progress bar (its log lines elsewhere than a terminal) until the operation ends: " +
        "exit 0 when it succeeded, 1 when it failed (with the reason)",
    )
    .argument("<operationId>", "the operation's id, which is its job's id")
    .action(async (operationId: string) => {
      await withControlPlane(context, (controlPlane) => follow(context, controlPlane, operationId));
    });
}

async function follow(context: CliContext, { db, queues }: ControlPlane, operationId: string): Promise<void> {
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
    return;
  }
  io.stdout(`Operation ${operationId} failed after ${attempts}: ${operation.error ?? "no reason recorded"}\n`);
  throw new Exit(EXIT.failure);
}

/** A job BullMQ no longer holds counts as finished too. */
function isFinished(state: string | undefined): boolean {
  return state === undefined || state === "completed" || state === "failed" || state === "unknown";
}


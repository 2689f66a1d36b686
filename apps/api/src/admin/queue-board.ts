import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { ARCHIVE_QUEUE, BACKUP_SCHEDULE_QUEUE, MAINTENANCE_QUEUE, OPERATIONS_QUEUE, USAGE_QUEUE } from "@berth/jobs";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";

/** Where bull-board is served; its job pages are `<base>/queue/<queue>/<job id>`. */
export const QUEUE_BOARD_PATH = "/admin/queues";

export function jobPagePath(queue: string, jobId: string): string {
  return `${QUEUE_BOARD_PATH}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(jobId)}`;
}

const DESCRIPTIONS: Record<string, string> = {
  [OPERATIONS_QUEUE]: "Provisionings, plan changes and removals: one job per operation, its id the operation's",
  [USAGE_QUEUE]: "Usage metering: one sample of every running database per interval",
  [MAINTENANCE_QUEUE]: "Reconciliation of the control plane with the Docker host",
  [BACKUP_SCHEDULE_QUEUE]: "Daily backups: a pass every few minutes queues the ones whose hour has come",
  [ARCHIVE_QUEUE]: "Continuous archives: a pass every few seconds ships PostgreSQL's closed WAL segments to the backup store",
};

/** bull-board's routes that run jobs again: one job, or every job of a state. */
const RETRY_ROUTES = new Set(["/api/queues/:queueName/:jobId/retry", "/api/queues/:queueName/retry/:queueStatus"]);

/**
 * An operation's job reads its operation row, and a failed operation is settled:
 * run again as is, the job would find nothing to do and complete. So operations
 * are retried by `berth operations retry`, which reopens the row first; bull-board
 * hides its retry buttons on that queue and its retry routes refuse it.
 */
const OPERATION_RETRY_REFUSAL =
  "Retry a failed operation with `berth operations retry <operation id>` (the job id): it reopens the operation, then runs its job again.";

/** bull-board over every Berth queue, mounted at /admin/queues in the (already guarded) scope given. */
export async function registerQueueBoard(scope: FastifyInstance, { queues, readOnly }: { queues: readonly Queue[]; readOnly: boolean }): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  // The plugin sees only its own prefix ("/queues"); the pages need the full path.
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map(
      (queue) =>
        new BullMQAdapter(queue, {
          readOnlyMode: readOnly,
          allowRetries: !readOnly && queue.name !== OPERATIONS_QUEUE,
          description: DESCRIPTIONS[queue.name] ?? "",
        }),
    ),
    serverAdapter,
    options: {
      handlerHooks: {
        before: ({ route, request }) => {
          if (RETRY_ROUTES.has(route) && request.params.queueName === OPERATIONS_QUEUE) {
            return { allow: false, status: 409, message: OPERATION_RETRY_REFUSAL };
          }
        },
      },
      uiConfig: {
        boardTitle: "Berth queues",
        miscLinks: [{ text: "Operator page", url: "/admin" }],
        hideDocsLink: true,
        // An operation's log is where its steps and failures are told.
        jobDetails: { defaultTab: "Logs" },
      },
    },
  });
  await scope.register(serverAdapter.registerPlugin(), { prefix: "/queues" });
}

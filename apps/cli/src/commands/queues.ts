/** `berth queues`: how many jobs each Berth queue holds, per state. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { withQueues } from "../control-plane.js";
import { formatTable } from "../table.js";

const STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed"] as const;

export function registerQueuesCommands(program: Command, context: CliContext): void {
  program
    .command("queues")
    .description("count the jobs of each queue per state (reads BERTH_REDIS_URL, BERTH_QUEUE_PREFIX)")
    .action(async () => {
      const rows = await withQueues(context, ({ all }) =>
        Promise.all(
          all.map(async (queue) => {
            const [counts, paused] = await Promise.all([queue.getJobCounts(...STATES), queue.isPaused()]);
            return [queue.name, paused ? "paused" : "running", ...STATES.map((state) => counts[state] ?? 0)];
          }),
        ),
      );
      context.io.stdout(formatTable(["QUEUE", "STATE", ...STATES.map((state) => state.toUpperCase())], rows));
    });
}

/** `berth jobs follow <operationId>`: watch an operation's job until the operation ends. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { withControlPlane } from "../control-plane.js";
import { followOperation } from "../follow-operation.js";

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
      await withControlPlane(context, (controlPlane) => followOperation(context, controlPlane, operationId));
    });
}

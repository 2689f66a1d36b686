/** `berth operations retry <operationId>`: run a failed operation again. */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { withControlPlane } from "../control-plane.js";

export function registerOperationsCommands(program: Command, context: CliContext): void {
  const operations = program.command("operations").description("the operations (provision, change_plan, deprovision) the worker carries out");

  operations
    .command("retry")
    .description(
      "run a failed operation again: it is set back to pending without its error, its resource back to that work in progress, " +
        "and its job runs again (the same job id, with a fresh attempt budget). Only a resource's latest operation can be retried.",
    )
    .argument("<operationId>", "the operation's id (also its job's id; see berth resources show)")
    .action(async (operationId: string) => {
      const operation = await withControlPlane(context, ({ resources }) => resources.retry(operationId));
      context.io.stdout(
        `Operation ${operation.id} (${operation.kind} of ${operation.resourceId}) queued again after ${operation.attempts} attempt${operation.attempts === 1 ? "" : "s"}.\n` +
          `Follow it with: berth jobs follow ${operation.id}\n`,
      );
    });
}

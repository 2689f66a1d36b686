import { isIn } from "@berth/operations";
import { runAdminCommand } from "../admin-commands.js";
import { PermanentError } from "../errors.js";
import type { OperationContext } from "../operation-context.js";

/** How long making the engine's users the recorded ones may take. */
const SYNC_TIMEOUT_MS = 30_000;

/**
 * Makes the database's users beside the app's own exactly the recorded ones (the owner's `POST
 * …/users`, `DELETE …/users/:name`, `…/reset_password`): one idempotent command of the engine's,
 * from the records as they are when it runs, so a replay or a later sync applies the latest.
 */
export async function syncUsers(ctx: OperationContext<"sync_users">): Promise<void> {
  const { deps, resource } = ctx;
  if (isIn("removed", resource.status)) return;
  if (!ctx.addon.users) throw new PermanentError(`addon ${ctx.addon.id} has no users beside the app's own`);
  if (!isIn("live", resource.status)) throw new PermanentError(`the database is ${resource.status}: only a running database's users are changed`);
  await ctx.step("users");
  const command = ctx.addon.users.apply(ctx.credentials(), await ctx.databaseUsers());
  await runAdminCommand(deps, ctx.containerName, command, AbortSignal.timeout(SYNC_TIMEOUT_MS));
}

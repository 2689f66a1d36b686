import type { OperationKind } from "@berth/db";
import type { OperationContext } from "../operation-context.js";
import { backup } from "./backup.js";
import { changePlan } from "./change-plan.js";
import { deprovision } from "./deprovision.js";
import { provision } from "./provision.js";
import { restore } from "./restore.js";
import { rotateCredentials } from "./rotate-credentials.js";
import { syncUsers } from "./sync-users.js";
import { resume, suspend } from "./suspension.js";

/** One handler per kind of operation of the catalog; a missing one does not compile. */
const handlers: { readonly [K in OperationKind]: (ctx: OperationContext<K>) => Promise<void> } = {
  provision,
  change_plan: changePlan,
  deprovision,
  backup,
  restore,
  suspend,
  resume,
  rotate_credentials: rotateCredentials,
  sync_users: syncUsers,
};

/** Runs the handler of the context's kind of operation. */
export function runHandler(ctx: OperationContext): Promise<void> {
  // The context's kind is its operation's: the handler of that kind takes it.
  return (handlers[ctx.operation.kind] as (ctx: OperationContext) => Promise<void>)(ctx);
}

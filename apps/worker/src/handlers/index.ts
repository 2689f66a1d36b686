import type { JobName } from "@berth/jobs";
import type { OperationContext } from "../operation-context.js";
import { changePlan } from "./change-plan.js";
import { deprovision } from "./deprovision.js";
import { provision } from "./provision.js";

/** One handler per job of the catalog; a missing one does not compile. */
export const handlers: { readonly [N in JobName]: (ctx: OperationContext) => Promise<void> } = {
  provision,
  "change-plan": changePlan,
  deprovision,
};

import { isIn, requireTransition } from "@berth/operations";
import type { OperationContext } from "../operation-context.js";
import { waitUntilReady } from "../readiness.js";

/**
 * Suspends a database (the platform's `POST …/suspend`, spec §2.5): its container is removed, so
 * nothing runs and its port refuses connections; its volume, port and credentials are kept. A
 * replay finds it suspended. A database removed meanwhile has nothing to suspend.
 */
export async function suspend(ctx: OperationContext<"suspend">): Promise<void> {
  const { deps, resource } = ctx;
  if (resource.status === "suspended" || isIn("removed", resource.status)) return;
  await requireTransition(deps.db, resource.id, "suspending");
  await ctx.step("container");
  await deps.runtime.removeContainer(ctx.containerName);
  await requireTransition(deps.db, resource.id, "suspended", { data: { statusReason: null } });
}

/**
 * Resumes a suspended database: the same container again, on the same volume and port with the
 * same credentials, so the URL the platform holds works as before and nothing is reported. A
 * database that is not suspended (resumed already, or never suspended) is left as it is.
 */
export async function resume(ctx: OperationContext<"resume">): Promise<void> {
  const { deps, resource } = ctx;
  if (!isIn("suspension", resource.status) && resource.status !== "failed") return;
  await requireTransition(deps.db, resource.id, "resuming");
  const credentials = ctx.credentials();
  await ctx.step("container");
  await deps.runtime.ensureContainerRunning(await ctx.containerRequest(ctx.plan(resource.plan), credentials));
  await ctx.step("readiness");
  await waitUntilReady(ctx.addon, [ctx.endpoints(credentials).probe], deps.readinessIntervalMs);
  await requireTransition(deps.db, resource.id, "provisioned", { data: { statusReason: null } });
}

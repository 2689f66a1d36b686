import { isIn, requireTransition } from "@berth/operations";
import { LABEL } from "../runtime/container-runtime.js";
import type { OperationContext } from "../operation-context.js";
import { PermanentError, RefusedError } from "../errors.js";
import { waitUntilReady } from "../readiness.js";

/**
 * Moves a database to another plan: its container is replaced by one with the
 * new plan's limits and settings, on the same volume, port and credentials, so
 * the data stays. Config vars are pushed again.
 *
 * The disk follows the plan: a bigger one grows online where the kernel allows it; a smaller one
 * is checked first (refused, nothing changed, when the data would take more than 80% of it), then
 * shrunk offline while the container is being replaced (as a bigger one is where online growth is
 * not allowed).
 */
export async function changePlan(ctx: OperationContext<"change_plan">): Promise<void> {
  const { deps, resource, operation } = ctx;
  if (operation.targetPlan === null) throw new PermanentError("plan change without a target plan");
  // Defence in depth: the API records no plan change after a deprovision, but one recorded before
  // it by an older API, or replayed, finds the database removed or going: nothing left to change.
  if (isIn("removed", resource.status)) {
    deps.logger.info({ operationId: operation.id, resourceId: resource.id, status: resource.status }, "plan change: the resource is removed, nothing to do");
    return;
  }
  const target = ctx.plan(operation.targetPlan);
  // A degraded database (hurt by an OOM kill or an exit, see containment/) may change plan: often the cure.
  if (!isIn("planChangeable", resource.status)) {
    throw new PermanentError(`cannot change the plan of a resource that is ${resource.status}`);
  }
  const current = ctx.plan(resource.plan);
  const shrinking = target.limits.diskMb < current.limits.diskMb;
  if (shrinking) {
    // Before anything changes: a disk the data does not fit in is refused, the database stays as it is.
    await ctx.step("disk-check");
    try {
      await deps.runtime.checkVolumeFits(ctx.volumeName, target.limits.diskMb);
    } catch (error) {
      if (!(error instanceof PermanentError)) throw error;
      // Back to how it was (a degraded database stays degraded; one a crashed attempt left changing is serving).
      if (resource.status === "changing_plan") await requireTransition(deps.db, resource.id, "provisioned");
      throw new RefusedError(`plan change to ${target.name} refused: ${error.message}`);
    }
  }
  await requireTransition(deps.db, resource.id, "changing_plan");
  const credentials = ctx.credentials();

  // The disk follows the plan: online where it can (a bigger disk, a kernel that allows it), else
  // while the container is being replaced, the only moment nothing uses the volume.
  await ctx.step("disk");
  const disk = await deps.runtime.resizeVolume(ctx.volumeName, target.limits.diskMb);

  await ctx.step("container");
  const existing = await deps.runtime.inspectContainer(ctx.containerName);
  if (disk === "needs-offline" || !existing || !existing.running || existing.labels[LABEL.plan] !== target.name) {
    await deps.runtime.removeContainer(ctx.containerName);
    if (disk === "needs-offline") {
      let resized;
      try {
        resized = await deps.runtime.resizeVolume(ctx.volumeName, target.limits.diskMb);
      } catch (error) {
        if (!(error instanceof RefusedError)) throw error;
        // resize2fs itself refused the size (the check passed): back on the current plan, as it was.
        await deps.runtime.ensureContainerRunning(await ctx.containerRequest(current, credentials));
        await requireTransition(deps.db, resource.id, "provisioned");
        throw new RefusedError(`plan change to ${target.name} refused: ${error.message}`);
      }
      if (resized !== "done") throw new Error(`the disk of ${ctx.volumeName} is still in use after its container was removed`);
    }
    await deps.runtime.ensureContainerRunning(await ctx.containerRequest(target, credentials));
  }

  await ctx.step("readiness");
  const endpoints = ctx.endpoints(credentials);
  await waitUntilReady(ctx.addon, [endpoints.probe], deps.readinessIntervalMs);

  // Every time, though no engine's variables depend on the plan today: an idempotent call keeps
  // the platform's copy true, and every run takes the same steps (the fault tests kill at each).
  await ctx.step("report-config");
  await ctx.platform.patchAddonConfig(resource.id, ctx.addon.connectionConfig(endpoints.public, target));

  await requireTransition(deps.db, resource.id, "provisioned", { data: { plan: target.name, statusReason: null, image: ctx.image } });
}

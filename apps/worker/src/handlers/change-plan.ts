import { isDeepStrictEqual } from "node:util";
import { LABEL } from "../runtime/container-runtime.js";
import type { OperationContext } from "../operation-context.js";
import { PermanentError } from "../errors.js";
import { waitUntilReady } from "../readiness.js";

/**
 * Moves a database to another plan: its container is replaced by one with the
 * new plan's limits and settings, on the same volume, port and credentials, so
 * the data stays. Config vars are pushed again only if they changed.
 */
export async function changePlan(ctx: OperationContext): Promise<void> {
  const { deps, resource, operation } = ctx;
  if (operation.targetPlan === null) throw new PermanentError("plan change without a target plan");
  const target = ctx.plan(operation.targetPlan);
  // A degraded database (hurt by an OOM kill or an exit, see containment/) may change plan: often the cure.
  if (resource.status !== "provisioned" && resource.status !== "degraded" && resource.status !== "changing_plan") {
    throw new PermanentError(`cannot change the plan of a resource that is ${resource.status}`);
  }
  const current = ctx.plan(resource.plan);
  await deps.db.resource.update({ where: { id: resource.id }, data: { status: "changing_plan" } });
  const credentials = ctx.credentials();

  await ctx.step("container");
  const existing = await deps.runtime.inspectContainer(ctx.containerName);
  if (!existing || !existing.running || existing.labels[LABEL.plan] !== target.name) {
    await deps.runtime.removeContainer(ctx.containerName);
    await deps.runtime.ensureContainerRunning(ctx.containerRequest(target, credentials));
  }

  await ctx.step("readiness");
  const endpoints = ctx.endpoints(credentials);
  await waitUntilReady(ctx.addon, [endpoints.probe], deps.readinessIntervalMs);

  const before = ctx.addon.connectionConfig(endpoints.public, current);
  const after = ctx.addon.connectionConfig(endpoints.public, target);
  if (!isDeepStrictEqual(before, after)) {
    await ctx.step("report-config");
    await ctx.platform.patchAddonConfig(resource.id, after);
  }

  await deps.db.resource.update({
    where: { id: resource.id },
    data: { plan: target.name, status: "provisioned", statusReason: null, image: ctx.image },
  });
}

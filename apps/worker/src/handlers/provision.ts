import type { OperationContext } from "../operation-context.js";
import { PermanentError } from "../errors.js";
import { ensurePort } from "../placement.js";
import { ReadinessTimeoutError, waitUntilReady } from "../readiness.js";

/**
 * Creates the database: credentials, port, volume, container, readiness,
 * then reports the URL to the platform. Each step is idempotent, so a retry
 * after a crash resumes with the same credentials, port and container.
 */
export async function provision(ctx: OperationContext): Promise<void> {
  const { deps, resource } = ctx;
  // A replay after success, or a resource the platform removed meanwhile: nothing to build.
  if (resource.status === "provisioned" || resource.status === "deprovisioning" || resource.status === "deprovisioned") return;
  const plan = ctx.plan(resource.plan);

  await ctx.step("credentials");
  const credentials = await ctx.ensureCredentials();

  await ctx.step("placement");
  await ensurePort(deps.db, resource.id, deps.placement);
  await deps.db.resource.update({
    where: { id: resource.id },
    data: { containerName: ctx.containerName, volumeName: ctx.volumeName, image: ctx.image },
  });
  await ctx.reloadResource();

  await ctx.step("volume");
  await deps.runtime.ensureVolume(ctx.volumeName, { resourceId: resource.id, addonId: ctx.addon.id, plan: plan.name });

  await ctx.step("container");
  await deps.runtime.ensureContainerRunning(ctx.containerRequest(plan, credentials));

  await ctx.step("readiness");
  const endpoints = ctx.endpoints(credentials);
  try {
    await waitUntilReady(ctx.addon, endpoints.probe, deps.readinessIntervalMs);
  } catch (error) {
    if (!(error instanceof ReadinessTimeoutError)) throw error;
    // A database that never comes up is removed whole: no container, volume or port is left behind.
    await ctx.step("cleanup");
    await deps.runtime.removeContainer(ctx.containerName);
    await deps.runtime.removeVolume(ctx.volumeName);
    await deps.db.resource.update({ where: { id: resource.id }, data: { port: null } });
    throw new PermanentError(error.message);
  }

  await ctx.step("report-config");
  await ctx.platform.patchAddonConfig(resource.id, ctx.addon.connectionConfig(endpoints.public, plan));
  await ctx.step("report-provisioned");
  await ctx.platform.markProvisioned(resource.id);

  await deps.db.resource.update({
    where: { id: resource.id },
    data: { status: "provisioned", statusReason: null, provisionedAt: new Date() },
  });
}

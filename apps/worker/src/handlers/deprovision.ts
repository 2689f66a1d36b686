import type { OperationContext } from "../operation-context.js";

/**
 * Removes the container and its volume, then releases the port and forgets
 * the credentials. The data is deleted: there is no retention period yet.
 */
export async function deprovision(ctx: OperationContext): Promise<void> {
  const { deps, resource } = ctx;
  if (resource.status === "deprovisioned") return;
  await deps.db.resource.update({ where: { id: resource.id }, data: { status: "deprovisioning" } });

  await ctx.step("container");
  await deps.runtime.removeContainer(ctx.containerName);

  await ctx.step("volume");
  await deps.runtime.removeVolume(ctx.volumeName);

  await deps.db.resource.update({
    where: { id: resource.id },
    data: { status: "deprovisioned", statusReason: null, deprovisionedAt: new Date(), port: null, credentials: null },
  });
}

import { requireTransition } from "@berth/operations";
import type { OperationContext } from "../operation-context.js";

/**
 * Removes the container and its volume, then releases the port and forgets
 * the credentials. The data is deleted: there is no retention period yet.
 */
export async function deprovision(ctx: OperationContext<"deprovision">): Promise<void> {
  const { deps, resource } = ctx;
  if (resource.status === "deprovisioned") return;
  await requireTransition(deps.db, resource.id, "deprovisioning");

  await ctx.step("container");
  await deps.runtime.removeContainer(ctx.containerName);

  await ctx.step("volume");
  await deps.runtime.removeVolume(ctx.volumeName);

  await requireTransition(deps.db, resource.id, "deprovisioned", {
    data: { statusReason: null, deprovisionedAt: new Date(), port: null, credentials: null },
  });
}

import { setTimeout as sleep } from "node:timers/promises";
import { isIn } from "@berth/operations";
import { admitNextCredentials, commitNextCredentials, retirePreviousCredentials, stageNextCredentials } from "../credential-rotation.js";
import { PermanentError } from "../errors.js";
import type { OperationContext } from "../operation-context.js";

/**
 * Rotates a database's credentials (the customer's `POST …/credentials/rotate`): a new password
 * is stored, accepted by the engine beside the current one and checked, then sent to the app
 * (the Platform API's config update: the app restarts with it). The previous password keeps
 * working for the grace period, so the app's restart drops no request, then is refused.
 *
 * A retry resumes: until the new credentials are committed (right after the platform has them)
 * it goes through the same steps with the same new password; after, it waits out what is left of
 * the grace period and retires the previous one.
 */
export async function rotateCredentials(ctx: OperationContext<"rotate_credentials">): Promise<void> {
  const { deps, resource } = ctx;
  if (isIn("removed", resource.status)) return;
  if (!isIn("live", resource.status)) throw new PermanentError(`the database is ${resource.status}: only a running database's credentials are rotated`);
  // A previous attempt of this rotation committed its credentials (the last step it began is past
  // `admit`). Retiring credentials without that are an earlier rotation's that failed before
  // retiring them: `admit` makes the engine take exactly the current and the next ones anyway.
  const committed = resource.retiringCredentials !== null && resource.nextCredentials === null && ["report-config", "grace", "retire"].includes(ctx.operation.step ?? "");
  if (!committed) {
    await ctx.step("credentials");
    const next = await stageNextCredentials(ctx);
    await ctx.step("admit");
    await admitNextCredentials(ctx, next);
    await ctx.step("report-config");
    await ctx.platform.patchAddonConfig(resource.id, ctx.addon.connectionConfig(ctx.endpoints(next).public, ctx.plan(resource.plan)));
    await commitNextCredentials(ctx);
  }
  await ctx.step("grace");
  const graceEnds = (ctx.resource.credentialsRotatedAt?.getTime() ?? 0) + deps.rotationGraceMs;
  await sleep(Math.max(0, graceEnds - Date.now()));
  await ctx.step("retire");
  await retirePreviousCredentials(ctx);
}

/**
 * The phases of a rotation, shared by the customer's (handlers/rotate-credentials.ts) and the warm
 * pool's hand-over (provision). Each phase stores before it acts, and may run again after a crash:
 * `stage` (the next credentials, sealed), `admit` (the engine accepts them beside the current
 * ones), `commit` (they become the current ones; the previous ones are kept as retiring), `retire`
 * (the engine refuses the previous ones). Between them the resource's record names every password
 * the engine may accept, so none that works is ever lost.
 */
import type { AddonCredentials, CredentialRotation } from "@berth/addon-sdk";
import { runAdminCommand } from "./admin-commands.js";
import { PermanentError } from "./errors.js";
import type { OperationContext } from "./operation-context.js";

/** How long one engine command of a rotation, or the probe of its new credentials, may take. */
const ROTATION_TIMEOUT_MS = 10_000;

/** The engine's rotation commands; an engine without them cannot be rotated (nor pooled). */
function rotationOf(ctx: OperationContext): CredentialRotation {
  if (!ctx.addon.rotation) throw new PermanentError(`addon ${ctx.addon.id} cannot change passwords`);
  return ctx.addon.rotation;
}

/** The next credentials: generated and stored once, read back by a replay. */
export async function stageNextCredentials(ctx: OperationContext): Promise<AddonCredentials> {
  if (ctx.resource.nextCredentials === null) {
    const next = rotationOf(ctx).next(ctx.credentials());
    await ctx.deps.db.resource.updateMany({ where: { id: ctx.resource.id, nextCredentials: null }, data: { nextCredentials: ctx.deps.secrets.sealJson(next) } });
    await ctx.reloadResource();
  }
  return ctx.deps.secrets.openJson<AddonCredentials>(ctx.resource.nextCredentials!);
}

/** The engine accepts the staged credentials as well as the current ones; checked with a session before anyone is given them. */
export async function admitNextCredentials(ctx: OperationContext, next: AddonCredentials): Promise<void> {
  await runAdminCommand(ctx.deps, ctx.containerName, rotationOf(ctx).admit(ctx.credentials(), next), AbortSignal.timeout(ROTATION_TIMEOUT_MS));
  await ctx.addon.probe(ctx.endpoints(next).probe, AbortSignal.timeout(ROTATION_TIMEOUT_MS));
}

/** The staged credentials become the current ones, the current ones retiring: one statement, once. */
export async function commitNextCredentials(ctx: OperationContext): Promise<void> {
  const { nextCredentials, credentials } = ctx.resource;
  if (nextCredentials === null) return;
  await ctx.deps.db.resource.updateMany({
    where: { id: ctx.resource.id, nextCredentials },
    data: { credentials: nextCredentials, retiringCredentials: credentials, nextCredentials: null, credentialsRotatedAt: new Date() },
  });
  await ctx.reloadResource();
}

/** The engine refuses the retiring credentials (and ends their sessions where it can tell them apart); then they are forgotten. */
export async function retirePreviousCredentials(ctx: OperationContext): Promise<void> {
  const { retiringCredentials } = ctx.resource;
  if (retiringCredentials === null) return;
  const previous = ctx.deps.secrets.openJson<AddonCredentials>(retiringCredentials);
  await runAdminCommand(ctx.deps, ctx.containerName, rotationOf(ctx).retire(ctx.credentials(), previous), AbortSignal.timeout(ROTATION_TIMEOUT_MS));
  await ctx.deps.db.resource.updateMany({ where: { id: ctx.resource.id, retiringCredentials }, data: { retiringCredentials: null } });
  await ctx.reloadResource();
}

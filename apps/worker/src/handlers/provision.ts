import type { AddonCredentials } from "@berth/addon-sdk";
import { isIn, requireTransition } from "@berth/operations";
import type { OperationContext } from "../operation-context.js";
import { runUntilSuccess } from "../admin-commands.js";
import { admitNextCredentials, commitNextCredentials, retirePreviousCredentials, stageNextCredentials } from "../credential-rotation.js";
import { archiveLatestChanges } from "../backups/continuous-archive.js";
import { loadableBackup, startFromBackup, verifyBackup } from "../backups/load-backup.js";
import { startAtMoment, verifiedRecoveryPlan } from "../backups/point-in-time.js";
import type { ContainerRequest } from "../runtime/container-runtime.js";
import { PermanentError } from "../errors.js";
import { ensurePort } from "../placement.js";
import { ReadinessTimeoutError, waitUntilReady } from "../readiness.js";

/**
 * Creates the database: credentials, port, volume, container, readiness,
 * then reports the URL to the platform. Each step is idempotent, so a retry
 * after a crash resumes with the same credentials, port and container.
 *
 * The warm pool's databases go through the same steps: a `warming` one stops
 * when it is ready (it has no app to report to yet); a claimed one finds every
 * object in place, gets the customer's own password, then is reported.
 */
export async function provision(ctx: OperationContext<"provision">): Promise<void> {
  const { deps, resource } = ctx;
  // A replay after success, or a resource the platform removed meanwhile: nothing to build.
  if (isIn("built", resource.status)) return;
  const plan = ctx.plan(resource.plan);

  await ctx.step("credentials");
  let credentials = await ctx.ensureCredentials();

  await ctx.step("placement");
  await ensurePort(deps.db, resource.id, deps.placement);
  await deps.db.resource.update({
    where: { id: resource.id },
    data: { containerName: ctx.containerName, volumeName: ctx.volumeName, image: ctx.image },
  });
  await ctx.reloadResource();

  await ctx.step("volume");
  await deps.runtime.ensureVolume(ctx.volumeName, { resourceId: resource.id, addonId: ctx.addon.id, plan: plan.name }, plan.limits.diskMb);

  await ctx.step("container");
  await deps.runtime.ensureContainerRunning(await ctx.containerRequest(plan, credentials));

  if (ctx.addon.bootstrap) {
    await ctx.step("bootstrap");
    await runUntilSuccess(deps, { addonId: ctx.addon.id, containerName: ctx.containerName, command: ctx.addon.bootstrap(credentials), timeoutMs: ctx.addon.readyTimeoutMs });
  }

  await ctx.step("readiness");
  try {
    const candidates = [credentials, ...ctx.alsoAccepted()].map((candidate) => ctx.endpoints(candidate).probe);
    await waitUntilReady(ctx.addon, candidates, deps.readinessIntervalMs);
  } catch (error) {
    if (!(error instanceof ReadinessTimeoutError)) throw error;
    // A database that never comes up is removed whole: no container, volume or port is left behind.
    await ctx.step("cleanup");
    await deps.runtime.removeContainer(ctx.containerName);
    await deps.runtime.removeVolume(ctx.volumeName);
    await deps.db.resource.update({ where: { id: resource.id }, data: { port: null } });
    throw new PermanentError(error.message);
  }

  if ((ctx.resource.seedBackupId !== null || ctx.resource.seedResourceId !== null) && ctx.resource.seededAt === null) {
    await ctx.step("seed");
    await seed(ctx, credentials);
  }

  if (ctx.resource.status === "warming") {
    await requireTransition(deps.db, resource.id, "warm", { data: { statusReason: null } });
    return;
  }
  if (ctx.resource.claimedAt !== null && (ctx.resource.credentialsRotatedAt === null || ctx.resource.retiringCredentials !== null)) {
    await ctx.step("rotate-credentials");
    credentials = await handOverCredentials(ctx);
    void deps.warmPool?.requestRefill();
  }

  const endpoints = ctx.endpoints(credentials);
  await ctx.step("report-config");
  await ctx.platform.patchAddonConfig(resource.id, ctx.addon.connectionConfig(endpoints.public, plan));
  await ctx.step("report-provisioned");
  await ctx.platform.markProvisioned(resource.id);

  await requireTransition(deps.db, resource.id, "provisioned", { data: { statusReason: null, provisionedAt: new Date() } });
}

/**
 * A claimed pool database gets a password nobody has seen: a rotation without a grace period
 * (nobody holds the pool's password), whose phases each store before they act, so a crash at any
 * point resumes without ever losing the password that works.
 */
async function handOverCredentials(ctx: OperationContext<"provision">): Promise<AddonCredentials> {
  if (ctx.resource.retiringCredentials === null) {
    const next = await stageNextCredentials(ctx);
    await admitNextCredentials(ctx, next);
    await commitNextCredentials(ctx);
  }
  await retirePreviousCredentials(ctx);
  return ctx.credentials();
}

/** How long loading a fork's backup may take before the attempt is given up (and retried from an empty volume). */
const SEED_TIMEOUT_MS = 6 * 3600_000;

/**
 * A fork: the new database gets the data of a backup (verified first), or of another database as
 * it was at a moment (recovered from that one's continuous archive: its latest changes archived
 * first when it still runs). It starts over on an empty volume, so a retry after a crash mid-load
 * never loads twice; done once `seededAt` is recorded.
 */
async function seed(ctx: OperationContext<"provision">, credentials: AddonCredentials): Promise<void> {
  const { deps, resource } = ctx;
  const signal = AbortSignal.timeout(SEED_TIMEOUT_MS);
  const plan = ctx.plan(resource.plan);
  const container = await ctx.containerRequest(plan, credentials);
  const load = await seedLoader(ctx, credentials, container, signal);
  await deps.runtime.removeContainer(ctx.containerName);
  await deps.runtime.removeVolume(ctx.volumeName);
  await deps.runtime.ensureVolume(ctx.volumeName, { resourceId: resource.id, addonId: ctx.addon.id, plan: plan.name }, plan.limits.diskMb);
  await load();
  await waitUntilReady(ctx.addon, [ctx.endpoints(credentials).probe], deps.readinessIntervalMs);
  await deps.db.resource.update({ where: { id: resource.id }, data: { seededAt: new Date() } });
  await ctx.reloadResource();
}

/** What fills a fork's new volume, checked (objects verified) before its empty database is removed. */
async function seedLoader(ctx: OperationContext<"provision">, credentials: AddonCredentials, container: ContainerRequest, signal: AbortSignal): Promise<() => Promise<void>> {
  const { deps, resource } = ctx;
  const beforeLoad = async () => {};
  // A new database has none recorded: a fork keeps none of its source's users.
  const users = await ctx.databaseUsers();
  if (resource.seedBackupId !== null) {
    const backup = loadableBackup(await deps.db.backup.findUniqueOrThrow({ where: { id: resource.seedBackupId } }));
    await verifyBackup(deps, backup);
    return () => startFromBackup(deps, { addon: ctx.addon, credentials, users, container, backup, signal, beforeLoad });
  }
  const source = await deps.db.resource.findUniqueOrThrow({ where: { id: resource.seedResourceId! } });
  if (isIn("archiving", source.status) && source.containerName !== null) {
    await archiveLatestChanges(deps, { addon: ctx.addon, resourceId: source.id, containerName: source.containerName });
  }
  const plan = await verifiedRecoveryPlan(deps, ctx.addon, source.id, resource.seedTime!);
  return async () => {
    await startAtMoment(deps, { addon: ctx.addon, container, plan, to: credentials, users, signal, beforeLoad });
    // Recovered: the database's own container (without the recovery's settings) on that volume.
    await deps.runtime.removeContainer(container.name);
    await deps.runtime.ensureContainerRunning(container);
  };
}

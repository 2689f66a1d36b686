import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { AddonCredentials, AddonDefinition, ContinuousArchive, DatabaseUser } from "@berth/addon-sdk";
import type { ArchivedLog, BaseBackup } from "@berth/db";
import { baseBackupFor } from "@berth/operations";
import tar from "tar-stream";
import { runAdminCommand, setUpEngine } from "../admin-commands.js";
import type { WorkerDeps } from "../deps.js";
import { PermanentError } from "../errors.js";
import type { ContainerRequest } from "../runtime/container-runtime.js";
import { archiveOf } from "./continuous-archive.js";
import { verifyStored } from "./load-backup.js";

/**
 * How long after a moment the log holding it may have been closed: the engine closes one at the
 * latest a minute after a change (PostgreSQL's `archive_timeout`), this leaves room for a slow host.
 */
const CLOSED_WITHIN_MS = 10 * 60_000;

/** What a recovery to a moment replays: a physical copy, the archived logs after it, and where to stop. */
export interface RecoveryPlan {
  readonly base: BaseBackup;
  readonly logs: readonly ArchivedLog[];
  /**
   * Where the replay stops; null: at the end of the logs, when none was closed after the moment
   * (every archived change is older: replaying them all is the database at that moment, as far as
   * the archive holds it).
   */
  readonly target: Date | null;
}

/**
 * The recovery to `at`: from the copy `baseBackupFor` picks, with the logs of its volume it may ask
 * for (those of changes until shortly after `at`, and every history). Refused (permanently) when no
 * copy can reach `at`.
 */
export function planRecovery(
  archive: ContinuousArchive,
  { bases, logs, restoresStartedAt }: { bases: readonly BaseBackup[]; logs: readonly ArchivedLog[]; restoresStartedAt: readonly Date[] },
  at: Date,
  now: Date,
): RecoveryPlan {
  const base = baseBackupFor(bases, restoresStartedAt, at, now);
  if ("refused" in base) throw new PermanentError(`the database cannot be put back to ${at.toISOString()}: ${base.refused}`);
  // The history of the volume the copy was taken of.
  const ofVolume = logs.filter((log) => log.volumeName === base.volumeName).map((log) => ({ log, need: archive.needsLog(log.name, base.walStart) }));
  const closedAfter = ofVolume.some(({ log, need }) => need === "until-target" && log.archivedAt > at);
  const needed = ofVolume
    .filter(({ log, need }) => need === "always" || (need === "until-target" && log.archivedAt.getTime() <= at.getTime() + CLOSED_WITHIN_MS))
    .map(({ log }) => log);
  return { base, logs: needed.sort((a, b) => a.name.localeCompare(b.name)), target: closedAfter ? at : null };
}

/** The recovery to `at` of a resource's archive, every object of it verified (SHA-256, every record's tag) before anything is touched. */
export async function verifiedRecoveryPlan(deps: Pick<WorkerDeps, "db" | "backups">, addon: AddonDefinition, resourceId: string, at: Date): Promise<RecoveryPlan> {
  const archive = archiveOf(addon);
  if (!archive) throw new PermanentError(`addon ${addon.id} keeps no continuous archive: it cannot be recovered to a moment`);
  const [bases, logs, restores] = await Promise.all([
    deps.db.baseBackup.findMany({ where: { resourceId } }),
    deps.db.archivedLog.findMany({ where: { resourceId } }),
    deps.db.operation.findMany({ where: { resourceId, kind: "restore", status: "succeeded" }, select: { startedAt: true, createdAt: true } }),
  ]);
  const plan = planRecovery(archive, { bases, logs, restoresStartedAt: restores.map((each) => each.startedAt ?? each.createdAt) }, at, new Date());
  for (const object of [plan.base, ...plan.logs]) await verifyStored(deps, object, `archive object ${object.objectKey}`);
  return plan;
}

/**
 * Starts a database on a new, empty volume (`container.volumeName`) as it was at the plan's
 * moment: the physical copy and the logs are extracted into the volume, a staging container
 * replays them, and once the engine is out of recovery the data becomes `to`'s and is set up as
 * any new one. `beforeLoad` is called when the replay begins (the caller's step).
 */
export async function startAtMoment(
  deps: WorkerDeps,
  { addon, container, plan, to, users, signal, beforeLoad }: {
    addon: AddonDefinition;
    container: ContainerRequest;
    plan: RecoveryPlan;
    to: AddonCredentials;
    /** `to`'s other users, as recorded. */
    users: readonly DatabaseUser[];
    signal: AbortSignal;
    beforeLoad: () => Promise<void>;
  },
): Promise<void> {
  const archive = archiveOf(addon);
  if (!archive) throw new PermanentError(`addon ${addon.id} keeps no continuous archive`);
  const parts = [() => deps.backups.open(plan.base.objectKey), () => Promise.resolve(logsArchive(deps, archive, plan.logs, container.spec.fileOwner))];
  await deps.runtime.writeVolumeArchives(container, async () => (await parts.shift()?.()) ?? null, signal);
  await deps.runtime.ensureContainerRunning({ ...container, spec: archive.recoverySpec(container.spec, plan.target) });
  await beforeLoad();
  await waitForRecovery(deps, container.name, archive, signal);
  await runAdminCommand(deps, container.name, archive.adopt(to), signal);
  await runAdminCommand(deps, container.name, { command: ["rm", "-rf", `${container.spec.dataPath}/${archive.restorePath}`], user: archive.user }, signal);
  await setUpEngine(deps, { addon, containerName: container.name, credentials: to, users });
}

/** Until the engine is out of recovery; a recovery that stopped the engine (its error in the container's log) fails for good. */
async function waitForRecovery(deps: WorkerDeps, containerName: string, archive: ContinuousArchive, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    try {
      await runAdminCommand(deps, containerName, archive.recovered(), signal);
      return;
    } catch {
      // still replaying, or not accepting sessions yet
    }
    const state = await deps.runtime.inspectContainer(containerName);
    if (!state || state.finishedAt !== undefined) {
      const log = await deps.runtime.logTail(containerName, 30);
      const reason = log.split("\n").filter((line) => /FATAL|PANIC/.test(line)).at(-1) ?? log.trim().split("\n").at(-1) ?? "no log";
      throw new PermanentError(`the recovery stopped the engine: ${reason.trim()}`);
    }
    await sleep(deps.readinessIntervalMs, undefined, { signal });
  }
}

/** A tar of the logs under the engine's `restorePath`, and its recovery files: streamed from the store, one log after the other. */
function logsArchive(deps: Pick<WorkerDeps, "backups">, archive: ContinuousArchive, logs: readonly ArchivedLog[], owner: { uid: number; gid: number }): Readable {
  const pack = tar.pack();
  const ids = { uid: owner.uid, gid: owner.gid };
  void (async () => {
    const parts = archive.restorePath.split("/");
    for (let depth = 1; depth <= parts.length; depth++) pack.entry({ name: `${parts.slice(0, depth).join("/")}/`, type: "directory", mode: 0o700, ...ids });
    for (const log of logs) {
      const content = await deps.backups.open(log.objectKey);
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: `${archive.restorePath}/${log.name}`, size: Number(log.contentSize), mode: 0o600, ...ids }, (error) => (error ? reject(error) : resolve()));
        pipeline(content, entry).catch(reject);
      });
    }
    for (const file of archive.recoveryFiles) pack.entry({ name: file.path, mode: 0o600, ...ids }, file.content);
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error instanceof Error ? error : new Error(String(error))));
  return pack;
}

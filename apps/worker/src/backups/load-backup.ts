import type { AddonCredentials, AddonDefinition, DatabaseUser } from "@berth/addon-sdk";
import { BackupIntegrityError } from "@berth/backup-store";
import type { Backup } from "@berth/db";
import { setUpEngine } from "../admin-commands.js";
import type { WorkerDeps } from "../deps.js";
import { PermanentError } from "../errors.js";
import type { ContainerRequest } from "../runtime/container-runtime.js";

/** A finished backup, with what a load needs of it. */
export type LoadableBackup = Backup & { objectKey: string; sha256: string; contentSize: bigint };

export function loadableBackup(backup: Backup): LoadableBackup {
  if (backup.status !== "done" || backup.objectKey === null || backup.sha256 === null || backup.contentSize === null) {
    throw new PermanentError(`backup ${backup.id} is ${backup.status}: it cannot be loaded`);
  }
  return backup as LoadableBackup;
}

/** Checks the stored object (SHA-256, every record's tag) before anything is touched: a damaged backup is refused for good. */
export function verifyBackup(deps: Pick<WorkerDeps, "backups">, backup: LoadableBackup): Promise<void> {
  return verifyStored(deps, backup, `backup ${backup.id}`);
}

/** Checks one stored object (`what` names it in the refusal) against its recorded SHA-256 and every record's tag. */
export async function verifyStored(deps: Pick<WorkerDeps, "backups">, object: { objectKey: string; sha256: string }, what: string): Promise<void> {
  try {
    await deps.backups.verify(object.objectKey, object.sha256);
  } catch (error) {
    if (error instanceof BackupIntegrityError) throw new PermanentError(`${what} is damaged (${error.reason}); nothing was restored`);
    throw error;
  }
}

/**
 * Starts a database on a new, empty volume (`container.volumeName`) with a backup's data, the way
 * its engine takes a dump back: a file written into the volume before the engine's first start,
 * or, once the engine is set up, a command reading the dump on its stdin (`beforeLoad` is called
 * just before: the caller's step). Streamed from the backup store, never held whole.
 */
export async function startFromBackup(
  deps: WorkerDeps,
  { addon, credentials, users, container, backup, signal, beforeLoad }: {
    addon: AddonDefinition;
    credentials: AddonCredentials;
    /** The database's other users, as recorded. */
    users: readonly DatabaseUser[];
    container: ContainerRequest;
    backup: LoadableBackup;
    signal: AbortSignal;
    beforeLoad: () => Promise<void>;
  },
): Promise<void> {
  const engine = addon.backup;
  if (!engine) throw new PermanentError(`addon ${addon.id} has no backups`);
  if (engine.restore.kind === "file") {
    const file = { volumeName: container.volumeName, labels: container.labels, spec: container.spec, path: engine.restore.path, size: Number(backup.contentSize), mode: engine.restore.mode };
    await deps.runtime.writeVolumeFile(file, await deps.backups.open(backup.objectKey), signal);
  }
  await deps.runtime.ensureContainerRunning(container);
  await setUpEngine(deps, { addon, containerName: container.name, credentials, users });
  await beforeLoad();
  if (engine.restore.kind === "load") {
    await deps.runtime.execWithInput(container.name, engine.restore.load(credentials), await deps.backups.open(backup.objectKey), signal);
  }
}

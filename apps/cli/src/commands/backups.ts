/**
 * `berth backups list|create|download|restore|fork-token`: a database's backups. Backups and restores
 * are recorded through the operations service, as the provider API records them; a download
 * reads the backup store directly (verified first), as the API's download link does.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BackupIntegrityError, BackupNotFoundError, ForkTokens, createBackupStore } from "@berth/backup-store";
import type { Backup, PrismaClient } from "@berth/db";
import { RAW_COPY_FORMAT } from "@berth/operations";
import { InvalidArgumentError, Option, type Command } from "commander";
import { z } from "zod";
import { addonOf, findResource, resolvePath, type CliContext } from "../context.js";
import { withControlPlane, withDatabase } from "../control-plane.js";
import { CommandFailure, EXIT, Exit, UsageError } from "../errors.js";
import { followOperation } from "../follow-operation.js";
import { formatBytes, formatTable, timestamp } from "../table.js";
import { createTransferDisplay } from "../transfer-display.js";

export function registerBackupsCommands(program: Command, context: CliContext): void {
  const backups = program.command("backups").description("a database's backups: list, take one, download one, restore one");

  backups
    .command("list")
    .description("the resource's backups, newest first: id, method, status, size stored, created, finished (reads BERTH_DATABASE_URL)")
    .argument("<resourceId>", "the resource's id (a deprovisioned one too: its final backup)")
    .action(async (resourceId: string) => {
      await listBackups(context, resourceId);
    });

  backups
    .command("create")
    .description("take a manual backup, as the provider API's POST …/backups does; prints its id (reads BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX)")
    .argument("<resourceId>", "the resource's id")
    .option("--follow", "wait for the backup with a progress bar; exit 1 if it failed")
    .action(async (resourceId: string, options: { follow?: boolean }) => {
      await createBackup(context, resourceId, options);
    });

  backups
    .command("download")
    .description(
      "write a finished backup's dump (the engine's own format, decrypted) to a file, after verifying its checksum " +
        "(reads BERTH_DATABASE_URL, BERTH_BACKUP_*, BERTH_ENCRYPTION_KEY, BERTH_ENCRYPTION_PREVIOUS_KEYS)",
    )
    .argument("<resourceId>", "the resource's id")
    .argument("<backupId>", "the backup's id (see berth backups list)")
    .option("--output <file>", "where to write it; it must not exist (default: <resourceId>-<created>.<format> in the current directory)")
    .action(async (resourceId: string, backupId: string, options: { output?: string }) => {
      await downloadBackup(context, resourceId, backupId, options);
    });

  backups
    .command("restore")
    .description(
      "load a finished backup into its database, or put it back to a moment of the last 7 days (--at, PostgreSQL), as the provider API's " +
        "POST …/restore does: the data written since is lost. Asks first unless --yes (reads BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX)",
    )
    .argument("<resourceId>", "the resource's id")
    .argument("[backupId]", "the backup's id (see berth backups list); or --at")
    .addOption(new Option("--at <time>", "the moment, ISO 8601 with its offset (e.g. 2026-12-02T14:05:00Z)").argParser(parseMoment))
    .option("--yes", "do not ask for confirmation (needed when standard input is not a terminal)")
    .option("--follow", "wait for the restore with a progress bar; exit 1 if it failed")
    .action(async (resourceId: string, backupId: string | undefined, options: { at?: Date; yes?: boolean; follow?: boolean }) => {
      await restoreBackup(context, resourceId, restoreSource(backupId, options.at), options);
    });

  backups
    .command("fork-token")
    .description(
      "a token (valid an hour) that makes a new database a copy of a finished backup: give it as the provision option fork_token. " +
        "How a deleted database is brought back, from its final backup (reads BERTH_DATABASE_URL, BERTH_ENCRYPTION_KEY)",
    )
    .argument("<resourceId>", "the resource's id (a deprovisioned one too)")
    .argument("[backupId]", "the backup's id (see berth backups list); or --at")
    .addOption(new Option("--at <time>", "a new database as the resource was at this moment of the last 7 days (PostgreSQL), ISO 8601 with its offset").argParser(parseMoment))
    .action(async (resourceId: string, backupId: string | undefined, options: { at?: Date }) => {
      await forkToken(context, resourceId, restoreSource(backupId, options.at));
    });
}

type RestoreSource = { backupId: string } | { at: Date };

function restoreSource(backupId: string | undefined, at: Date | undefined): RestoreSource {
  if ((backupId === undefined) === (at === undefined)) throw new UsageError("give either a backup id or --at <time>");
  return backupId !== undefined ? { backupId } : { at: at! };
}

/** A moment as the provider API takes it: ISO 8601 with its offset (the same zod rule as its schema). */
function parseMoment(value: string): Date {
  if (!z.iso.datetime({ offset: true }).safeParse(value).success) throw new InvalidArgumentError("not an ISO 8601 time with its offset (e.g. 2026-12-02T14:05:00Z)");
  return new Date(value);
}

/** The same token the provider API's `POST …/backups/:id/fork-token` (or `POST …/fork-token` with a moment) gives, signed with the deployment's key. */
async function forkToken(context: CliContext, resourceId: string, source: RestoreSource): Promise<void> {
  const { encryptionKey } = context.config().backupStore();
  if ("at" in source) {
    const resource = await withControlPlane(context, async ({ db, resources }) => {
      const found = await findResource(db, resourceId);
      await resources.requireRecoverable(addonOf(context, found), resourceId, source.at);
      return found;
    });
    const { token, expiresAt } = new ForkTokens(encryptionKey).createForMoment(resourceId, source.at);
    context.io.stdout(`${token}\n`);
    context.io.stderr(
      `Valid until ${timestamp(expiresAt)} UTC. Provision a new ${resource.addon} addon with the option fork_token=<the token above>: ` +
        `it starts with the data of ${resource.id} as it was at ${timestamp(source.at)} UTC.\n`,
    );
    return;
  }
  const { backupId } = source;
  const { resource, backup } = await withDatabase(context, async (db) => {
    const found = await findResource(db, resourceId);
    return { resource: found, backup: await findBackup(db, resourceId, backupId) };
  });
  if (backup.status !== "done") throw new CommandFailure(`backup ${backupId} is ${backup.status}: only a finished (done) backup can be forked`);
  if (backup.format === RAW_COPY_FORMAT) throw new CommandFailure(`backup ${backupId} is a copy of the database's files: download it; it cannot be loaded into a new database`);
  const { token, expiresAt } = new ForkTokens(encryptionKey).create(backup.id);
  context.io.stdout(`${token}\n`);
  context.io.stderr(
    `Valid until ${timestamp(expiresAt)} UTC. Provision a new ${resource.addon} addon with the option fork_token=<the token above>: ` +
      `it starts with the data of backup ${backup.id} (${backup.method}, ${timestamp(backup.createdAt)} UTC) of ${resource.id}.\n`,
  );
}

async function findBackup(db: PrismaClient, resourceId: string, backupId: string): Promise<Backup> {
  const backup = await db.backup.findFirst({ where: { id: backupId, resourceId } });
  if (!backup) throw new CommandFailure(`resource ${resourceId} has no backup with id ${backupId}`);
  return backup;
}

async function listBackups(context: CliContext, resourceId: string): Promise<void> {
  const backups = await withDatabase(context, async (db) => {
    await findResource(db, resourceId);
    return db.backup.findMany({ where: { resourceId }, orderBy: { createdAt: "desc" } });
  });
  if (backups.length === 0) {
    context.io.stdout(`No backups of ${resourceId}.\n`);
    return;
  }
  context.io.stdout(
    formatTable(
      ["ID", "METHOD", "STATUS", "SIZE", "CREATED", "FINISHED"],
      backups.map((backup) => [backup.id, backup.method, backup.status, formatBytes(backup.size), timestamp(backup.createdAt), timestamp(backup.finishedAt)]),
    ),
  );
}

async function createBackup(context: CliContext, resourceId: string, options: { follow?: boolean }): Promise<void> {
  const { io } = context;
  await withControlPlane(context, async (controlPlane) => {
    const { db, resources } = controlPlane;
    const addon = addonOf(context, await findResource(db, resourceId));
    const backup = await resources.backup(addon, resourceId, "manual");
    const operation = await db.operation.findFirstOrThrow({ where: { backupId: backup.id, kind: "backup" } });
    io.stdout(`Backup ${backup.id} of ${resourceId} scheduled: operation ${operation.id}.\n`);
    if (!options.follow) {
      io.stdout(`Follow it with: berth jobs follow ${operation.id}\n`);
      return;
    }
    await followOperation(context, controlPlane, operation.id);
    const done = await db.backup.findUniqueOrThrow({ where: { id: backup.id } });
    io.stdout(`Backup ${done.id} is ${done.status}: ${formatBytes(done.size) ?? "?"} stored, a dump of ${formatBytes(done.contentSize) ?? "?"}.\n`);
  });
}

async function downloadBackup(context: CliContext, resourceId: string, backupId: string, options: { output?: string }): Promise<void> {
  const { io } = context;
  // The store's configuration is checked before the database is asked anything.
  const storeConfig = context.config().backupStore();
  const backup = await withDatabase(context, async (db) => {
    await findResource(db, resourceId);
    return findBackup(db, resourceId, backupId);
  });
  if (backup.status !== "done" || backup.objectKey === null || backup.sha256 === null || backup.contentSize === null) {
    throw new CommandFailure(`backup ${backupId} is ${backup.status}: only a finished (done) backup can be downloaded`);
  }
  const output = resolvePath(context, options.output ?? `${resourceId}-${backup.createdAt.toISOString().replace(/[:.]/g, "-")}.${backup.format}`);
  if (await exists(output)) throw new CommandFailure(`${output} exists already; remove it or choose another --output`);

  const store = createBackupStore(storeConfig);
  try {
    io.stderr(`Verifying backup ${backupId} (${formatBytes(backup.size)} stored)\n`);
    await store.verify(backup.objectKey, backup.sha256);
    const contentSize = Number(backup.contentSize);
    io.stderr(`Writing its dump (${formatBytes(contentSize)}) to ${output}\n`);
    const written = await writeAtomically(output, await store.open(backup.objectKey), contentSize, context);
    io.stdout(`Backup ${backupId} written to ${output} (${written} bytes).\n`);
  } catch (error) {
    // Checked before the first byte is written, and each record again as it is read (the object may change meanwhile).
    if (error instanceof BackupIntegrityError) throw new CommandFailure(`backup ${backupId} is damaged (${error.reason}): ${error.message}; nothing was written`);
    if (error instanceof BackupNotFoundError) throw new CommandFailure(`backup ${backupId} is missing from the backup store (${error.message}); nothing was written`);
    throw error;
  } finally {
    store.close();
  }
}

/**
 * Writes `content` to a hidden temporary file beside `output` (mode 600: it is the customer's
 * data), flushed to disk, then renamed to `output`: `output` is either the whole dump or absent,
 * never part of one. Resolves with the bytes written; they must be the `expectedBytes` recorded.
 */
async function writeAtomically(output: string, content: Readable, expectedBytes: number, context: CliContext): Promise<number> {
  const temporary = join(dirname(output), `.${basename(output)}.${randomBytes(6).toString("hex")}.partial`);
  const display = createTransferDisplay(context.io, expectedBytes);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      display.transferred(bytes);
      done(null, chunk);
    },
  });
  // Interrupted, the write stops and the temporary file goes: nothing is left behind.
  const interruption = new AbortController();
  const stopListening = context.io.onInterrupt?.(() => interruption.abort()) ?? (() => undefined);
  try {
    try {
      await pipeline(content, counter, createWriteStream(temporary, { flags: "wx", mode: 0o600 }), { signal: interruption.signal });
    } finally {
      display.stop();
    }
    if (bytes !== expectedBytes) throw new CommandFailure(`the backup's dump is ${bytes} bytes, not the ${expectedBytes} recorded; nothing was written`);
    const file = await open(temporary, "r");
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, output);
  } catch (error) {
    content.destroy();
    await rm(temporary, { force: true });
    if (interruption.signal.aborted) {
      context.io.stderr("Interrupted: nothing was written.\n");
      throw new Exit(EXIT.interrupted);
    }
    // The file system's refusal (no such directory, no permission, disk full) is the operator's to fix: said plainly.
    const syscall = (error as NodeJS.ErrnoException).syscall;
    if (syscall !== undefined) throw new CommandFailure(`cannot write ${output}: ${(error as Error).message}`);
    throw error;
  } finally {
    stopListening();
  }
  return bytes;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

async function restoreBackup(context: CliContext, resourceId: string, source: RestoreSource, options: { yes?: boolean; follow?: boolean }): Promise<void> {
  const { io } = context;
  const prompt = io.prompt;
  if (!options.yes && !prompt) {
    throw new UsageError("a restore overwrites the database's data and standard input is not a terminal to ask on: add --yes to restore");
  }
  await withControlPlane(context, async (controlPlane) => {
    const { db, resources } = controlPlane;
    const resource = await findResource(db, resourceId);
    const addon = addonOf(context, resource);
    const what = "at" in source ? `to ${timestamp(source.at)} UTC` : `from backup ${source.backupId} of ${timestamp((await findBackup(db, resourceId, source.backupId)).createdAt)}`;
    if (!options.yes) {
      io.stderr(`Restoring ${resourceId} (app ${resource.appId || "none"}) ${what} replaces all of its data: what was written since is lost.\n`);
      const answer = await prompt!("Restore it? [y/N] ");
      if (!/^\s*y(es)?\s*$/i.test(answer)) {
        io.stderr("Not restored.\n");
        throw new Exit(EXIT.failure);
      }
    }
    const operation = "at" in source ? await resources.restoreToMoment(addon, resourceId, source.at) : await resources.restore(addon, resourceId, source.backupId);
    io.stdout(`Restore of ${resourceId} ${"at" in source ? `to ${source.at.toISOString()}` : `from backup ${source.backupId}`} queued: operation ${operation.id}.\n`);
    if (options.follow) await followOperation(context, controlPlane, operation.id);
    else io.stdout(`Follow it with: berth jobs follow ${operation.id}\n`);
  });
}

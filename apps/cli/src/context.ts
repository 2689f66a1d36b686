import { isAbsolute, resolve } from "node:path";
import type { AddonDefinition } from "@berth/addon-sdk";
import type { EnvSource } from "@berth/config";
import type { PrismaClient, Resource } from "@berth/db";
import type { CliConfig } from "./config.js";
import { CommandFailure, UsageError } from "./errors.js";

/** Everything a command touches outside itself, so that tests and other callers can provide it. */
export interface CliIo {
  readonly env: EnvSource;
  /** Relative paths given on the command line are relative to this directory. */
  readonly cwd: string;
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /** Asks a question on an interactive terminal and resolves with the line answered; undefined when standard input is not a terminal. */
  readonly prompt?: (question: string) => Promise<string>;
  /**
   * Calls `handler` instead of exiting when the operator interrupts the command (Ctrl-C, SIGTERM),
   * until the returned function is called: for a command that must clean up first.
   */
  readonly onInterrupt?: (handler: () => void) => () => void;
  /** An interactive terminal to draw progress bars on; undefined when output goes to a pipe or a file. */
  readonly terminal?: NodeJS.WriteStream;
}

/** What a command group receives when it registers its commands. */
export interface CliContext {
  readonly io: CliIo;
  readonly addons: ReadonlyMap<string, AddonDefinition>;
  /** The configuration, read on first use (after the global options, e.g. `--load-env`, are parsed). */
  config(): CliConfig;
}

/** The installed addon with this id, or a usage error listing the installed ones. */
export function findAddon(context: CliContext, id: string): AddonDefinition {
  const addon = context.addons.get(id);
  if (!addon) {
    throw new UsageError(`unknown addon "${id}": the installed addons are ${[...context.addons.keys()].join(", ")}`);
  }
  return addon;
}

/** The addon of a resource, installed in this CLI. */
export function addonOf(context: CliContext, resource: Pick<Resource, "id" | "addon">): AddonDefinition {
  const addon = context.addons.get(resource.addon);
  if (!addon) throw new CommandFailure(`resource ${resource.id} belongs to the addon ${resource.addon}, which is not installed here`);
  return addon;
}

export async function findResource(db: PrismaClient, id: string): Promise<Resource> {
  const resource = await db.resource.findUnique({ where: { id } });
  if (!resource) throw new CommandFailure(`no resource with id ${id}`);
  return resource;
}

export function resolvePath(context: CliContext, path: string): string {
  return isAbsolute(path) ? path : resolve(context.io.cwd, path);
}

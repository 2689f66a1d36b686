/**
 * `berth`, Berth's admin command line.
 *
 * The program and its global options live here; each command group is a
 * module of `commands/` exporting a `register…Commands(program, context)`
 * function, listed in `COMMAND_GROUPS`. Commands print through `context.io`,
 * read the configuration through `context.config()` (only the part they need)
 * and end with an exception: `UsageError` (exit 2), `ConfigError` (exit 3),
 * `CommandFailure` or a refusal of the operations service (exit 1, `error: …`),
 * `Exit` (its code), anything else (exit 1). See `errors.ts` for the codes.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { parseEnv as parseEnvFile } from "node:util";
import type { AddonDefinition } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { ConfigError, redact, type EnvSource } from "@berth/config";
import { Command, CommanderError } from "commander";
import { OperationRefusal } from "@berth/operations";
import { registerBackupsCommands } from "./commands/backups.js";
import { registerJobsCommands } from "./commands/jobs.js";
import { registerManifestCommands } from "./commands/manifest.js";
import { registerOperationsCommands } from "./commands/operations.js";
import { registerQueuesCommands } from "./commands/queues.js";
import { registerResourcesCommands } from "./commands/resources.js";
import { createCliConfig, type CliConfig } from "./config.js";
import { resolvePath, type CliContext, type CliIo } from "./context.js";
import { CommandFailure, EXIT, Exit, UsageError } from "./errors.js";

export type { CliIo } from "./context.js";

/** The command groups, in the order `berth --help` lists them. */
const COMMAND_GROUPS: ReadonlyArray<(program: Command, context: CliContext) => void> = [
  registerManifestCommands,
  registerResourcesCommands,
  registerBackupsCommands,
  registerOperationsCommands,
  registerJobsCommands,
  registerQueuesCommands,
];

interface GlobalOptions {
  loadEnv?: string;
}

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };

function createProgram(context: CliContext): Command {
  const program = new Command("berth")
    .description("Berth's admin command line. Configuration comes from the environment, as for the API and the worker.")
    .version(version, "-V, --version")
    .option(
      "--load-env <file>",
      "also read variables from this file (NAME=value lines, `export` allowed, e.g. .berth/local.env); the environment wins",
    )
    // Settings inherited by every command registered below.
    .exitOverride()
    .configureOutput({ writeOut: (text) => context.io.stdout(text), writeErr: (text) => context.io.stderr(text) })
    .showHelpAfterError("(add --help for usage)");
  for (const register of COMMAND_GROUPS) register(program, context);
  return program;
}

/** Runs `berth` with these arguments (without `node` and the script) and returns the exit code. */
export async function main(
  argv: readonly string[],
  io: CliIo = processIo(),
  addons: ReadonlyMap<string, AddonDefinition> = installedAddons,
): Promise<number> {
  let config: CliConfig | undefined;
  const context: CliContext = {
    io,
    addons,
    config: () => (config ??= createCliConfig(readEnvFile(context, program.opts<GlobalOptions>().loadEnv))),
  };
  const program = createProgram(context);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (error) {
    return exitCode(error, io);
  }
}

function exitCode(error: unknown, cliIo: CliIo): number {
  // What a failure prints goes through the shared redaction: a driver's message may carry a connection URL.
  const io = { stderr: (text: string) => cliIo.stderr(redact(text)) };
  if (error instanceof CommanderError) {
    // Commander has already printed the help, the version or the error; help asked for is its exit code 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof Exit) return error.code;
  if (error instanceof UsageError) {
    io.stderr(`error: ${error.message}\n(add --help for usage)\n`);
    return EXIT.usage;
  }
  if (error instanceof CommandFailure || error instanceof OperationRefusal) {
    io.stderr(`error: ${error.message}\n`);
    return EXIT.failure;
  }
  if (error instanceof ConfigError) {
    io.stderr(`error: ${error.message}\n`);
    return EXIT.config;
  }
  io.stderr(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return EXIT.failure;
}

/**
 * The process environment over the `--load-env` variables (as with `node --env-file`).
 * Not named `--env-file`: Node 20 takes that option for itself anywhere on the command line.
 */
function readEnvFile(context: CliContext, file: string | undefined): EnvSource {
  if (file === undefined) return context.io.env;
  let text: string;
  try {
    text = readFileSync(resolvePath(context, file), "utf8");
  } catch (error) {
    throw new UsageError(`cannot read --load-env ${file}: ${(error as Error).message}`);
  }
  return { ...parseEnvFile(text), ...context.io.env };
}

function processIo(): CliIo {
  return {
    env: process.env,
    cwd: process.cwd(),
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
    ...(process.stdin.isTTY ? { prompt: askOnTerminal } : {}),
    onInterrupt: (handler) => {
      process.on("SIGINT", handler).on("SIGTERM", handler);
      return () => void process.off("SIGINT", handler).off("SIGTERM", handler);
    },
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  };
}

/** The question on standard error (standard output may be redirected), the answer from standard input. */
async function askOnTerminal(question: string): Promise<string> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await terminal.question(question);
  } finally {
    terminal.close();
  }
}

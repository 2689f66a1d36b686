/**
 * Exit codes of `berth`:
 *   0  success
 *   1  the command ran and found a problem (e.g. an invalid manifest), or failed unexpectedly
 *   2  usage: unknown command or option, missing argument, unknown addon, unreadable --load-env
 *   3  configuration: an environment variable the command needs is missing or invalid
 * 130  interrupted (Ctrl-C, SIGTERM) by a command that cleaned up first
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3, interrupted: 130 } as const;

/** The command line is wrong: printed as `error: <message>`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The command could not do what was asked (no such resource, a retry refused): printed as `error: <message>`, exit 1. */
export class CommandFailure extends Error {
  override readonly name = "CommandFailure";
}

/** Ends the command with this exit code; the command has already said why. */
export class Exit extends Error {
  override readonly name = "Exit";

  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

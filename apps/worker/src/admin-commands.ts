import { setTimeout as sleep } from "node:timers/promises";
import type { AddonCredentials, AddonDefinition, AdminCommand, DatabaseUser } from "@berth/addon-sdk";
import type { WorkerDeps } from "./deps.js";
import { PermanentError } from "./errors.js";

/** One administrative command in a database's container; a non-zero exit is an error with its output. */
export async function runAdminCommand(deps: Pick<WorkerDeps, "runtime">, containerName: string, command: AdminCommand, signal: AbortSignal): Promise<void> {
  const { exitCode, output } = await deps.runtime.exec(containerName, command, signal);
  if (exitCode !== 0) throw new Error(`${command.command[0]} exited with ${exitCode}: ${output || "no output"}`);
}

/**
 * Runs an engine's set-up command until it succeeds: the server may still be starting, and a
 * first start of a new cluster can take a while. A crash here is harmless (the command is idempotent).
 */
export async function runUntilSuccess(
  deps: Pick<WorkerDeps, "runtime" | "readinessIntervalMs">,
  { addonId, containerName, command, timeoutMs }: { addonId: string; containerName: string; command: AdminCommand; timeoutMs: number },
): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let lastError: unknown;
  while (!deadline.aborted) {
    try {
      await runAdminCommand(deps, containerName, command, deadline);
      return;
    } catch (error) {
      lastError = error;
    }
    await sleep(deps.readinessIntervalMs, undefined, { signal: deadline }).catch(() => undefined);
  }
  throw new PermanentError(`${addonId} could not be set up within ${timeoutMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

/**
 * An engine's set-up on a database that runs: least privilege (`bootstrap`), then its other users
 * made exactly the recorded ones (`users.apply`: a restored or recovered database may hold others,
 * a fork its source's). Both idempotent, run until they succeed.
 */
export async function setUpEngine(
  deps: Pick<WorkerDeps, "runtime" | "readinessIntervalMs">,
  { addon, containerName, credentials, users }: { addon: AddonDefinition; containerName: string; credentials: AddonCredentials; users: readonly DatabaseUser[] },
): Promise<void> {
  const commands = [addon.bootstrap?.(credentials), addon.users?.apply(credentials, users)].filter((command): command is AdminCommand => command !== undefined);
  for (const command of commands) await runUntilSuccess(deps, { addonId: addon.id, containerName, command, timeoutMs: addon.readyTimeoutMs });
}

import { setTimeout as sleep } from "node:timers/promises";
import type { AddonDefinition, Endpoint } from "@berth/addon-sdk";

export class ReadinessTimeoutError extends Error {
  constructor(addonId: string, timeoutMs: number, lastError: unknown) {
    const reason = lastError instanceof Error ? lastError.message : String(lastError);
    super(`${addonId} did not accept connections within ${timeoutMs} ms (last error: ${reason})`);
    this.name = "ReadinessTimeoutError";
  }
}

/**
 * Probes until the database accepts an authenticated session with one of these
 * endpoints' credentials (several only while a password is being handed over),
 * or the addon's readiness timeout passes.
 */
export async function waitUntilReady(addon: AddonDefinition, endpoints: readonly Endpoint[], intervalMs: number): Promise<void> {
  const deadline = AbortSignal.timeout(addon.readyTimeoutMs);
  let lastError: unknown = "no attempt";
  while (!deadline.aborted) {
    for (const endpoint of endpoints) {
      try {
        await addon.probe(endpoint, deadline);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    await sleep(intervalMs, undefined, { signal: deadline }).catch(() => undefined);
  }
  throw new ReadinessTimeoutError(addon.id, addon.readyTimeoutMs, lastError);
}

/** The worker reaches databases on the address they bind to; a wildcard bind is reached on loopback. */
export function probeHostFor(bindAddress: string): string {
  return bindAddress === "0.0.0.0" || bindAddress === "::" ? "127.0.0.1" : bindAddress;
}

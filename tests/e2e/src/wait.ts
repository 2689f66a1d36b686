import { setTimeout as sleep } from "node:timers/promises";

/** Polls `check` until it returns true; for hooks, where `expect.poll` is not available. */
export async function waitUntil(what: string, check: () => Promise<boolean>, { timeoutMs = 120_000, intervalMs = 200 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Readiness checks shared by the API and the worker: each check runs with a timeout. */

/** How long one readiness check may take before it counts as failed. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** Runs each check with a timeout: `ok`, or the error's message. */
export async function runChecks(checks: ReadinessChecks, timeoutMs = READINESS_CHECK_TIMEOUT_MS): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message || error.name : String(error)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: entries.every(([, result]) => result === "ok"), checks: Object.fromEntries(entries) };
}

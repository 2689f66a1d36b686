/**
 * How long to wait before the next attempt: the server's `Retry-After` when
 * it sent one (429/503), else exponential backoff with jitter.
 */

export interface BackoffSettings {
  minRetryDelayMs: number;
  maxRetryDelayMs: number;
}

/**
 * Exponential backoff with "equal jitter": half of the step is fixed, half is
 * random. The fixed half keeps a floor under the wait; the random half keeps
 * many workers that failed together from retrying in lockstep.
 */
export function backoffDelayMs(failedAttempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const step = Math.min(settings.maxRetryDelayMs, settings.minRetryDelayMs * 2 ** Math.max(0, failedAttempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * `Retry-After` is either delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns undefined when absent or unreadable, so the caller falls back to backoff.
 */
export function parseRetryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

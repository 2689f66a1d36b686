import type { BaseBackup } from "@berth/db";

/** A database with a continuous archive can be put back to any moment of this last stretch of time. */
export const RECOVERY_WINDOW_MS = 7 * 24 * 3600_000;

/**
 * The physical copy a recovery to `at` starts from, or why there is none: the newest copy finished
 * by then, provided no restore began between it and `at` (a restore puts the database on another
 * volume, whose history is its own: a copy from before cannot reach a moment after; the next
 * backup's copy can). `restoresStartedAt`: when the resource's succeeded restores began.
 */
export function baseBackupFor<B extends Pick<BaseBackup, "finishedAt">>(
  bases: readonly B[],
  restoresStartedAt: readonly Date[],
  at: Date,
  now: Date,
): B | { refused: string } {
  if (at > now) return { refused: `${at.toISOString()} is in the future.` };
  if (now.getTime() - at.getTime() > RECOVERY_WINDOW_MS) return { refused: `${at.toISOString()} is more than ${RECOVERY_WINDOW_MS / 86_400_000} days ago.` };
  const newestFirst = [...bases].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const base = newestFirst.find((each) => each.finishedAt <= at);
  if (!base) {
    const earliest = newestFirst.at(-1);
    return { refused: earliest ? `The earliest moment it can be put back to is ${earliest.finishedAt.toISOString()} (its oldest backup).` : "It has no backup yet: a recovery starts from one." };
  }
  const restore = restoresStartedAt.find((startedAt) => startedAt > base.finishedAt && startedAt <= at);
  if (restore) return { refused: `It was restored at ${restore.toISOString()} and no backup was finished between then and ${at.toISOString()}.` };
  return base;
}

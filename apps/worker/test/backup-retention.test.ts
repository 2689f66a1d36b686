import type { Backup } from "@berth/db";
import { describe, expect, it } from "vitest";
import { DEFAULT_RETENTION, backupsToPrune } from "../src/backups/retention.js";

const DAY = 24 * 3600_000;
/** Monday 2026-11-30, 02:00 UTC: the fake clock. */
const NOW = new Date("2026-11-30T02:00:00Z");

let seq = 0;
function backup(method: Backup["method"], daysAgo: number, status: Backup["status"] = "done", hour = 1): Pick<Backup, "id" | "method" | "status" | "createdAt"> {
  const createdAt = new Date(Date.UTC(2026, 10, 30 - daysAgo, hour));
  return { id: `${method}-${daysAgo}d-${hour}h-${seq++}`, method, status, createdAt };
}

describe("backup retention (Scalingo's rule)", () => {
  it("keeps the newest periodic backup of each of the last 7 days and of each of the last 4 weeks", () => {
    // A daily backup for 60 days, and a second one on today's date.
    const periodic = Array.from({ length: 60 }, (_, daysAgo) => backup("periodic", daysAgo));
    const secondToday = backup("periodic", 0, "done", 0);
    const pruned = new Set(backupsToPrune([...periodic, secondToday], DEFAULT_RETENTION, NOW));
    const kept = [...periodic, secondToday].filter((b) => !pruned.has(b.id)).map((b) => b.createdAt.toISOString().slice(0, 10));
    expect(kept.sort()).toEqual(
      [
        // the newest of each of the 4 latest ISO weeks: this week's is today (Monday 30th), last
        // week's its Sunday (29th, a daily too), then Sundays 22nd and 15th
        "2026-11-15",
        "2026-11-22",
        // the 7 latest days
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
        "2026-11-29",
        "2026-11-30",
      ].sort(),
    );
    expect(pruned.has(secondToday.id)).toBe(true); // the older of the two of one day goes
  });

  it("adds 12 monthlies on business plans", () => {
    const periodic = Array.from({ length: 400 }, (_, daysAgo) => backup("periodic", daysAgo));
    const pruned = new Set(backupsToPrune(periodic, { ...DEFAULT_RETENTION, monthly: 12 }, NOW));
    const keptMonths = new Set(periodic.filter((b) => !pruned.has(b.id)).map((b) => b.createdAt.toISOString().slice(0, 7)));
    expect(keptMonths.size).toBe(12);
    expect(keptMonths.has("2025-11")).toBe(false);
    expect(keptMonths.has("2025-12")).toBe(true);
  });

  it("keeps the last 10 manual backups, every final one, every unfinished one; a failed one a week", () => {
    const manual = Array.from({ length: 14 }, (_, daysAgo) => backup("manual", daysAgo));
    const final = backup("final", 40);
    const running = backup("periodic", 90, "running");
    const failedRecently = backup("periodic", 3, "failed");
    const failedLongAgo = backup("periodic", 8, "failed");
    const pruned = backupsToPrune([...manual, final, running, failedRecently, failedLongAgo], DEFAULT_RETENTION, NOW);
    expect(pruned.sort()).toEqual([...manual.slice(10).map((b) => b.id), failedLongAgo.id].sort());
  });

  it("prunes nothing from a database with few backups", () => {
    expect(backupsToPrune([backup("periodic", 0), backup("manual", 2)], DEFAULT_RETENTION, new Date(NOW.getTime() + DAY))).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import { backupHourOf, isBackupDue } from "../src/backups/backup-schedule.js";

describe("daily backup schedule", () => {
  it("spreads databases without an hour of their own over the night (00:00-05:59 UTC)", () => {
    const hours = Array.from({ length: 600 }, (_, index) => backupHourOf({ id: `postgresql-${index.toString(16).padStart(16, "0")}`, backupHour: null }));
    const counts = [0, 1, 2, 3, 4, 5].map((hour) => hours.filter((h) => h === hour).length);
    expect(hours.every((hour) => hour >= 0 && hour < 6)).toBe(true);
    for (const count of counts) expect(count).toBeGreaterThan(50); // about 100 each: no hour left out, none takes all
    expect(backupHourOf({ id: "postgresql-1", backupHour: 14 })).toBe(14);
  });

  it("is due once a day, from the database's hour on (fake clock)", () => {
    const resource = { id: "postgresql-1", backupHour: 3 };
    const at = (iso: string) => new Date(iso);
    expect(isBackupDue(resource, null, at("2026-12-02T02:59:00Z"))).toBe(false);
    expect(isBackupDue(resource, null, at("2026-12-02T03:00:00Z"))).toBe(true);
    expect(isBackupDue(resource, { createdAt: at("2026-12-01T03:01:00Z") }, at("2026-12-02T03:04:00Z"))).toBe(true);
    expect(isBackupDue(resource, { createdAt: at("2026-12-02T03:01:00Z") }, at("2026-12-02T03:06:00Z"))).toBe(false);
    expect(isBackupDue(resource, { createdAt: at("2026-12-02T03:01:00Z") }, at("2026-12-02T23:59:00Z"))).toBe(false);
    expect(isBackupDue(resource, { createdAt: at("2026-12-02T03:01:00Z") }, at("2026-12-03T03:00:00Z"))).toBe(true);
  });
});

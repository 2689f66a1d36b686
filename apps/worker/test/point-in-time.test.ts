import { addons } from "@berth/addons";
import type { ArchivedLog, BaseBackup } from "@berth/db";
import { describe, expect, it } from "vitest";
import { planRecovery } from "../src/backups/point-in-time.js";

const archive = addons.get("postgresql")!.backup!.archive!;
const NOW = new Date("2026-12-02T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

function base(id: string, finishedMinutesAgo: number, walStart: string, volumeName = "v1"): BaseBackup {
  const finishedAt = minutesAgo(finishedMinutesAgo);
  return { backupId: id, resourceId: "r", volumeName, objectKey: `base/${id}`, size: 1n, contentSize: 1n, sha256: "0", walStart, startedAt: new Date(finishedAt.getTime() - 60_000), finishedAt };
}

let nextId = 1n;
function log(name: string, closedMinutesAgo: number, volumeName = "v1"): ArchivedLog {
  return { id: nextId++, resourceId: "r", volumeName, name, objectKey: `logs/${name}`, size: 1n, contentSize: 1n, sha256: "0", archivedAt: minutesAgo(closedMinutesAgo), createdAt: NOW };
}

const segment = (timeline: number, position: number) => `${timeline.toString(16).toUpperCase().padStart(8, "0")}00000000${position.toString(16).toUpperCase().padStart(8, "0")}`;

describe("point-in-time recovery plan", () => {
  const bases = [base("old", 120, segment(1, 2)), base("new", 60, segment(1, 8))];
  const logs = [
    ...[2, 3, 4, 5, 6, 7, 8, 9, 10].map((position, index) => log(segment(1, position), 125 - index * 10)),
    log(`${segment(1, 8)}.00000028.backup`, 60),
    log("00000002.history", 200),
    log(segment(1, 11), 5, "v0"), // another volume's: never replayed here
  ];

  it("starts from the newest copy finished by the moment, with its volume's logs from the copy's start to shortly after the moment", () => {
    const plan = planRecovery(archive, { bases, logs, restoresStartedAt: [] }, minutesAgo(50), NOW);
    expect(plan.base.backupId).toBe("new");
    expect(plan.target).toEqual(minutesAgo(50));
    expect(plan.logs.map((each) => each.name).sort()).toEqual(["00000002.history", segment(1, 8), `${segment(1, 8)}.00000028.backup`, segment(1, 9), segment(1, 10)].sort());
  });

  it("an older moment starts from the older copy", () => {
    const plan = planRecovery(archive, { bases, logs, restoresStartedAt: [] }, minutesAgo(90), NOW);
    expect(plan.base.backupId).toBe("old");
    expect(plan.logs.map((each) => each.name)).toContain(segment(1, 2));
  });

  it("replays to the end of the archive when no log was closed after the moment (every archived change is older)", () => {
    const plan = planRecovery(archive, { bases, logs, restoresStartedAt: [] }, minutesAgo(10), NOW);
    expect(plan.target).toBeNull();
    expect(plan.logs.map((each) => each.name)).toContain(segment(1, 10));
  });

  it("refuses a moment before the oldest copy, or after a restore no copy follows", () => {
    expect(() => planRecovery(archive, { bases, logs, restoresStartedAt: [] }, minutesAgo(150), NOW)).toThrow(/earliest moment/);
    expect(() => planRecovery(archive, { bases, logs, restoresStartedAt: [minutesAgo(40)] }, minutesAgo(30), NOW)).toThrow(/restored at/);
    expect(() => planRecovery(archive, { bases, logs, restoresStartedAt: [] }, new Date(NOW.getTime() + 1000), NOW)).toThrow(/future/);
  });
});

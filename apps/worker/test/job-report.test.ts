import type { JobProgress } from "@berth/jobs";
import { describe, expect, it } from "vitest";
import { OPERATION_KINDS, stepPercent } from "@berth/operations";
import { JobReport } from "../src/job-report.js";

function fakeJob() {
  const logs: string[] = [];
  const progress: JobProgress[] = [];
  return {
    logs,
    progress,
    job: {
      log: async (line: string) => logs.push(line),
      updateProgress: async (value: unknown) => void progress.push(value as JobProgress),
    },
  };
}

describe("JobReport", () => {
  it("reports each step of a provisioning with its share of the steps, then 100 %", async () => {
    const { job, logs, progress } = fakeJob();
    const report = new JobReport(job, "provision", () => new Date("2026-01-02T03:04:05.000Z"));
    await report.started(1);
    for (const step of OPERATION_KINDS.provision.steps) await report.step(step);
    await report.succeeded();

    expect(progress.map((p) => p.percent)).toEqual([0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(progress.map((p) => p.step)).toEqual(["started", ...OPERATION_KINDS.provision.steps, "done"]);
    expect(logs[0]).toBe("2026-01-02T03:04:05.000Z attempt 1: provision started");
    expect(logs).toContain("2026-01-02T03:04:05.000Z step container (30%)");
    expect(logs.at(-1)).toBe("2026-01-02T03:04:05.000Z succeeded");
  });

  it("keeps the percent reached at a step off the list, and logs a failure with its reason", async () => {
    const { job, logs, progress } = fakeJob();
    const report = new JobReport(job, "provision");
    await report.started(2);
    await report.step("readiness");
    await report.step("cleanup");
    await report.failed(2, "postgresql was not ready within 60 s", true);
    expect(progress.at(-1)).toEqual({ step: "cleanup", percent: stepPercent("provision", "readiness") });
    expect(logs.at(-1)).toMatch(/^\S+Z attempt 2 failed: postgresql was not ready within 60 s$/);

    await report.failed(3, "Docker is busy", false);
    expect(logs.at(-1)).toMatch(/attempt 3 failed, to be retried: Docker is busy$/);
  });

  it("has steps for every kind of operation", () => {
    expect(stepPercent("deprovision", "volume")).toBe(67);
    expect(stepPercent("change_plan", "disk-check")).toBe(0);
    expect(stepPercent("change_plan", "container")).toBe(40);
    expect(stepPercent("change_plan", "nowhere")).toBeUndefined();
  });
});

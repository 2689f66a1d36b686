import { addons } from "@berth/addons";
import type { Resource } from "@berth/db";
import { describe, expect, it } from "vitest";
import { cpuUse, dashboardBody } from "../src/dashboard/dashboard-page.js";

describe("dashboard page", () => {
  it("shows the disk used against the plan's disk, next to memory and CPU", () => {
    const addon = addons.get("postgresql")!;
    const plan = addon.plans.find((candidate) => candidate.name === "postgresql-starter-512")!;
    const resource = {
      id: "postgresql-0123456789abcdef",
      addon: "postgresql",
      appId: "my-app",
      plan: plan.name,
      status: "provisioned",
      statusReason: null,
      image: "postgres:15",
      createdAt: new Date("2026-01-01T00:00:00Z"),
    } as unknown as Resource;
    const body = dashboardBody({
      resource,
      addon,
      plan,
      operations: [],
      containmentEvents: [],
      samples: [{ at: new Date(), diskBytes: 300 * 1024 * 1024, memoryBytes: 100 * 1024 * 1024, cpuNanos: null, connections: 2 }],
      maskedUrl: undefined,
      nonce: "n",
    }).toString();
    expect(body).toContain("512 MiB · 1 CPU · 10 GiB disk");
    expect(body).toMatch(/data-testid="disk">300 MiB</);
    expect(body).toMatch(/data-testid="disk-limit">of 10 GiB · sampled /);
    expect(body).toContain(`<progress value="${300 * 1024 * 1024}" max="${10 * 1024 * 1024 * 1024}"></progress>`);
  });

  it("reads CPU use from the sampled counter: the share of the plan's CPUs between two samples, a counter started again skipped", () => {
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));
    const sample = (seconds: number, cpuSeconds: number | null) => ({ at: at(seconds), diskBytes: 0, memoryBytes: 0, cpuNanos: cpuSeconds === null ? null : cpuSeconds * 1e9, connections: 0 });
    // On a plan of half a CPU: 5 s of CPU in 20 s is a quarter of one CPU, half the plan's.
    const points = cpuUse([sample(0, 10), sample(20, 15), sample(40, 15), sample(60, 1), sample(80, 11), sample(100, null)], 0.5);
    expect(points.map((point) => [point.at.getUTCSeconds() + 60 * point.at.getUTCMinutes(), Math.round(point.value)])).toEqual([
      [20, 50],
      [40, 0],
      [80, 100],
    ]);
  });
});

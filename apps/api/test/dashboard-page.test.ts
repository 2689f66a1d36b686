import { addons } from "@berth/addons";
import type { Resource } from "@berth/db";
import { describe, expect, it } from "vitest";
import { dashboardBody } from "../src/dashboard/dashboard-page.js";

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
      samples: [{ at: new Date(), diskBytes: 300 * 1024 * 1024, memoryBytes: 100 * 1024 * 1024, connections: 2 }],
      maskedUrl: undefined,
      nonce: "n",
    }).toString();
    expect(body).toContain("512 MiB · 1 CPU · 10 GiB disk");
    expect(body).toMatch(/data-testid="disk">300 MiB</);
    expect(body).toMatch(/data-testid="disk-limit">of 10 GiB · sampled /);
    expect(body).toContain(`<progress value="${300 * 1024 * 1024}" max="${10 * 1024 * 1024 * 1024}"></progress>`);
  });
});

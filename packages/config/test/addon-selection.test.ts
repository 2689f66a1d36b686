import { describe, expect, it } from "vitest";
import { selectAddons } from "../src/index.js";

const installed = new Map([
  ["postgresql", "pg"],
  ["redis", "redis"],
  ["time-series", "ts"],
]);

function select(env: Record<string, string>) {
  const issues: string[] = [];
  const selection = selectAddons(env, installed, issues);
  return { enabled: [...selection.enabled.keys()], leftOff: selection.leftOff, issues };
}

describe("BERTH_ADDONS: installing is not enabling", () => {
  it("enables by default every installed addon with any of its manifest variables set, and says why the others are left off", () => {
    const { enabled, leftOff, issues } = select({ BERTH_ADDON_POSTGRESQL_USERNAME: "pg", BERTH_ADDON_TIME_SERIES_PASSWORD: "x".repeat(16) });
    expect(enabled).toEqual(["postgresql", "time-series"]);
    expect(leftOff).toEqual([{ id: "redis", reason: expect.stringContaining("BERTH_ADDON_REDIS_USERNAME, BERTH_ADDON_REDIS_PASSWORD, BERTH_ADDON_REDIS_SSO_SALT") }]);
    expect(issues).toEqual([]);
  });

  it("enables exactly the addons BERTH_ADDONS names, in the registry's order", () => {
    const { enabled, leftOff, issues } = select({ BERTH_ADDONS: " redis, postgresql " });
    expect(enabled).toEqual(["postgresql", "redis"]);
    expect(leftOff).toEqual([{ id: "time-series", reason: "not listed in BERTH_ADDONS" }]);
    expect(issues).toEqual([]);
  });

  it("refuses an id that is not installed, and a deployment with no addon at all", () => {
    expect(select({ BERTH_ADDONS: "redis,mongodb" }).issues).toEqual([expect.stringMatching(/^BERTH_ADDONS: "mongodb" is not an installed addon/)]);
    expect(select({}).issues).toEqual([expect.stringMatching(/^no addon is enabled/)]);
  });
});

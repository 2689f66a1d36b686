import { describe, expect, it } from "vitest";
import { addonEnvName, addonEnvPrefix, readAddonCredentials, readAddonSsoSalts } from "../src/index.js";

describe("addonEnvName", () => {
  it("upper-cases the id, a dash as an underscore", () => {
    expect(addonEnvName("postgresql", "USERNAME")).toBe("BERTH_ADDON_POSTGRESQL_USERNAME");
    expect(addonEnvName("my-engine", "SSO_SALT")).toBe("BERTH_ADDON_MY_ENGINE_SSO_SALT");
    expect(addonEnvName("a-b-c2", "IMAGE")).toBe("BERTH_ADDON_A_B_C2_IMAGE");
    expect(addonEnvPrefix("my-engine")).toBe("BERTH_ADDON_MY_ENGINE_");
  });

  it("is the name the shared readers look up, and the one their issues name", () => {
    const env = {
      BERTH_ADDON_MY_ENGINE_USERNAME: "berth-my-engine",
      BERTH_ADDON_MY_ENGINE_PASSWORD: "a-long-enough-password",
      BERTH_ADDON_MY_ENGINE_SSO_SALT: "a-long-enough-sso-salt",
    };
    const issues: string[] = [];
    expect(readAddonCredentials(env, ["my-engine"], issues).get("my-engine")).toEqual({ username: "berth-my-engine", password: "a-long-enough-password" });
    expect(readAddonSsoSalts(env, ["my-engine"], issues).get("my-engine")).toBe("a-long-enough-sso-salt");
    expect(issues).toEqual([]);

    readAddonCredentials({}, ["my-engine"], issues);
    expect(issues.join("\n")).toContain("BERTH_ADDON_MY_ENGINE_USERNAME is required");
  });
});

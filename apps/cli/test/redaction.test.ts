import type { AddonDefinition } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { addonEnvName } from "@berth/config";
import { describe, expect, it } from "vitest";
import { main, type CliIo } from "../src/main.js";

function io(env: Record<string, string>) {
  const out = { stdout: "", stderr: "" };
  const cliIo: CliIo = {
    env,
    cwd: process.cwd(),
    stdout: (text) => void (out.stdout += text),
    stderr: (text) => void (out.stderr += text),
    readStdin: async () => "",
  };
  return { cliIo, out };
}

describe("berth's error output", () => {
  it("goes through the shared redaction: a failure carrying a connection URL prints it without its password", async () => {
    const secret = "hunter2-but-longer-than-that";
    const broken = { ...installedAddons.get("redis")! } as Record<string, unknown>;
    Object.defineProperty(broken, "plans", {
      get() {
        throw new Error(`could not reach redis://default:${secret}@127.0.0.1:6390 (ECONNREFUSED)`);
      },
    });
    const env = {
      [addonEnvName("redis", "USERNAME")]: "berth-redis",
      [addonEnvName("redis", "PASSWORD")]: "a-long-enough-password",
      [addonEnvName("redis", "SSO_SALT")]: "a-long-enough-sso-salt",
    };
    const { cliIo, out } = io(env);
    const code = await main(["manifest", "print", "redis"], cliIo, new Map([["redis", broken as unknown as AddonDefinition]]));
    expect(code).toBe(1);
    expect(out.stderr).toContain("could not reach redis://default:[redacted]@127.0.0.1:6390 (ECONNREFUSED)");
    expect(out.stderr).not.toContain(secret);
  });
});

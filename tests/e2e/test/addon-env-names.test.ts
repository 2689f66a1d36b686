/**
 * One naming rule for an addon's environment variables (`addonEnvName`, @berth/config), and every
 * TypeScript reader and writer agrees on it, with an id the simple `toUpperCase()` got wrong: `my-engine`.
 * No services needed: configurations are loaded, the manifest printed and the stand-in started in-process
 * or as a child, from the variables this test suite's stack writes.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { AddonDefinition } from "@berth/addon-sdk";
import { addons as installedAddons } from "@berth/addons";
import { loadApiConfig } from "@berth/api/config";
import { main as berth, type CliIo } from "@berth/cli";
import { addonEnvName } from "@berth/config";
import { loadWorkerConfig } from "@berth/worker/config";
import { describe, expect, it } from "vitest";
import { addonSecretsEnv } from "../src/addon-env.js";

const ID = "my-engine";
const addon = { ...installedAddons.get("postgresql")!, id: ID, configVars: ["SCALINGO_MY_ENGINE_URL"] } as AddonDefinition;
const addons = new Map([[ID, addon]]);
const secrets = { username: "berth-my-engine", password: randomBytes(16).toString("hex"), ssoSalt: randomBytes(16).toString("hex") };
const env: Record<string, string> = {
  BERTH_REDIS_URL: "redis://127.0.0.1:6390",
  BERTH_DATABASE_URL: "postgresql://postgres@127.0.0.1:5433/berth",
  BERTH_PLATFORM_API_URL: "https://api.osc-fr1.scalingo.com",
  BERTH_PUBLIC_URL: "https://berth.example.test",
  BERTH_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  // What the e2e stack (tests/e2e/src/stack.ts) and the compose test write:
  ...addonSecretsEnv(ID, secrets),
  [addonEnvName(ID, "IMAGE")]: "my/engine:1",
  [addonEnvName(ID, "LOGO_URL")]: "https://cdn.example.test/my-engine.png",
};

describe(`the environment names of addon "${ID}"`, () => {
  it("are BERTH_ADDON_MY_ENGINE_*", () => {
    expect(Object.keys(env).filter((name) => name.startsWith("BERTH_ADDON_")).sort()).toEqual([
      "BERTH_ADDON_MY_ENGINE_IMAGE",
      "BERTH_ADDON_MY_ENGINE_LOGO_URL",
      "BERTH_ADDON_MY_ENGINE_PASSWORD",
      "BERTH_ADDON_MY_ENGINE_SSO_SALT",
      "BERTH_ADDON_MY_ENGINE_USERNAME",
    ]);
  });

  it("are read by the API's and the worker's configuration", () => {
    const api = loadApiConfig(env, addons);
    expect(api.addonCredentials.get(ID)).toEqual({ username: secrets.username, password: secrets.password });
    expect(api.ssoSalts.get(ID)).toBe(secrets.ssoSalt);
    const worker = loadWorkerConfig(env, addons);
    expect(worker.addons.get(ID)).toEqual({ image: "my/engine:1", credentials: { username: secrets.username, password: secrets.password } });
  });

  it("are read by `berth manifest print`", async () => {
    let stdout = "";
    let stderr = "";
    const io: CliIo = { env, cwd: process.cwd(), stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), readStdin: async () => "" };
    expect(await berth(["manifest", "print", ID], io, addons), stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      username: secrets.username,
      password: secrets.password,
      sso_salt: secrets.ssoSalt,
      logo_url: "https://cdn.example.test/my-engine.png",
    });
  });

  it("are read by the platform stand-in's command line", async () => {
    const standIn = fileURLToPath(new URL("../../../packages/platform-standin/", import.meta.url));
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("BERTH_ADDON_")));
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "serve", "--port", "0", "--addon", `${ID}=SCALINGO_MY_ENGINE_URL`], {
      cwd: standIn,
      env: { ...inherited, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const poll = setInterval(() => {
          const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
          if (found) resolve(found);
          else if (child.exitCode !== null) reject(new Error(`the stand-in exited: ${output}`));
          else return;
          clearInterval(poll);
        }, 25);
      });
      const authorization = `Basic ${Buffer.from(`${secrets.username}:${secrets.password}`).toString("base64")}`;
      const response = await fetch(`${url}/v1/provider/addons/res-1/config`, {
        method: "PATCH",
        headers: { Authorization: authorization, "Content-Type": "application/json" },
        body: JSON.stringify({ config: { SCALINGO_MY_ENGINE_URL: "postgres://u:p@127.0.0.1:5432/d" } }),
      });
      expect(response.status).toBe(200);
    } finally {
      child.kill("SIGTERM");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    }
  });
});

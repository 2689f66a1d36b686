import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeProvider, type FakeProvider } from "./fake-provider.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
// Only the credentials set here: the shell running the tests may hold real ones (.berth/local.env).
const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("BERTH_ADDON_"))),
  BERTH_ADDON_POSTGRESQL_USERNAME: "berth-postgresql",
  BERTH_ADDON_POSTGRESQL_PASSWORD: "cli-password-123",
};
const authorization = `Basic ${Buffer.from("berth-postgresql:cli-password-123").toString("base64")}`;

const children: ChildProcess[] = [];
let provider: FakeProvider | undefined;

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  }
  await provider?.close();
  provider = undefined;
});

function startCli(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: packageDir, env });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function runCli(args: string[]): Promise<{ code: number | null; output: string }> {
  const { child, output } = startCli(args);
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output: output() };
}

async function waitFor<T>(read: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("cli serve", () => {
  it("serves the Platform API and logs each call on one line with secrets redacted", async () => {
    const { output } = startCli(["serve", "--port", "0", "--addon", "postgresql=SCALINGO_POSTGRESQL_URL"]);
    const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output())?.[1], "the listening line");

    const response = await fetch(`${url}/v1/provider/addons/res-1/config`, {
      method: "PATCH",
      headers: { Authorization: authorization, "Content-Type": "application/json" },
      body: JSON.stringify({ config: { SCALINGO_POSTGRESQL_URL: "postgres://u:db-secret@127.0.0.1:5432/d" } }),
    });
    expect(response.status).toBe(200);

    const line = await waitFor(() => output().split("\n").find((l) => l.includes("PATCH /v1/provider/addons/res-1/config")), "the log line");
    expect(line).toMatch(/addon=postgresql → 200 /);
    expect(line).toContain("postgres://u:[redacted]@127.0.0.1:5432/d");
    expect(output()).not.toContain("db-secret");
    expect(output()).not.toContain("cli-password-123");
  });

  it("fails with usage when credentials are missing", async () => {
    const { code, output } = await runCli(["serve", "--port", "0", "--addon", "mysql=SCALINGO_MYSQL_URL"]);
    expect(code).toBe(2);
    expect(output).toContain("BERTH_ADDON_MYSQL_USERNAME and BERTH_ADDON_MYSQL_PASSWORD");
  });
});

describe("cli driver commands", () => {
  it("provision, change-plan and deprovision print the status and body", async () => {
    provider = await startFakeProvider();
    provider.answers.push(
      { status: 202, body: { id: "res-1", message: "started" } },
      { status: 200, body: { message: "changed" } },
      { status: 204 },
    );

    const provisioned = await runCli(["provision", "--addon", "postgresql", "--plan", "free", "--app", "my-app", "--uuid", "u-1", "--option", "version=16", "--provider", provider.baseUrl]);
    expect(provisioned.code).toBe(0);
    expect(provisioned.output).toMatch(/^HTTP 202\n\{\n {2}"id": "res-1",/);

    const changed = await runCli(["change-plan", "res-1", "--plan", "premium", "--addon", "postgresql", "--provider", provider.baseUrl]);
    expect(changed.code).toBe(0);
    expect(changed.output).toContain("HTTP 200");

    const deprovisioned = await runCli(["deprovision", "res-1", "--addon", "postgresql", "--provider", provider.baseUrl]);
    expect(deprovisioned).toEqual({ code: 0, output: "HTTP 204\n" });

    expect(provider.received.map((r) => [r.method, r.url, r.body])).toEqual([
      ["POST", "/scalingo/resources", { plan: "free", app_id: "my-app", options: { version: "16" }, uuid: "u-1" }],
      ["PUT", "/scalingo/resources/res-1", { plan: "premium", options: {} }],
      ["DELETE", "/scalingo/resources/res-1", undefined],
    ]);
    expect(provider.received.every((r) => r.headers.authorization === authorization)).toBe(true);
  });

  it("exits 1 on a non-2xx answer and 2 on a usage error", async () => {
    provider = await startFakeProvider({ status: 422, body: { error: "unknown plan" } });
    const refused = await runCli(["provision", "--addon", "postgresql", "--plan", "x", "--app", "a", "--provider", provider.baseUrl]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain("HTTP 422");

    const usage = await runCli(["provision", "--addon", "postgresql", "--app", "a", "--provider", provider.baseUrl]);
    expect(usage.code).toBe(2);
    expect(usage.output).toContain("--plan is required");
  });
});

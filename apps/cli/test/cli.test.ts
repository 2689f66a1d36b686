/**
 * Runs the real `berth` (bin/berth.js → tsx → src/main.ts) as a subprocess,
 * from a temporary directory, with an environment of our own: inherited
 * BERTH_* variables are dropped.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { addons } from "@berth/addons";
import { addonEnvName } from "@berth/config";
import { ResourceStatus } from "@berth/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/berth.js", import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** BERTH_* variables of every installed addon, freshly generated. */
const secrets: Record<string, string> = Object.fromEntries(
  [...addons.keys()].flatMap((id) => [
    [addonEnvName(id, "USERNAME"), `berth-${id}`],
    [addonEnvName(id, "PASSWORD"), randomBytes(16).toString("hex")],
    [addonEnvName(id, "SSO_SALT"), randomBytes(16).toString("hex")],
  ]),
);

const PUBLIC_URL = "https://berth.example.test";

let cwd: string;

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), "berth-cli-test-"));
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("BERTH_") && name !== "INIT_CWD" && name !== "npm_lifecycle_event"),
  );
}

function berth(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...inheritedEnv(), ...(options.env ?? { BERTH_PUBLIC_URL: PUBLIC_URL, ...secrets }) },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

async function writeManifest(name: string, manifest: unknown): Promise<string> {
  await writeFile(join(cwd, name), typeof manifest === "string" ? manifest : JSON.stringify(manifest, null, 2));
  return name;
}

async function printed(addonId: string): Promise<Record<string, any>> {
  const run = await berth(["manifest", "print", addonId]);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Record<string, any>;
}

describe("berth manifest print → check", () => {
  it.each([...addons.values()])("accepts the printed manifest of the $id addon", async (addon) => {
    const print = await berth(["manifest", "print", addon.id]);
    expect(print.code, print.stderr).toBe(0);
    expect(print.stderr).toMatch(/^warning: .*password and SSO salt/);
    expect(print.stderr.trim().split("\n")).toHaveLength(1);
    const manifest = JSON.parse(print.stdout) as Record<string, any>;
    expect(manifest).toMatchObject({
      name: addon.name,
      username: `berth-${addon.id}`,
      password: secrets[addonEnvName(addon.id, "PASSWORD")],
      sso_salt: secrets[addonEnvName(addon.id, "SSO_SALT")],
      production: { base_url: `${PUBLIC_URL}/${addon.id}/resources`, sso_url: `${PUBLIC_URL}/${addon.id}/sso` },
    });

    const file = await writeManifest(`${addon.id}.json`, print.stdout);
    const check = await berth(["manifest", "check", file]);
    expect(check).toEqual({ code: 0, stdout: `Manifest OK: ${addon.name} (${addon.plans.length} plans)\n`, stderr: "" });
  });

  it("checks standard input with -", async () => {
    const manifest = await printed("redis");
    const check = await berth(["manifest", "check", "-"], { input: JSON.stringify(manifest) });
    expect(check.code).toBe(0);
    expect(check.stdout).toBe("Manifest OK: Redis (3 plans)\n");
  });

  it("writes the manifest to a mode-600 file with --output", async () => {
    const print = await berth(["manifest", "print", "mysql", "--output", "out/../mysql-manifest.json"]);
    expect(print.code, print.stderr).toBe(0);
    expect(print.stdout).toBe("");
    const path = join(cwd, "mysql-manifest.json");
    expect(print.stderr).toContain(`wrote ${path}`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(path, "utf8"))).toMatchObject({ name: "MySQL" });
  });

  it("takes the test URL, the logo URL and the variables of --load-env, the environment first", async () => {
    await writeFile(
      join(cwd, "berth.env"),
      `export BERTH_TEST_PUBLIC_URL=http://127.0.0.1:4000/\nBERTH_ADDON_REDIS_LOGO_URL="https://cdn.example.test/redis.png"\nBERTH_ADDON_REDIS_USERNAME=from-file\n`,
    );
    const run = await berth(["--load-env", "berth.env", "manifest", "print", "redis"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      username: "berth-redis",
      logo_url: "https://cdn.example.test/redis.png",
      test: { base_url: "http://127.0.0.1:4000/redis/resources", sso_url: "http://127.0.0.1:4000/redis/sso" },
    });
    const missing = await berth(["--load-env", "nowhere.env", "manifest", "print", "redis"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read --load-env nowhere.env");
  });

  it("warns when the configuration makes a manifest that check refuses, and check refuses it", async () => {
    // No BERTH_PUBLIC_URL: the default, http://127.0.0.1:4000.
    const print = await berth(["manifest", "print", "postgresql"], { env: secrets });
    expect(print.code).toBe(0);
    expect(JSON.parse(print.stdout).production.base_url).toBe("http://127.0.0.1:4000/postgresql/resources");
    expect(print.stderr).toContain("warning: berth manifest check will refuse it: production.base_url: must use https");

    const check = await berth(["manifest", "check", await writeManifest("http.json", print.stdout)]);
    expect(check.code).toBe(1);
    expect(check.stdout).toMatch(/^ {2}→ production\.base_url: must use https/m);
    expect(check.stdout).toMatch(/^ {2}→ production\.sso_url: must use https/m);
  });
});

describe("berth manifest check", () => {
  it("lists every problem of a broken manifest with its path and exits 1", async () => {
    const manifest = await printed("postgresql");
    manifest.plans[2].name = manifest.plans[0].name;
    manifest.config_vars = ["scalingo_postgresql_url", "DATABASE_URL"];
    manifest.username = "";
    manifest.production.base_url = manifest.production.base_url.replace("https:", "http:");
    manifest.plans[1].name = "postgresql-huge";
    const run = await berth(["manifest", "check", await writeManifest("broken.json", manifest)]);

    expect(run.code).toBe(1);
    expect(run.stderr).toBe("");
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("Errors in the manifest:");
    const errors = lines.slice(1, lines.indexOf("Warnings:"));
    expect(errors.every((line) => line.startsWith("  → "))).toBe(true);
    const paths = errors.map((line) => line.slice(4, line.indexOf(": ")));
    expect(paths).toEqual([
      "username",
      "config_vars[0]",
      "config_vars[0]",
      "config_vars[1]",
      "config_vars",
      "production.base_url",
      "plans[2].name",
      "plans[1].name",
    ]);
    expect(run.stdout).toContain("  → username: can't be blank");
    expect(run.stdout).toContain('  → config_vars[0]: is not a valid environment variable name');
    expect(run.stdout).toContain('  → config_vars[1]: "DATABASE_URL" is not set by the postgresql addon');
    expect(run.stdout).toContain("  → config_vars: misses SCALINGO_POSTGRESQL_URL");
    expect(run.stdout).toContain("  → plans[2].name: \"postgresql-sandbox\" is defined twice");
    expect(run.stdout).toContain('  → plans[1].name: "postgresql-huge" is not a plan of the postgresql addon');
    // The plans that are no longer offered are only a warning.
    expect(lines.slice(lines.indexOf("Warnings:") + 1)).toEqual([
      expect.stringMatching(/^ {2}→ plans: the postgresql addon's plans postgresql-starter-512, postgresql-business-1024 are not offered/),
    ]);
  });

  it("exits 0 with warnings only", async () => {
    const manifest = await printed("redis");
    manifest.plans = manifest.plans.slice(0, 1);
    const run = await berth(["manifest", "check", await writeManifest("subset.json", manifest)]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Manifest OK: Redis \(1 plan\)\nWarnings:\n {2}→ plans: .*redis-starter-256, redis-business-1024 are not offered/);
  });

  it("reports a manifest of no installed addon", async () => {
    const manifest = await printed("redis");
    manifest.production.base_url = `${PUBLIC_URL}/mongodb/resources`;
    const run = await berth(["manifest", "check", await writeManifest("mongodb.json", manifest)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('  → production.base_url: does not lead to an installed addon');
    expect(run.stdout).toContain('the addon "mongodb", which is not installed');
  });

  it("reports a JSON syntax error, an unreadable file and a JSON value that is no manifest as problems", async () => {
    const syntax = await berth(["manifest", "check", await writeManifest("syntax.json", '{"name": "x",')]);
    expect(syntax.code).toBe(1);
    expect(syntax.stdout).toMatch(/^Errors in the manifest:\n {2}→ \(file\): syntax\.json is not valid JSON: .+\n$/);

    const missing = await berth(["manifest", "check", "missing.json"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^Errors in the manifest:\n {2}→ \(file\): cannot read missing\.json: .*ENOENT/);

    const array = await berth(["manifest", "check", "-"], { input: "[]" });
    expect(array.code).toBe(1);
    expect(array.stdout).toBe("Errors in the manifest:\n  → (root): expected a JSON object (the manifest), found an empty array\n");
  });

  it("needs no configuration", async () => {
    const manifest = await printed("mysql");
    const run = await berth(["manifest", "check", "-"], { env: {}, input: JSON.stringify(manifest) });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe("Manifest OK: MySQL (3 plans)\n");
  });
});

describe("berth errors", () => {
  it("refuses an unknown addon, listing the installed ones (exit 2)", async () => {
    const run = await berth(["manifest", "print", "mongodb"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain('unknown addon "mongodb"');
    expect(run.stderr).toContain([...addons.keys()].join(", "));
  });

  it("names the missing or invalid variables (exit 3)", async () => {
    const { BERTH_ADDON_POSTGRESQL_SSO_SALT: _, ...withoutSalt } = secrets;
    const missing = await berth(["manifest", "print", "postgresql"], { env: withoutSalt });
    expect(missing.code).toBe(3);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toContain("Invalid configuration");
    expect(missing.stderr).toContain("BERTH_ADDON_POSTGRESQL_SSO_SALT is required");
    // Only what the command needs: the other addons' secrets are not asked for.
    const { BERTH_ADDON_MYSQL_PASSWORD: __, ...withoutMysqlPassword } = secrets;
    expect((await berth(["manifest", "print", "postgresql"], { env: withoutMysqlPassword })).code).toBe(0);

    const invalid = await berth(["manifest", "print", "postgresql"], {
      env: { ...secrets, BERTH_ADDON_POSTGRESQL_SSO_SALT: "tiny-salt", BERTH_PUBLIC_URL: "ftp://example.test" },
    });
    expect(invalid.code).toBe(3);
    expect(invalid.stderr).toContain("BERTH_ADDON_POSTGRESQL_SSO_SALT must be at least 16 characters");
    expect(invalid.stderr).toContain("BERTH_PUBLIC_URL: must be an http:// or https:// URL");
    expect(invalid.stderr).not.toContain("tiny-salt");
  });

  it("asks the operations commands for the services they use only (exit 3), and checks their options (exit 2)", async () => {
    const list = await berth(["resources", "list"], { env: {} });
    expect(list.code).toBe(3);
    expect(list.stderr).toContain("BERTH_DATABASE_URL");
    expect(list.stderr).not.toContain("BERTH_REDIS_URL");
    const queues = await berth(["queues"], { env: { BERTH_REDIS_URL: "http://127.0.0.1:6390" } });
    expect(queues.code).toBe(3);
    expect(queues.stderr).toContain("BERTH_REDIS_URL: must be a redis:// or rediss:// URL");
    expect(queues.stderr).not.toContain("BERTH_DATABASE_URL");
    const status = await berth(["resources", "list", "--status", "asleep"], { env: {} });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain(`Allowed choices are ${Object.values(ResourceStatus).join(", ")}`);
    expect(status.stderr).toContain("provisioned, degraded");
    const addon = await berth(["resources", "list", "--addon", "mongodb"], { env: { BERTH_DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none" } });
    expect(addon.code).toBe(2);
    expect(addon.stderr).toContain('unknown addon "mongodb"');
    const help = await berth(["--help"]);
    for (const group of ["manifest", "resources", "backups", "operations", "jobs", "queues"]) expect(help.stdout).toMatch(new RegExp(`^  ${group} `, "m"));
  });

  it("asks the backups commands for what each uses only, and a restore for --yes when it cannot ask", async () => {
    const list = await berth(["backups", "list", "postgresql-0123456789abcdef"], { env: {} });
    expect(list.code).toBe(3);
    expect(list.stderr).toContain("BERTH_DATABASE_URL");
    expect(list.stderr).not.toContain("BERTH_ENCRYPTION_KEY");
    const download = await berth(["backups", "download", "postgresql-0123456789abcdef", "00000000-0000-4000-8000-000000000000"], {
      env: { BERTH_DATABASE_URL: "postgresql://nobody@127.0.0.1:1/none", BERTH_ENCRYPTION_KEY: "too-short", BERTH_BACKUP_DIR: "relative/backups" },
    });
    expect(download.code).toBe(3);
    expect(download.stderr).toContain("BERTH_ENCRYPTION_KEY: must be 32 bytes");
    expect(download.stderr).toContain("BERTH_BACKUP_DIR: must be an absolute path");
    expect(download.stderr).not.toContain("BERTH_REDIS_URL");
    // Standard input is a pipe here: nobody to ask, so nothing is read or recorded without --yes.
    const restore = await berth(["backups", "restore", "postgresql-0123456789abcdef", "00000000-0000-4000-8000-000000000000"], { env: {} });
    expect(restore.code).toBe(2);
    expect(restore.stderr).toContain("error: a restore overwrites the database's data and standard input is not a terminal to ask on: add --yes to restore");
    const withYes = await berth(["backups", "restore", "--yes", "postgresql-0123456789abcdef", "00000000-0000-4000-8000-000000000000"], { env: {} });
    expect(withYes.code).toBe(3);
    expect(withYes.stderr).toContain("BERTH_DATABASE_URL");
  });

  it("exits 2 on usage errors and 0 on --help", async () => {
    for (const args of [[], ["frobnicate"], ["manifest"], ["manifest", "check"], ["manifest", "print", "redis", "extra"], ["--nope"]]) {
      const run = await berth(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stdout).toBe("");
      expect(run.stderr).not.toBe("");
    }
    for (const args of [["manifest", "--help"], ["help", "manifest"]]) {
      const help = await berth(args);
      expect({ args, code: help.code }).toEqual({ args, code: 0 });
      expect(help.stdout).toContain("print [options] <addon>");
      expect(help.stdout).toContain("check <file>");
    }
  });
});

import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgRows } from "../src/pg-query.js";
import { freePort } from "../src/ports.js";

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL("../../../scripts/services.sh", import.meta.url));
const PG_BIN = "/usr/lib/postgresql/15/bin";

/**
 * scripts/services.sh with a state dir and ports of its own (and no image builds): the Redis and
 * PostgreSQL it runs let nobody in without the passwords of local.env, listen on 127.0.0.1 only,
 * and an older `up`'s open Redis and trust-auth cluster are locked in place, their data kept.
 */
class LocalServices {
  redisPort = 0;
  pgPort = 0;
  dir = "";

  async init(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "berth-svc-"));
    await chmod(this.dir, 0o755); // the postgres OS user reaches the data dir inside
    this.redisPort = await freePort();
    this.pgPort = await freePort();
  }

  get pgData(): string {
    return join(this.dir, "postgres");
  }

  env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of Object.keys(env)) if (name.startsWith("BERTH_")) delete env[name];
    return { ...env, BERTH_STATE_DIR: this.dir, BERTH_LOCAL_REDIS_PORT: String(this.redisPort), BERTH_LOCAL_POSTGRES_PORT: String(this.pgPort), BERTH_LOCAL_IMAGES: "" };
  }

  async services(command: "up" | "down"): Promise<{ stdout: string; stderr: string }> {
    return run("bash", [SCRIPT, command], { env: this.env() });
  }

  async localEnv(): Promise<Record<string, string>> {
    const text = await readFile(join(this.dir, "local.env"), "utf8");
    return Object.fromEntries([...text.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  }

  async redisPid(): Promise<number> {
    return Number((await readFile(join(this.dir, "pids", "redis.pid"), "utf8")).trim());
  }

  async postmasterPid(): Promise<number> {
    return Number((await readFile(join(this.pgData, "postmaster.pid"), "utf8")).split("\n")[0]);
  }

  /** `down` stops what `up` started (its pid files); whatever still runs of those PIDs gets SIGTERM. */
  async destroy(): Promise<void> {
    if (!this.dir) return;
    const pids = await Promise.all([this.redisPid().catch(() => 0), this.postmasterPid().catch(() => 0)]);
    await this.services("down").catch(() => undefined);
    for (const pid of pids) if (pid > 0 && alive(pid)) process.kill(pid, "SIGTERM");
    await rm(this.dir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** psql as root without any password (none in the environment, no password file); rejects when refused. */
function psqlWithoutPassword(host: string, port: number, asPostgresUser = false) {
  const args = ["-h", host, "-p", String(port), "-U", "postgres", "-w", "-X", "-d", "berth", "-Atc", "select 1"];
  const env = { PATH: process.env.PATH, PGPASSFILE: "/dev/null/none" };
  if (asPostgresUser) return run("runuser", ["-u", "postgres", "--", "env", "PGPASSFILE=/dev/null/none", join(PG_BIN, "psql"), ...args], { env });
  return run(join(PG_BIN, "psql"), args, { env });
}


async function redisPing(url: string): Promise<string> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await client.ping();
  } finally {
    client.disconnect();
  }
}

/** Sends inline commands to Redis over a plain socket; the reply lines, once there is one per command. */
function redisRaw(port: number, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let text = "";
    socket.on("error", reject);
    socket.on("data", (chunk) => {
      text += chunk.toString("utf8");
      const lines = text.split("\r\n").filter(Boolean);
      if (lines.length >= commands.length) {
        socket.destroy();
        resolve(lines);
      }
    });
    socket.write(commands.map((command) => `${command}\r\n`).join(""));
  });
}

/** The local addresses PID listens on (TCP), from `ss -ltnp`. */
async function listenAddresses(pid: number): Promise<string[]> {
  const { stdout } = await run("ss", ["-Hltnp"]);
  return stdout
    .split("\n")
    .filter((line) => line.includes(`pid=${pid},`))
    .map((line) => line.trim().split(/\s+/)[3]!);
}

async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    lines.push(cmdline.replaceAll("\0", " "));
  }
  return lines;
}

/** What both tests check once `up` ran: nothing gets in without local.env's passwords, everything with them. */
async function expectLocked(services: LocalServices): Promise<{ redisPassword: string; pgPassword: string }> {
  const env = await services.localEnv();
  expect((await stat(join(services.dir, "local.env"))).mode & 0o777).toBe(0o600);
  const redis = /^redis:\/\/default:([A-Za-z0-9]{32})@127\.0\.0\.1:(\d+)$/.exec(env.BERTH_REDIS_URL ?? "");
  const database = /^postgresql:\/\/postgres:([A-Za-z0-9]{32})@127\.0\.0\.1:(\d+)\/berth$/.exec(env.BERTH_DATABASE_URL ?? "");
  expect(redis?.[2]).toBe(String(services.redisPort));
  expect(database?.[2]).toBe(String(services.pgPort));
  expect(env.BERTH_TEST_DATABASE_URL).toBe(`${env.BERTH_DATABASE_URL}_test`);
  const [redisPassword, pgPassword] = [redis![1]!, database![1]!];

  // PostgreSQL: no way in without the password, over TCP or the unix socket, not even for the postgres OS user
  for (const [host, asPostgresUser] of [["127.0.0.1", false], ["/tmp", false], ["/tmp", true]] as const) {
    await expect(psqlWithoutPassword(host, services.pgPort, asPostgresUser)).rejects.toMatchObject({ stderr: expect.stringMatching(/no password supplied/) });
  }
  await expect(pgRows(`postgresql://postgres:wrong${pgPassword}@127.0.0.1:${services.pgPort}/berth`, "select 1")).rejects.toThrow(/password authentication failed/);
  expect(await pgRows(env.BERTH_DATABASE_URL!, "select current_user as u")).toEqual([{ u: "postgres" }]);
  expect(await pgRows(env.BERTH_TEST_DATABASE_URL!, "select current_database() as d")).toEqual([{ d: "berth_test" }]);
  const hba = (await readFile(join(services.pgData, "pg_hba.conf"), "utf8")).split("\n").filter((line) => line.trim() && !line.startsWith("#"));
  expect(hba.length).toBeGreaterThan(0);
  for (const line of hba) expect(line).toMatch(/\sscram-sha-256$/);

  // Redis: NOAUTH without the password
  expect(await redisRaw(services.redisPort, ["PING"])).toEqual([expect.stringMatching(/^-NOAUTH /)]);
  expect(await redisRaw(services.redisPort, [`AUTH default wrong${redisPassword}`, "PING"])).toEqual([expect.stringMatching(/^-WRONGPASS /), expect.stringMatching(/^-NOAUTH /)]);
  expect(await redisPing(env.BERTH_REDIS_URL!)).toBe("PONG");

  // Both listen on 127.0.0.1 only
  const redisListens = await listenAddresses(await services.redisPid());
  const pgListens = await listenAddresses(await services.postmasterPid());
  expect(redisListens).toContain(`127.0.0.1:${services.redisPort}`);
  expect(pgListens).toContain(`127.0.0.1:${services.pgPort}`);
  for (const address of [...redisListens, ...pgListens]) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);

  // No process shows either password in its arguments
  for (const line of await commandLines()) {
    expect(line).not.toContain(redisPassword);
    expect(line).not.toContain(pgPassword);
  }
  return { redisPassword, pgPassword };
}

describe("scripts/services.sh up: the local Redis and PostgreSQL have passwords", () => {
  const services = new LocalServices();
  beforeAll(() => services.init());
  afterAll(() => services.destroy());

  it("starts both locked, and a second up reuses them with the same passwords", async () => {
    const first = await services.services("up");
    expect(first.stdout).toMatch(/started redis, started postgres/);
    const passwords = await expectLocked(services);
    const pids = [await services.redisPid(), await services.postmasterPid()];

    const second = await services.services("up");
    expect(second.stdout).toMatch(/reused redis, reused postgres/);
    expect(await expectLocked(services)).toEqual(passwords);
    expect([await services.redisPid(), await services.postmasterPid()]).toEqual(pids);
  });
});

describe("scripts/services.sh up: an older up's open Redis and trust-auth PostgreSQL", () => {
  const services = new LocalServices();
  const asPostgres = (command: string, ...args: string[]) => run("runuser", ["-u", "postgres", "--", join(PG_BIN, command), ...args]);
  const oldKey = Buffer.alloc(32, 7).toString("base64");
  beforeAll(async () => {
    await services.init();
    // What the previous scripts/services.sh up did: Redis without a password, initdb --auth=trust.
    const { dir, redisPort, pgPort, pgData } = services;
    await mkdir(join(dir, "pids"));
    await mkdir(join(dir, "logs"));
    await mkdir(join(dir, "redis"));
    await run("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "yes", "--pidfile", join(dir, "pids", "redis.pid"), "--logfile", join(dir, "logs", "redis.log"), "--dir", join(dir, "redis")]);
    await mkdir(pgData, { mode: 0o700 });
    await run("chown", ["postgres:postgres", pgData]);
    await asPostgres("initdb", "-D", pgData, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions");
    await writeFile(join(dir, "logs", "postgres.log"), "");
    await run("chown", ["postgres", join(dir, "logs", "postgres.log")]);
    await asPostgres("pg_ctl", "-D", pgData, "-l", join(dir, "logs", "postgres.log"), "-w", "-t", "60", "-o", `-p ${pgPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp`, "start");
    const open = `postgresql://postgres@127.0.0.1:${pgPort}`;
    for (const db of ["berth", "berth_test"]) await pgRows(`${open}/postgres`, `create database ${db}`);
    await writeFile(
      join(dir, "local.env"),
      [
        `export BERTH_REDIS_URL=redis://127.0.0.1:${redisPort}`,
        `export BERTH_DATABASE_URL=${open}/berth`,
        `export BERTH_TEST_DATABASE_URL=${open}/berth_test`,
        `export BERTH_ENCRYPTION_KEY=${oldKey}`,
        "export BERTH_ADMIN_USERNAME=operator",
        "export BERTH_ADMIN_PASSWORD=kept-admin-password-0123456789",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    // Data written before the upgrade, and proof that both are open.
    await pgRows(`${open}/berth`, "create table kept (v text); insert into kept values ('written before the upgrade')");
    await psqlWithoutPassword("127.0.0.1", pgPort);
    const redis = new Redis(redisPort, "127.0.0.1");
    await redis.set("kept", "queued before the upgrade");
    redis.disconnect();
  });
  afterAll(() => services.destroy());

  it("locks both in place: same processes, data and secrets kept; then stays as it is", async () => {
    const pids = [await services.redisPid(), await services.postmasterPid()];
    const { stdout } = await services.services("up");
    expect(stdout).toMatch(/locked redis, locked postgres/);
    await expectLocked(services);
    expect([await services.redisPid(), await services.postmasterPid()]).toEqual(pids);

    const env = await services.localEnv();
    expect(env.BERTH_ENCRYPTION_KEY).toBe(oldKey);
    expect(env.BERTH_ADMIN_PASSWORD).toBe("kept-admin-password-0123456789");
    expect(await pgRows(env.BERTH_DATABASE_URL!, "select v from kept")).toEqual([{ v: "written before the upgrade" }]);
    const redis = new Redis(env.BERTH_REDIS_URL!);
    expect(await redis.get("kept")).toBe("queued before the upgrade");
    redis.disconnect();

    const again = await services.services("up");
    expect(again.stdout).toMatch(/reused redis, reused postgres/);
    expect(await services.localEnv()).toEqual(env);
  });

  it("locks a stopped trust-auth cluster before it listens, its data kept", async () => {
    // back to what an older up left stopped: no password, trust auth
    await pgRows((await services.localEnv()).BERTH_DATABASE_URL!, "alter role postgres password null");
    await services.services("down");
    await writeFile(join(services.pgData, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
    const { stdout } = await services.services("up");
    expect(stdout).toMatch(/started redis, started postgres/);
    await expectLocked(services);
    const env = await services.localEnv();
    expect(await pgRows(env.BERTH_DATABASE_URL!, "select v from kept")).toEqual([{ v: "written before the upgrade" }]);
  });
});

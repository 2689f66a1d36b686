import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

const run = promisify(execFile);
const PG_BIN = "/usr/lib/postgresql/15/bin";
const dbPackage = fileURLToPath(new URL("../../../packages/db", import.meta.url));

/** A control-plane PostgreSQL of a test's own, migrated, that the test may stop and start. */
export interface TestPostgres {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const dir = await mkdtemp(join(tmpdir(), "berth-pg-"));
  await chmod(dir, 0o777); // initdb runs as the postgres user
  const data = join(dir, "data");
  const port = await freePort();
  const asPostgres = (command: string, ...args: string[]) => run("runuser", ["-u", "postgres", "--", join(PG_BIN, command), ...args]);
  await asPostgres("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-N");
  const pgCtl = (...args: string[]) =>
    asPostgres("pg_ctl", "-D", data, "-w", "-l", join(dir, "postgres.log"), "-o", `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir}`, ...args);
  await pgCtl("start");
  await run("psql", [`postgresql://postgres@127.0.0.1:${port}/postgres`, "-qc", "CREATE DATABASE berth"]);
  const url = `postgresql://postgres@127.0.0.1:${port}/berth`;
  await run("pnpm", ["exec", "prisma", "migrate", "deploy"], { cwd: dbPackage, env: { ...process.env, BERTH_DATABASE_URL: url, CHECKPOINT_DISABLE: "1" } });
  return {
    url,
    stop: async () => void (await pgCtl("stop", "-m", "fast")),
    start: async () => void (await pgCtl("start")),
    async destroy() {
      await pgCtl("stop", "-m", "immediate").catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The client matrix: every URL Berth delivers, as the platform received it, opens a session with
 * the engine's own command-line client, the common Node drivers and Debian's Python drivers, each
 * writing and reading back. Where a client takes no URL (the mariadb and influx CLIs, PyMySQL),
 * the test splits it the way an app's configuration does, and changes nothing in it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { addons } from "@berth/addons";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../src/index.js";

const run = promisify(execFile);
const WAIT = { timeoutMs: 180_000 };
/** Debian's Python, with Debian's drivers (python3-psycopg2, python3-pymysql, python3-redis). */
const PYTHON = "/usr/bin/python3";

/** One client: writes its own name into the database behind `url`, then reads back what it wrote. */
type Client = (url: string, name: string) => Promise<string>;

/** Runs a program with the URL in its environment (never on its command line), its stdout trimmed. */
async function program(file: string, args: readonly string[], url: string): Promise<string> {
  const { stdout } = await run(file, args, { env: { ...process.env, BERTH_URL: url }, timeout: 30_000 });
  return stdout.trim();
}

const python = (code: string) => (url: string) => program(PYTHON, ["-c", code], url);

const parts = (url: string) => {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)),
  };
};

const CLIENTS: Record<string, Record<string, Client>> = {
  postgresql: {
    psql: (url, name) =>
      program("sh", ["-c", `psql "$BERTH_URL" -X -q -A -t -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS matrix (client text)" -c "INSERT INTO matrix VALUES ('${name}')" -c "SELECT client FROM matrix WHERE client = '${name}'"`], url),
    "node pg": async (url, name) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query("CREATE TABLE IF NOT EXISTS matrix (client text)");
        await client.query("INSERT INTO matrix VALUES ($1)", [name]);
        return (await client.query<{ client: string }>("SELECT client FROM matrix WHERE client = $1", [name])).rows[0]!.client;
      } finally {
        await client.end();
      }
    },
    "python psycopg2": (url, name) =>
      python(`import os, psycopg2
connection = psycopg2.connect(os.environ["BERTH_URL"])
with connection, connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS matrix (client text)")
    cursor.execute("INSERT INTO matrix VALUES (%s)", ("${name}",))
    cursor.execute("SELECT client FROM matrix WHERE client = %s", ("${name}",))
    print(cursor.fetchone()[0])`)(url),
  },
  mysql: {
    mariadb: (url, name) => {
      const { host, port, user, password, database } = parts(url);
      const sql = `CREATE TABLE IF NOT EXISTS matrix (client varchar(64)); INSERT INTO matrix VALUES ('${name}'); SELECT client FROM matrix WHERE client = '${name}'`;
      return run("mariadb", ["--protocol=tcp", `--host=${host}`, `--port=${port}`, `--user=${user}`, "--batch", "--skip-column-names", database, "-e", sql], {
        env: { ...process.env, MYSQL_PWD: password },
        timeout: 30_000,
      }).then(({ stdout }) => stdout.trim());
    },
    "node mysql2": async (url, name) => {
      const connection = await mysql.createConnection(url);
      try {
        await connection.query("CREATE TABLE IF NOT EXISTS matrix (client varchar(64))");
        await connection.query("INSERT INTO matrix VALUES (?)", [name]);
        const [rows] = await connection.query("SELECT client FROM matrix WHERE client = ?", [name]);
        return (rows as { client: string }[])[0]!.client;
      } finally {
        await connection.end();
      }
    },
    "python pymysql": (url, name) =>
      python(`import os, pymysql
from urllib.parse import unquote, urlsplit
url = urlsplit(os.environ["BERTH_URL"])
connection = pymysql.connect(host=url.hostname, port=url.port, user=unquote(url.username), password=unquote(url.password), database=unquote(url.path[1:]))
with connection, connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS matrix (client varchar(64))")
    cursor.execute("INSERT INTO matrix VALUES (%s)", ("${name}",))
    connection.commit()
    cursor.execute("SELECT client FROM matrix WHERE client = %s", ("${name}",))
    print(cursor.fetchone()[0])`)(url),
  },
  redis: {
    "redis-cli": async (url, name) => {
      await program("sh", ["-c", `redis-cli --no-auth-warning -u "$BERTH_URL" SET "matrix:${name}" "${name}"`], url);
      return program("sh", ["-c", `redis-cli --no-auth-warning -u "$BERTH_URL" GET "matrix:${name}"`], url);
    },
    "node ioredis": async (url, name) => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        await client.set(`matrix:${name}`, name);
        return (await client.get(`matrix:${name}`))!;
      } finally {
        client.disconnect();
      }
    },
    "node redis": async (url, name) => {
      const client = createClient({ url });
      await client.connect();
      try {
        await client.set(`matrix:${name}`, name);
        return (await client.get(`matrix:${name}`))!;
      } finally {
        client.destroy();
      }
    },
    "python redis": (url, name) =>
      python(`import os, redis
client = redis.from_url(os.environ["BERTH_URL"])
client.set("matrix:${name}", "${name}")
print(client.get("matrix:${name}").decode())`)(url),
  },
  influxdb: {
    influx: async (url, name) => {
      const { host, port, user, password, database } = parts(url);
      const influx = (statement: string) =>
        run("influx", ["-host", host, "-port", port, "-username", user, "-password", password, "-database", database, "-format", "csv", "-execute", statement], { timeout: 30_000 });
      await influx(`INSERT matrix,client=${name} seen=1`);
      const { stdout } = await influx(`SHOW TAG VALUES FROM matrix WITH KEY = "client"`);
      return stdout.split("\n").map((line) => line.split(",").at(-1)!).find((value) => value === name) ?? stdout;
    },
  },
};

describe("client matrix: every delivered URL, unmodified, opens a session with the engines' clients", () => {
  let stack: Stack;
  const urls = new Map<string, string>();
  beforeAll(async () => {
    stack = await startStack();
    await Promise.all(
      [...addons.values()].map(async (addon) => {
        const response = await stack.driver(addon.id).provision({ plan: addon.plans[0]!.name, app_id: `matrix-${addon.id}` });
        const id = (response.body as { id: string }).id;
        await stack.standIn.waitForProvisioned(id, WAIT);
        urls.set(addon.id, stack.standIn.addonConfig(id)![addon.urlConfigVar]!);
      }),
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("covers every installed engine", () => {
    expect(Object.keys(CLIENTS).sort()).toEqual([...addons.keys()].sort());
  });

  describe.each(Object.entries(CLIENTS))("%s", (addonId, clients) => {
    it.each(Object.keys(clients))("%s", async (clientName) => {
      const name = clientName.replace(/[^a-z0-9]/g, "_");
      expect(await clients[clientName]!(urls.get(addonId)!, name)).toBe(name);
    });
  });
});

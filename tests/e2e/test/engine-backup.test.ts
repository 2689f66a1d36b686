/**
 * Each engine's backup (`AddonDefinition.backup`) on real databases, run the way the worker runs
 * it: a database made as provisioning makes one (volume on a disk of its own, container, bootstrap,
 * readiness through the gateway), data written through the app's URL, the dump streamed out of the
 * container (`execStream`) to a file, a new database, the dump put back (`execWithInput` into the
 * running engine, or `writeVolumeFile` before its first start), and the data read back.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm, rmdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import type { AddonCredentials, AddonDefinition, AddonPlan, ContainerSpec, Endpoint } from "@berth/addon-sdk";
import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { addons } from "@berth/addons";
import { addonEnvName } from "@berth/config";
import { createGateway, type Gateway } from "@berth/worker/gateway";
import { DockerRuntime, ExecFailedError } from "@berth/worker/testing";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineTestClients } from "../src/engine-clients.js";
import { freePort } from "../src/ports.js";
import { waitUntil } from "../src/wait.js";

const run = promisify(execFile);
const dockerHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const deploymentId = `backuptest-${randomBytes(4).toString("hex")}`;
// Disks of their own, as the worker makes them (this checkout's, like the stack's).
const diskDir = process.env.BERTH_DISK_DIR ?? join(import.meta.dirname, "..", "..", "..", ".berth", "disks");
const runtime = new DockerRuntime({ dockerHost, deploymentId, diskDir });
const logger = pino({ level: process.env.BERTH_TEST_LOG_LEVEL ?? "warn" });
const STEP_TIMEOUT_MS = 120_000;

interface Database {
  readonly addon: AddonDefinition;
  readonly credentials: AddonCredentials;
  readonly plan: AddonPlan;
  readonly name: string;
  readonly volumeName: string;
  readonly labels: { resourceId: string; addonId: string; plan: string };
  readonly spec: ContainerSpec;
  readonly port: number;
  /** Where the app connects (through the gateway), and its URL. */
  readonly endpoint: Endpoint;
  readonly url: string;
}

/** A new database's volume (on its own disk); nothing runs on it yet. */
async function newDatabase(addon: AddonDefinition, credentials: AddonCredentials = addon.generateCredentials()): Promise<Database> {
  const resourceId = randomUUID();
  const name = `berth-${deploymentId}-${resourceId.slice(0, 8)}`;
  const plan = addon.plans[0]!;
  const labels = { resourceId, addonId: addon.id, plan: plan.name };
  const port = await freePort();
  const image = process.env[addonEnvName(addon.id, "IMAGE")] ?? addon.localImage?.tag ?? addon.defaultImage;
  const endpoint = { host: "127.0.0.1", port, credentials };
  const database = {
    addon,
    credentials,
    plan,
    name,
    volumeName: `${name}-data`,
    labels,
    spec: addon.containerSpec({ plan, credentials, image }),
    port,
    endpoint,
    url: addon.connectionConfig(endpoint, plan)[addon.urlConfigVar]!,
  };
  await runtime.ensureVolume(database.volumeName, labels, plan.limits.diskMb);
  return database;
}

/** Its container, `bootstrap` until it exits 0, then readiness through the gateway: provisioning's steps. */
async function startDatabase(database: Database): Promise<void> {
  const { addon, credentials } = database;
  await runtime.ensureContainerRunning({ name: database.name, volumeName: database.volumeName, spec: database.spec, labels: database.labels, port: database.port });
  if (addon.bootstrap) {
    let last = "";
    await waitUntil(
      `${addon.id} bootstrap (${last})`,
      async () => {
        const result = await runtime.exec(database.name, addon.bootstrap!(credentials), AbortSignal.timeout(30_000)).catch((error: Error) => ({ exitCode: -1, output: error.message }));
        last = result.output;
        return result.exitCode === 0;
      },
      { timeoutMs: addon.readyTimeoutMs, intervalMs: 250 },
    );
  }
  await waitUntil(
    `${addon.id} ready through the gateway`,
    () => addon.probe(database.endpoint, AbortSignal.timeout(5_000)).then(() => true, () => false),
    { timeoutMs: addon.readyTimeoutMs, intervalMs: 250 },
  );
}

interface DumpFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

let scratch: string;

/**
 * The engine's dump of `database`, streamed to a file, its bytes counted and hashed on the way.
 * `beforeFirstChunk` holds the first chunk back until it resolves (a reader slower than the dump).
 */
async function dumpToFile(database: Database, { beforeFirstChunk }: { beforeFirstChunk?: () => Promise<void> } = {}): Promise<DumpFile> {
  const backup = database.addon.backup!;
  const path = join(scratch, `${database.name}-${randomBytes(3).toString("hex")}.${backup.format}`);
  const hash = createHash("sha256");
  let size = 0;
  let first = true;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const pass = () => {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      };
      if (first && beforeFirstChunk) beforeFirstChunk().then(pass, done);
      else pass();
      first = false;
    },
  });
  const stream = await runtime.execStream(database.name, backup.dump(database.credentials), AbortSignal.timeout(STEP_TIMEOUT_MS));
  await pipeline(stream, counted, createWriteStream(path));
  return { path, size, sha256: hash.digest("hex") };
}

/** Puts a dump into a new database the way the engine takes one back, and starts it: the worker's restore. */
async function restoreInto(database: Database, dump: DumpFile): Promise<void> {
  const { restore } = database.addon.backup!;
  const signal = AbortSignal.timeout(STEP_TIMEOUT_MS);
  if (restore.kind === "file") {
    const file = { volumeName: database.volumeName, labels: database.labels, spec: database.spec, path: restore.path, size: dump.size, ...(restore.mode === undefined ? {} : { mode: restore.mode }) };
    await runtime.writeVolumeFile(file, createReadStream(dump.path), signal);
    await startDatabase(database);
  } else {
    await startDatabase(database);
    await runtime.execWithInput(database.name, restore.load(database.credentials), createReadStream(dump.path), signal);
  }
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function headOf(path: string, bytes: number): Promise<Buffer> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(bytes), 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** What each engine's dump starts with. */
const DUMP_MAGIC: Readonly<Record<string, (head: Buffer) => boolean>> = {
  postgresql: (head) => head.subarray(0, 5).toString() === "PGDMP",
  mysql: (head) => head.toString().startsWith("/*M!999999\\- enable the sandbox mode */") || head.toString().startsWith("-- MariaDB dump"),
  redis: (head) => head.subarray(0, 5).toString() === "REDIS",
  influxdb: (head) => head.subarray(257, 262).toString() === "ustar",
};

/**
 * What each engine holds beyond the contract suite's key/value pairs, written and checked through
 * the app's own URL: the objects a customer makes (so ownership, definers and grants show), data
 * types a dump could mangle.
 */
interface EngineData {
  seed(database: Database): Promise<void>;
  /** Checks the data, and that the app can still change and drop what it made. */
  check(database: Database): Promise<void>;
}

const BINARY = randomBytes(4096);

async function withPg<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(url: string, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ uri: url, multipleStatements: true });
  connection.on("error", () => undefined);
  try {
    return await use(connection);
  } finally {
    await connection.end();
  }
}

async function withRedis<T>(url: string, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** One InfluxDB HTTP call as the app (the delivered URL's user, password and database). */
async function influx(url: string, path: "/write" | "/query", body: string, params: Record<string, string> = {}): Promise<unknown> {
  const parsed = new URL(url);
  const query = new URLSearchParams({ db: decodeURIComponent(parsed.pathname.slice(1)), ...params });
  const response = await fetch(`http://${parsed.host}${path}?${query.toString()}`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString("base64")}` },
    body: path === "/query" ? new URLSearchParams({ q: body }) : body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok || text.includes('"error"')) throw new Error(`InfluxDB answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const engineData: Readonly<Record<string, EngineData>> = {
  postgresql: {
    seed: (database) =>
      withPg(database.url, async (client) => {
        await client.query(`
          CREATE EXTENSION pgcrypto;
          CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
          CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL, data bytea, feeling mood);
          CREATE INDEX orders_note ON orders (note);
          INSERT INTO orders (note, data, feeling) SELECT 'n' || g, decode(md5(g::text), 'hex'), 'ok' FROM generate_series(1, 1000) g;
          CREATE VIEW recent AS SELECT * FROM orders WHERE id > 990;
          CREATE MATERIALIZED VIEW order_count AS SELECT count(*) AS n FROM orders;
          CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := NEW.note || '!'; RETURN NEW; END $$;
          CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION touch();
          CREATE SCHEMA app;
          CREATE TABLE app.settings (k text PRIMARY KEY, v jsonb NOT NULL, blob bytea);
          ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
          CREATE POLICY everything ON orders USING (true);
        `);
        await client.query("INSERT INTO app.settings VALUES ('theme', '{\"dark\": true, \"emoji\": \"🐳\"}', $1)", [BINARY]);
        await client.query("SELECT lo_from_bytea(4242, 'a large object'::bytea)");
      }),
    check: (database) =>
      withPg(database.url, async (client) => {
        const me = (await client.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u;
        expect(me).toBe(database.credentials.user);
        const rows = await client.query<{ n: number; notes: string; digest: string }>(
          "SELECT count(*)::int AS n, string_agg(note, ',' ORDER BY id) AS notes, md5(string_agg(data, '' ORDER BY id)) AS digest FROM orders",
        );
        const expected = await client.query<{ notes: string; digest: string }>(
          "SELECT string_agg('n' || g, ',' ORDER BY g) AS notes, md5(string_agg(decode(md5(g::text), 'hex'), '' ORDER BY g)) AS digest FROM generate_series(1, 1000) g",
        );
        expect(rows.rows[0]).toEqual({ n: 1000, ...expected.rows[0] });
        expect((await client.query("SELECT count(*)::int AS n FROM recent")).rows[0]).toEqual({ n: 10 });
        expect((await client.query("SELECT n::int FROM order_count")).rows[0]).toEqual({ n: 1000 });
        const setting = (await client.query<{ v: unknown; blob: Buffer }>("SELECT v, blob FROM app.settings WHERE k = 'theme'")).rows[0]!;
        expect(setting.v).toEqual({ dark: true, emoji: "🐳" });
        expect(setting.blob.equals(BINARY)).toBe(true);
        expect((await client.query("SELECT convert_from(lo_get(4242), 'UTF8') AS text")).rows[0]).toEqual({ text: "a large object" });
        expect((await client.query("SELECT encode(digest('x', 'sha256'), 'hex') AS h")).rows[0]!.h).toBe(createHash("sha256").update("x").digest("hex"));

        // Everything the app made is the app's (extension members are the bootstrap superuser's, as in any database).
        const owners = await client.query<{ what: string; owner: string }>(`
          SELECT 'relation ' || c.relname AS what, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', 'app') AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
          UNION ALL SELECT 'function ' || p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('public', 'app') AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          UNION ALL SELECT 'type ' || t.typname, pg_get_userbyid(t.typowner) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname IN ('public', 'app') AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
          UNION ALL SELECT 'schema ' || nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('public', 'app')
          UNION ALL SELECT 'extension ' || extname, pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'pgcrypto'
          UNION ALL SELECT 'large object ' || oid, pg_get_userbyid(lomowner) FROM pg_largeobject_metadata
        `);
        expect(owners.rows.length).toBeGreaterThan(10);
        expect(owners.rows.filter((row) => row.owner !== me)).toEqual([]);
        expect(owners.rows.map((row) => row.what)).toEqual(expect.arrayContaining(["relation orders", "relation recent", "relation order_count", "function touch", "type mood", "schema app", "extension pgcrypto", "large object 4242"]));
        expect((await client.query("SELECT count(*)::int AS n FROM pg_policies WHERE policyname = 'everything'")).rows[0]).toEqual({ n: 1 });

        // The trigger runs; the app changes and drops what it owns.
        await client.query("INSERT INTO orders (note) VALUES ('new')");
        expect((await client.query("SELECT note FROM orders WHERE id = (SELECT max(id) FROM orders)")).rows[0]).toEqual({ note: "new!" });
        await client.query(`
          REFRESH MATERIALIZED VIEW order_count;
          ALTER TABLE orders ADD COLUMN extra int;
          ALTER TYPE mood ADD VALUE 'ecstatic';
          DROP VIEW recent;
          DROP MATERIALIZED VIEW order_count;
          DROP TABLE orders;
          DROP FUNCTION touch();
          DROP SCHEMA app CASCADE;
          DROP EXTENSION pgcrypto;
          SELECT lo_unlink(4242);
        `);
      }),
  },

  mysql: {
    seed: (database) =>
      withMysql(database.url, async (connection) => {
        await connection.query(`
          CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100) NOT NULL, data BLOB, emoji VARCHAR(20) CHARACTER SET utf8mb4) ENGINE=InnoDB;
          INSERT INTO orders (note, data, emoji) WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1000) SELECT CONCAT('n', n), UNHEX(MD5(n)), '🐳' FROM seq;
          CREATE TABLE blobs (id INT PRIMARY KEY, content MEDIUMBLOB) ENGINE=InnoDB;
          CREATE VIEW recent AS SELECT * FROM orders WHERE id > 990;
          CREATE TRIGGER orders_touch BEFORE INSERT ON orders FOR EACH ROW SET NEW.note = CONCAT(NEW.note, '!');
          CREATE PROCEDURE order_count(OUT n INT) SELECT COUNT(*) INTO n FROM orders;
          CREATE EVENT cleanup ON SCHEDULE EVERY 1 DAY DO DELETE FROM orders WHERE id < 0;
        `);
        await connection.query("INSERT INTO blobs VALUES (1, ?)", [BINARY]);
      }),
    check: (database) =>
      withMysql(database.url, async (connection) => {
        const [[rows]] = (await connection.query("SELECT COUNT(*) AS n, MD5(GROUP_CONCAT(note ORDER BY id)) AS notes, MD5(GROUP_CONCAT(HEX(data) ORDER BY id)) AS data, MIN(emoji) AS emoji, MAX(emoji) AS emoji2 FROM orders")) as unknown as [[Record<string, unknown>]];
        const [[expected]] = (await connection.query(
          "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 1000) SELECT MD5(GROUP_CONCAT(CONCAT('n', n) ORDER BY n)) AS notes, MD5(GROUP_CONCAT(HEX(UNHEX(MD5(n))) ORDER BY n)) AS data FROM seq",
        )) as unknown as [[Record<string, unknown>]];
        expect(rows).toEqual({ n: 1000, ...expected, emoji: "🐳", emoji2: "🐳" });
        const [[blob]] = (await connection.query("SELECT content FROM blobs WHERE id = 1")) as unknown as [[{ content: Buffer }]];
        expect(blob.content.equals(BINARY)).toBe(true);
        // Views, triggers, routines and events, each with its definer (the app's user).
        const [[recent]] = (await connection.query("SELECT COUNT(*) AS n FROM recent")) as unknown as [[{ n: number }]];
        expect(recent.n).toBe(10);
        const [[, [count]]] = (await connection.query("CALL order_count(@n); SELECT @n AS n")) as unknown as [[unknown, [{ n: number }]]];
        expect(count.n).toBe(1000);
        const [events] = (await connection.query("SHOW EVENTS")) as unknown as [{ Name: string; Definer: string }[]];
        expect(events.map((event) => [event.Name, event.Definer])).toEqual([["cleanup", `${database.credentials.user}@%`]]);
        await connection.query("INSERT INTO orders (note) VALUES ('new')");
        const [[last]] = (await connection.query("SELECT note FROM orders ORDER BY id DESC LIMIT 1")) as unknown as [[{ note: string }]];
        expect(last.note).toBe("new!");

        // Its grants are the ones provisioning gave it: ALL on its database, nothing global.
        const [grants] = (await connection.query("SHOW GRANTS")) as unknown as [Record<string, string>[]];
        expect(grants.map((row) => Object.values(row)[0]).sort()).toEqual(
          [`GRANT ALL PRIVILEGES ON \`${database.credentials.database}\`.* TO \`${database.credentials.user}\`@\`%\``, expect.stringMatching(new RegExp(`^GRANT USAGE ON \\*\\.\\* TO \`${database.credentials.user}\`@\`%\` IDENTIFIED BY PASSWORD '\\*[0-9A-F]{40}'$`))].sort(),
        );
        await connection.query("ALTER TABLE orders ADD COLUMN extra INT; DROP EVENT cleanup; DROP PROCEDURE order_count; DROP TRIGGER orders_touch; DROP VIEW recent; DROP TABLE orders; DROP TABLE blobs");
      }),
  },

  redis: {
    seed: (database) =>
      withRedis(database.url, async (client) => {
        await client.hset("hash", { a: "1", b: "🐳" });
        await client.rpush("list", "x", "y", "z");
        await client.sadd("set", "m1", "m2");
        await client.zadd("zset", 1, "one", 2, "two");
        await client.xadd("stream", "1-1", "field", "value");
        await client.set("binary", BINARY);
        await client.set("expiring", "soon", "EX", 3600);
      }),
    check: (database) =>
      withRedis(database.url, async (client) => {
        expect(await client.hgetall("hash")).toEqual({ a: "1", b: "🐳" });
        expect(await client.lrange("list", 0, -1)).toEqual(["x", "y", "z"]);
        expect((await client.smembers("set")).sort()).toEqual(["m1", "m2"]);
        expect(await client.zrange("zset", 0, -1, "WITHSCORES")).toEqual(["one", "1", "two", "2"]);
        expect(await client.xrange("stream", "-", "+")).toEqual([["1-1", ["field", "value"]]]);
        expect((await client.getBuffer("binary"))?.equals(BINARY)).toBe(true);
        const ttl = await client.ttl("expiring");
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(3600);
        // Append-only persistence goes on from the loaded data: a restart keeps it and what came after.
        await client.set("after-restore", "kept");
      }),
  },

  influxdb: {
    seed: async (database) => {
      // Points years apart: shards of their own, each backed up and restored.
      const lines = ["cpu,host=a usage=0.5,note=\"first 🐳\" 1577836800000", "cpu,host=b usage=0.75 1580515200000", "mem,host=a used=42i 1609459200000"];
      await influx(database.url, "/write", lines.join("\n"), { precision: "ms" });
    },
    check: async (database) => {
      const result = (await influx(database.url, "/query", 'SELECT * FROM "cpu"; SELECT "used" FROM "mem"', { epoch: "ms" })) as {
        results: { series?: { name: string; columns: string[]; values: unknown[][] }[] }[];
      };
      expect(result.results[0]?.series?.[0]).toMatchObject({
        name: "cpu",
        columns: ["time", "host", "note", "usage"],
        values: [
          [1577836800000, "a", "first 🐳", 0.5],
          [1580515200000, "b", null, 0.75],
        ],
      });
      expect(result.results[1]?.series?.[0]?.values).toEqual([[1609459200000, 42]]);
      // The app's grant on the restored database: it writes and deletes there.
      await influx(database.url, "/write", "cpu,host=c usage=1 1609459200001", { precision: "ms" });
      await influx(database.url, "/query", 'DELETE FROM "mem"');
      expect(await influx(database.url, "/query", 'SELECT count(*) FROM "mem"')).toEqual({ results: [{ statement_id: 0 }] });
    },
  },
};

/** Key/value pairs written through the contract suite's client (`EngineTestClient`). */
async function writePairs(client: EngineTestClient, url: string, pairs: ReadonlyMap<string, string>): Promise<void> {
  const session = await client.connect(url);
  try {
    for (const [key, value] of pairs) await session.write(key, value);
  } finally {
    await session.close();
  }
}

async function readPairs(client: EngineTestClient, url: string, keys: Iterable<string>): Promise<Map<string, string | undefined>> {
  const session = await client.connect(url);
  try {
    const read = new Map<string, string | undefined>();
    for (const key of keys) read.set(key, await session.read(key));
    return read;
  } finally {
    await session.close();
  }
}

/** A failing dump for each engine: the engine's own words for why. */
const FAILING_DUMP: Readonly<Record<string, { credentials: (credentials: AddonCredentials) => AddonCredentials; says: RegExp }>> = {
  postgresql: { credentials: (c) => ({ ...c, database: "db_missing" }), says: /pg_dump: error: .*database "db_missing" does not exist/ },
  mysql: { credentials: (c) => ({ ...c, database: "db_missing" }), says: /Unknown database 'db_missing'/ },
  redis: { credentials: (c) => ({ ...c, adminPassword: "not-the-password" }), says: /WRONGPASS|NOAUTH/ },
  influxdb: { credentials: (c) => ({ ...c, database: "db_missing" }), says: /backup failed/ },
};

async function removeEverythingOfThisTest(): Promise<void> {
  const managed = await runtime.listManaged();
  for (const container of managed.containers) await runtime.removeContainer(container.name).catch(() => undefined);
  const filter = `label=berth.deployment=${deploymentId}`;
  const leftovers = (await run("docker", ["ps", "-aq", "--filter", filter])).stdout.split("\n").filter(Boolean);
  if (leftovers.length > 0) await run("docker", ["rm", "-f", ...leftovers]);
  for (const volume of (await runtime.listManaged()).volumes) await runtime.removeVolume(volume.name);
  await rmdir(join(diskDir, deploymentId)).catch(() => undefined); // its disk images' directory, empty by now
}

const withBackups = [...addons.values()].filter((addon) => addon.backup);

describe("engine backups", () => {
  let gateway: Gateway;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "berth-backup-test-"));
    gateway = createGateway(
      { dockerHost, deploymentId, bindAddress: "127.0.0.1", http: { host: "127.0.0.1", port: await freePort() }, resyncSeconds: 1, drainSeconds: 0, logLevel: "warn" },
      { http: false, logger },
    );
    await gateway.start();
  });
  afterAll(async () => {
    await gateway?.close();
    await removeEverythingOfThisTest();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("every installed engine describes its backups", () => {
    expect(withBackups.map((addon) => addon.id).sort()).toEqual([...addons.keys()].sort());
    expect(Object.fromEntries(withBackups.map((addon) => [addon.id, [addon.backup!.format, addon.backup!.restore.kind]]))).toEqual({
      postgresql: ["pgdump", "load"],
      mysql: ["sql", "load"],
      redis: ["rdb", "file"],
      influxdb: ["tar", "load"],
    });
  });

  it("redis: a snapshot asked for while the server rewrites its AOF or saves one already is a new one, taken after the request", async () => {
    const addon = addons.get("redis")!;
    const client = engineTestClients.redis!;
    const source = await newDatabase(addon);
    await startDatabase(source);
    await writePairs(client, source.url, new Map(Array.from({ length: 100 }, (_, i) => [`bulk-${i}`, randomBytes(24 * 1024).toString("base64")])));
    const asBerth = (command: string) =>
      runtime.exec(source.name, { command: ["redis-cli", "--no-auth-warning", "--user", "berth", "--askpass", "-s", "/data/redis.sock", command], stdin: `${source.credentials.adminPassword}\n` }, AbortSignal.timeout(10_000));
    for (const [busy, reply] of [["BGREWRITEAOF", /Background append only file rewriting started/], ["BGSAVE", /Background saving started/]] as const) {
      expect((await asBerth(busy)).output).toMatch(reply);
      const marker = `after-${busy}-${randomBytes(4).toString("hex")}`;
      await writePairs(client, source.url, new Map([[marker, "in the snapshot"]]));
      const dump = await dumpToFile(source);
      const target = await newDatabase(addon, source.credentials);
      await restoreInto(target, dump);
      expect(Object.fromEntries(await readPairs(client, target.url, [marker, "bulk-99"]))).toEqual({ [marker]: "in the snapshot", "bulk-99": expect.any(String) });
    }
  });

  describe.each(withBackups.map((addon) => [addon.id, addon] as const))("%s", (id, addon) => {
    const client = engineTestClients[id]!;
    const data = engineData[id]!;
    const pairs = new Map(Array.from({ length: 50 }, (_, i) => [`key-${i}`, `value ${i} ${randomBytes(6).toString("hex")} 🐳`]));
    let source: Database;
    let dump: DumpFile;

    beforeAll(async () => {
      source = await newDatabase(addon);
      await startDatabase(source);
      await writePairs(client, source.url, pairs);
      await data.seed(source);
    });

    it("round trip: what the app wrote comes back in a new database with the same credentials (a restore)", async () => {
      dump = await dumpToFile(source);
      expect(dump.size).toBeGreaterThan(0);
      expect((await stat(dump.path)).size).toBe(dump.size);
      expect(await sha256Of(dump.path)).toBe(dump.sha256);
      expect(DUMP_MAGIC[id]!(await headOf(dump.path, 512))).toBe(true);
      // No secret on the command lines (which Docker shows): on stdin, or in the container's files.
      const { restore } = addon.backup!;
      const commands = [addon.backup!.dump(source.credentials), ...(restore.kind === "load" ? [restore.load(source.credentials)] : [])];
      const secrets = Object.entries(source.credentials).filter(([name]) => /password/i.test(name)).map(([, value]) => value);
      expect(secrets.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(JSON.stringify(commands.map((command) => command.command))).not.toContain(secret);

      const target = await newDatabase(addon, source.credentials);
      await restoreInto(target, dump);
      expect(Object.fromEntries(await readPairs(client, target.url, pairs.keys()))).toEqual(Object.fromEntries(pairs));
      await data.check(target);
      if (id === "redis") {
        await runtime.removeContainer(target.name);
        await startDatabase(target);
        expect(await withRedis(target.url, (redis) => redis.get("after-restore"))).toBe("kept");
        expect(await withRedis(target.url, (redis) => redis.lrange("list", 0, -1))).toEqual(["x", "y", "z"]);
      }
    });

    it("into a database with its own names and passwords (a fork): the data, owned by the new app user", async () => {
      // MariaDB keeps the dumped user's name: views, triggers, routines and events name their
      // definer, which only an administrator could change (see the report of this work).
      const fresh = addon.generateCredentials();
      const credentials = id === "mysql" ? { ...fresh, user: source.credentials.user! } : fresh;
      const target = await newDatabase(addon, credentials);
      await restoreInto(target, dump);
      expect(Object.fromEntries(await readPairs(client, target.url, pairs.keys()))).toEqual(Object.fromEntries(pairs));
      await data.check(target);
      // The source's URL does not open the fork.
      await expect(client.connect(addon.connectionConfig({ ...target.endpoint, credentials: source.credentials }, target.plan)[addon.urlConfigVar]!)).rejects.toThrow();
    });

    it("a dump taken while the app writes completes, loads, and holds exactly the writes before some moment", async () => {
      // Enough data that the dump outlasts the pipes' buffers, read slower than it is made.
      const bulk = new Map(Array.from({ length: 150 }, (_, i) => [`bulk-${i}`, randomBytes(24 * 1024).toString("base64")]));
      await writePairs(client, source.url, bulk);
      let written = 0;
      let stop = false;
      const writer = (async () => {
        const session = await client.connect(source.url);
        try {
          while (!stop) {
            await session.write(`w-${written + 1}`, `v${written + 1}`);
            written++;
          }
        } finally {
          await session.close();
        }
      })();
      let atStart: number;
      let atFirstChunk = 0;
      let concurrent: DumpFile | undefined;
      try {
        await waitUntil("the writer writing", async () => written >= 20, { timeoutMs: 60_000, intervalMs: 20 });
        atStart = written;
        concurrent = await dumpToFile(source, {
          beforeFirstChunk: async () => {
            atFirstChunk = written;
            await waitUntil("writes while the dump is read", async () => written >= atFirstChunk + 30, { timeoutMs: 60_000, intervalMs: 20 });
          },
        });
      } finally {
        stop = true;
        await writer;
      }
      expect(written).toBeGreaterThanOrEqual(atFirstChunk + 30);

      const target = await newDatabase(addon, addon.generateCredentials());
      await restoreInto(target, concurrent);
      const keys = Array.from({ length: written }, (_, i) => `w-${i + 1}`);
      const back = await readPairs(client, target.url, keys);
      const present = keys.filter((key) => back.get(key) !== undefined);
      // A prefix of the writer's sequence: every write up to the snapshot's moment, none after.
      expect(present).toEqual(keys.slice(0, present.length));
      expect(present.length).toBeGreaterThanOrEqual(atStart);
      for (const key of present) expect(back.get(key)).toBe(`v${key.slice(2)}`);
      const bulkBack = await readPairs(client, target.url, bulk.keys());
      expect([...bulkBack].filter(([key, value]) => value !== bulk.get(key)).map(([key]) => key)).toEqual([]);
    });

    it("a failing dump errors its stream with the engine's words, and a load of garbage fails; neither hangs", async () => {
      const failing = FAILING_DUMP[id]!;
      const stream = await runtime.execStream(source.name, addon.backup!.dump(failing.credentials(source.credentials)), AbortSignal.timeout(STEP_TIMEOUT_MS));
      let failure: unknown;
      try {
        for await (const _chunk of stream);
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(ExecFailedError);
      expect((failure as ExecFailedError).exitCode).not.toBe(0);
      expect((failure as Error).message).toMatch(failing.says);

      const garbage = { path: join(scratch, `garbage-${id}`), size: 256 * 1024, sha256: "" };
      await pipeline(async function* () {
        yield randomBytes(garbage.size);
      }, createWriteStream(garbage.path));
      const target = await newDatabase(addon);
      const { restore } = addon.backup!;
      if (restore.kind === "load") {
        await startDatabase(target);
        const loading = runtime.execWithInput(target.name, restore.load(target.credentials), createReadStream(garbage.path), AbortSignal.timeout(STEP_TIMEOUT_MS));
        await expect(loading).rejects.toBeInstanceOf(ExecFailedError);
        // The database still serves.
        await addon.probe(target.endpoint, AbortSignal.timeout(10_000));
      } else {
        // The engine refuses to start on it (rather than serving an empty database).
        await runtime.writeVolumeFile({ volumeName: target.volumeName, labels: target.labels, spec: target.spec, path: restore.path, size: garbage.size }, createReadStream(garbage.path), AbortSignal.timeout(STEP_TIMEOUT_MS));
        await runtime.ensureContainerRunning({ name: target.name, volumeName: target.volumeName, spec: target.spec, labels: target.labels, port: target.port });
        await waitUntil(
          "the engine to stop on the bad file",
          async () => {
            const state = await runtime.inspectContainer(target.name);
            return state !== undefined && state.finishedAt !== undefined && state.exitCode !== 0;
          },
          { timeoutMs: 60_000 },
        );
        const logs = await run("docker", ["logs", target.name]);
        expect(`${logs.stdout}${logs.stderr}`).toMatch(/Bad file format reading the append only file/);
      }
    });
  });
});

import { expectRefusal, type EngineTestClient } from "@berth/addon-sdk/testing";

/** What an app gets from the delivered URL `http://user:password@host:port/database`. */
interface Target {
  base: string;
  database: string;
  authorization: string | undefined;
}

function target(url: string, change: { user?: string; password?: string } = {}): Target {
  const parsed = new URL(url);
  const user = change.user ?? decodeURIComponent(parsed.username);
  const password = change.password ?? decodeURIComponent(parsed.password);
  return {
    base: `${parsed.protocol}//${parsed.host}`,
    database: decodeURIComponent(parsed.pathname.slice(1)),
    authorization: user ? `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` : undefined,
  };
}

class InfluxError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`${status} ${message}`);
  }
}

async function call(to: Target, path: string, body: string | URLSearchParams, params: Record<string, string> = {}): Promise<unknown> {
  const query = new URLSearchParams({ db: to.database, ...params });
  const response = await fetch(`${to.base}${path}?${query.toString()}`, {
    method: "POST",
    headers: to.authorization ? { authorization: to.authorization } : {},
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  const parsed = (text ? JSON.parse(text) : undefined) as { error?: string; results?: { error?: string }[] } | undefined;
  const error = parsed?.error ?? parsed?.results?.find((result) => result.error)?.error;
  if (!response.ok || error) throw new InfluxError(response.status, error ?? text);
  return parsed;
}

type QueryResult = { results: { series?: { values: unknown[][] }[] }[] };

const influxql = (to: Target, q: string) => call(to, "/query", new URLSearchParams({ q })) as Promise<QueryResult>;

/** A tag value or key of the line protocol: commas, equals signs and spaces escaped. */
const tag = (value: string) => value.replace(/([,= \\])/g, "\\$1");
/** A string field value of the line protocol. */
const field = (value: string) => `"${value.replace(/(["\\])/g, "\\$1")}"`;
/** A single-quoted InfluxQL string literal. */
const literal = (value: string) => `'${value.replace(/(['\\])/g, "\\$1")}'`;

export const influxdbTestClient: EngineTestClient = {
  async connect(url) {
    const to = target(url);
    await influxql(to, "SHOW MEASUREMENTS LIMIT 1"); // rejects if the engine refuses the URL
    return {
      write: async (key, value) => {
        await call(to, "/write", `contract,key=${tag(key)} value=${field(value)}`, { precision: "ms" });
      },
      read: async (key) => {
        const { results } = await influxql(to, `SELECT last("value") FROM "contract" WHERE "key" = ${literal(key)}`);
        return results[0]?.series?.[0]?.values[0]?.[1] as string | undefined;
      },
      // As an app sees its plan's guard: a query of more buckets than the plan allows is refused
      // with the limit (InfluxDB has no SHOW for its settings but SHOW DIAGNOSTICS, for admins).
      setting: async (name) => {
        if (name !== "max_select_buckets") throw new Error(`no way to read the setting ${name} as the app`);
        try {
          await influxql(to, `SELECT count("value") FROM "contract" WHERE time >= 0 AND time <= now() GROUP BY time(1s)`);
        } catch (error) {
          const limit = /max-select-buckets limit exceeded: \(\d+\/(\d+)\)/.exec((error as Error).message)?.[1];
          if (limit) return limit;
          throw error;
        }
        throw new Error("a query of every second since 1970 was not refused: no max-select-buckets");
      },
      close: async () => undefined,
    };
  },
  expectedSettings: (plan) => ({ max_select_buckets: String(plan.settings.max_select_buckets) }),
  attacks: {
    "CREATE USER an administrator": (url) => refused(url, "CREATE USER intruder WITH PASSWORD 'intruder-password-0123' WITH ALL PRIVILEGES"),
    "GRANT ALL PRIVILEGES to itself (become an administrator)": (url) => refused(url, `GRANT ALL PRIVILEGES TO "${decodeURIComponent(new URL(url).username)}"`),
    "SET PASSWORD of Berth's administrator": (url) => refused(url, "SET PASSWORD FOR berth = 'intruder-password-0123'"),
    "DROP USER Berth's administrator": (url) => refused(url, "DROP USER berth"),
    "SHOW USERS": (url) => refused(url, "SHOW USERS"),
    "CREATE DATABASE": (url) => refused(url, "CREATE DATABASE intruder"),
    "DROP DATABASE of another (_internal)": (url) => refused(url, "DROP DATABASE _internal"),
    "read the _internal monitoring database": (url) => refused(url, "SELECT * FROM _internal..runtime LIMIT 1"),
    "SHOW DIAGNOSTICS (the server's configuration)": (url) => refused(url, "SHOW DIAGNOSTICS"),
    "SHOW STATS": (url) => refused(url, "SHOW STATS"),
    "CREATE SUBSCRIPTION (copies every write to another server)": (url) =>
      refused(url, `CREATE SUBSCRIPTION intruder ON "${target(url).database}"."autogen" DESTINATIONS ALL 'http://127.0.0.1:6390'`),
    "CREATE RETENTION POLICY (deletes data, changes the plan's shards)": (url) =>
      refused(url, `CREATE RETENTION POLICY intruder ON "${target(url).database}" DURATION 1h REPLICATION 1 DEFAULT`),
    "KILL QUERY (of Berth's sessions)": (url) => refused(url, "KILL QUERY 1"),
    "log in as Berth's administrator with no password": (url) => unauthenticated(target(url, { user: "berth", password: "" })),
    "a query without credentials": (url) => unauthenticated({ ...target(url), authorization: undefined }),
  },
};

/** Runs InfluxQL as the customer; resolves with the engine's refusal (403: not authorized). */
function refused(url: string, q: string): Promise<string> {
  return expectRefusal(
    () => influxql(target(url), q),
    (error) => error instanceof InfluxError && error.status === 403 && /not authorized to execute statement/.test(error.message),
  );
}

function unauthenticated(to: Target): Promise<string> {
  return expectRefusal(
    () => influxql(to, "SHOW DATABASES"),
    (error) => error instanceof InfluxError && error.status === 401 && /authorization failed|unable to parse authentication credentials/.test(error.message),
  );
}

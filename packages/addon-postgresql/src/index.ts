import { containerLimits, defineAddon, generateIdentifier, generatePassword, type Endpoint } from "@berth/addon-sdk";
import pg from "pg";
import { postgresqlPlans } from "./plans.js";
import { scramSha256Verifier } from "./scram.js";

export interface PostgresqlCredentials extends Record<string, string> {
  user: string;
  password: string;
  database: string;
}

const DATA_PATH = "/var/lib/postgresql/data";

export function postgresqlUrl({ host, port, credentials }: Endpoint<PostgresqlCredentials>): string {
  const user = encodeURIComponent(credentials.user);
  const password = encodeURIComponent(credentials.password);
  return `postgres://${user}:${password}@${host}:${port}/${encodeURIComponent(credentials.database)}`;
}

export const postgresqlAddon = defineAddon<PostgresqlCredentials>({
  id: "postgresql",
  name: "PostgreSQL",
  shortDescription: "Managed PostgreSQL 15 databases, each in its own container.",
  description:
    "A dedicated PostgreSQL 15 server per addon with its own volume, memory and CPU limits, " +
    "a generated user and a strong password. Plans change without losing data.",
  configVars: ["SCALINGO_POSTGRESQL_URL"],
  defaultImage: "postgres:15",
  plans: postgresqlPlans,
  readyTimeoutMs: 60_000,

  generateCredentials: () => ({
    user: generateIdentifier("u_"),
    password: generatePassword(),
    database: generateIdentifier("db_"),
  }),

  // Honours the official image's contract (POSTGRES_USER/PASSWORD/DB, PGDATA,
  // a `postgres` command with -c settings), so the same spec runs `postgres:15`
  // or Berth's locally built image.
  containerSpec: ({ plan, credentials, image, port, bindAddress }) => ({
    image,
    command: [
      "postgres",
      "-c", `port=${port}`,
      "-c", `listen_addresses=${bindAddress}`,
      "-c", `max_connections=${plan.settings.max_connections}`,
      "-c", `shared_buffers=${plan.settings.shared_buffers_mb}MB`,
    ],
    env: {
      POSTGRES_USER: credentials.user,
      POSTGRES_PASSWORD: credentials.password,
      POSTGRES_DB: credentials.database,
      PGDATA: DATA_PATH,
    },
    dataPath: DATA_PATH,
    socketPath: `${DATA_PATH}/.s.PGSQL.5432`,
    ...containerLimits(plan),
    // PostgreSQL's parallel workers use /dev/shm; keep it in step with memory.
    shmSizeBytes: Math.max(64, plan.limits.memoryMb / 4) * 1024 * 1024,
    stopTimeoutSeconds: 30,
  }),

  connectionConfig: (endpoint) => ({ SCALINGO_POSTGRESQL_URL: postgresqlUrl(endpoint) }),

  probe: (endpoint, signal) => withSession(endpoint, signal, async (client) => void (await client.query("SELECT 1"))),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (client) => {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return rows[0]!.n;
    }),

  // The password lives in the cluster's catalog, so it survives container restarts and replacements.
  rotatePassword: (endpoint, password, signal) =>
    withSession(endpoint, signal, async (client) => {
      const verifier = client.escapeLiteral(scramSha256Verifier(password));
      await client.query(`ALTER ROLE ${client.escapeIdentifier(endpoint.credentials.user)} PASSWORD ${verifier}`);
    }),
});

/** One short authenticated session; an abort ends it. */
async function withSession<T>(endpoint: Endpoint<PostgresqlCredentials>, signal: AbortSignal, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresqlUrl(endpoint), connectionTimeoutMillis: 2_000 });
  // A server stopping while the session is idle (a database being removed) emits an error
  // event; unheard, it would crash the process. A call in flight rejects with it anyway.
  client.on("error", () => undefined);
  const abort = () => void client.end().catch(() => undefined);
  signal.addEventListener("abort", abort, { once: true });
  try {
    await client.connect();
    return await use(client);
  } finally {
    signal.removeEventListener("abort", abort);
    await client.end().catch(() => undefined);
  }
}

import { fileURLToPath } from "node:url";
import { containerLimits, defineAddon, generateIdentifier, generatePassword, withEngineSession, type AdminCommand, type Endpoint } from "@berth/addon-sdk";
import pg from "pg";
import { postgresqlPlans } from "./plans.js";
import { scramSha256Verifier } from "./scram.js";

export interface PostgresqlCredentials extends Record<string, string> {
  user: string;
  password: string;
  database: string;
  /** The cluster's superuser `postgres`: Berth's own, reachable only from inside the container. */
  adminPassword: string;
}

const DATA_PATH = "/var/lib/postgresql/data";
/** Where the official image (and Berth's) expects its sockets; the entrypoint's own sessions use it. */
const RUN_PATH = "/var/run/postgresql";
const BERTH_FILES = "/run/berth";
/** The official images run PostgreSQL as uid/gid 999. */
const POSTGRES_UID = 999;

/**
 * Who may connect, and how. Every client session arrives through Berth's gateway on the Unix
 * socket, so TCP is off and `local` lines decide: the app's user with its password; the
 * administrator `postgres` only by `peer` (an OS process of the postgres user inside the container:
 * Berth's `docker exec`, or the image's entrypoint), never through the gateway, whose socket peer
 * is another OS user.
 */
const PG_HBA = `# Written by Berth: see @berth/addon-postgresql.
local all postgres peer
local all all scram-sha-256
host all all all reject
`;

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
  urlConfigVar: "SCALINGO_POSTGRESQL_URL",
  defaultImage: "postgres:15",
  localImage: {
    tag: "berth-local/postgresql:15",
    recipe: fileURLToPath(new URL("../image/recipe.sh", import.meta.url)),
    from: "the host's PostgreSQL 15",
  },
  testClient: () => import("./testing.js").then((module) => module.postgresqlTestClient),
  plans: postgresqlPlans,
  readyTimeoutMs: 60_000,

  generateCredentials: () => ({
    user: generateIdentifier("u_"),
    password: generatePassword(),
    database: generateIdentifier("db_"),
    adminPassword: generatePassword(),
  }),

  // Honours the official image's contract (POSTGRES_USER/PASSWORD_FILE/DB, PGDATA, a `postgres`
  // command with -c settings), so the same spec runs `postgres:15` or Berth's locally built image.
  // The cluster is made for the superuser `postgres`; `bootstrap` then adds the app's own user.
  containerSpec: ({ plan, credentials, image }) => ({
    image,
    command: [
      "postgres",
      "-c", "listen_addresses=",
      "-c", `unix_socket_directories=${RUN_PATH},${DATA_PATH}`,
      "-c", `hba_file=${BERTH_FILES}/pg_hba.conf`,
      "-c", `max_connections=${plan.settings.max_connections}`,
      "-c", `shared_buffers=${plan.settings.shared_buffers_mb}MB`,
    ],
    env: {
      POSTGRES_USER: "postgres",
      POSTGRES_DB: "postgres",
      POSTGRES_PASSWORD_FILE: `${BERTH_FILES}/postgres-password`,
      PGDATA: DATA_PATH,
    },
    files: [
      { path: `${BERTH_FILES}/postgres-password`, content: credentials.adminPassword },
      { path: `${BERTH_FILES}/pg_hba.conf`, content: PG_HBA },
    ],
    fileOwner: { uid: POSTGRES_UID, gid: POSTGRES_UID },
    dataPath: DATA_PATH,
    socketPath: `${DATA_PATH}/.s.PGSQL.5432`,
    ...containerLimits(plan),
    // PostgreSQL's parallel workers use /dev/shm; keep it in step with memory.
    shmSizeBytes: Math.max(64, plan.limits.memoryMb / 4) * 1024 * 1024,
    stopTimeoutSeconds: 30,
  }),

  // The app's user: owner of its database and of its public schema, nothing more (no superuser,
  // no role or database creation, no replication, no RLS bypass; only trusted extensions, which
  // PostgreSQL lets a database owner create). Other databases are closed to it.
  bootstrap: ({ user, password, database }) =>
    asAdministrator(`SELECT format('CREATE ROLE %I', ${literal(user)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(user)}) \\gexec
ALTER ROLE ${ident(user)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD ${literal(scramSha256Verifier(password))};
SELECT format('CREATE DATABASE %I OWNER %I', ${literal(database)}, ${literal(user)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(database)}) \\gexec
REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC;
REVOKE ALL ON DATABASE ${ident(database)} FROM PUBLIC;
\\connect ${ident(database)}
ALTER SCHEMA public OWNER TO ${ident(user)};
REVOKE ALL ON SCHEMA public FROM PUBLIC;
`),

  connectionConfig: (endpoint) => ({ SCALINGO_POSTGRESQL_URL: postgresqlUrl(endpoint) }),

  probe: (endpoint, signal) => withSession(endpoint, signal, async (client) => void (await client.query("SELECT 1"))),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (client) => {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return rows[0]!.n;
    }),

  // A SCRAM verifier computed here: the plain password never reaches the server (nor its logs).
  // It lives in the cluster's catalog, so it survives container restarts and replacements.
  rotatePassword: ({ user }, password) =>
    asAdministrator(`ALTER ROLE ${ident(user)} PASSWORD ${literal(scramSha256Verifier(password))};\n`),

  backup: {
    format: "pgdump",
    // pg_dump's custom format (compressed, what pg_restore reads) of the app's database, by the
    // superuser over the container's socket. pg_dump reads it all in one repeatable-read
    // transaction: a consistent copy while the app goes on writing.
    dump: ({ database }) => ({
      command: ["pg_dump", ...ADMIN_CONNECTION, "--format=custom", `--dbname=${database}`],
      user: "postgres",
    }),
    restore: {
      kind: "load",
      // Every object is made by the app's role (SET ROLE), so it owns them all and can alter or
      // drop them, whatever role owned them in the dumped database (--no-owner); privileges are
      // not replayed (--no-acl: they name the dumped database's roles, and the app's role is the
      // only one that connects). One transaction: a load that fails leaves nothing half done.
      load: ({ user, database }) => ({
        command: ["pg_restore", ...ADMIN_CONNECTION, `--dbname=${database}`, "--no-owner", "--no-acl", `--role=${user}`, "--single-transaction", "--exit-on-error"],
        user: "postgres",
      }),
    },
  },
});

/** The superuser over the container's own socket (peer authentication), never asked for a password. */
const ADMIN_CONNECTION = ["--host", RUN_PATH, "--port", "5432", "--username", "postgres", "--no-password"] as const;

/** SQL run by the superuser over the container's own socket (peer authentication); statements on stdin. */
function asAdministrator(sql: string): AdminCommand {
  return {
    command: ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", RUN_PATH, "-p", "5432", "-U", "postgres", "-d", "postgres"],
    stdin: sql,
    user: "postgres",
  };
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A standard-conforming string literal (no backslash escapes). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** One short authenticated session; an abort ends it. */
function withSession<T>(endpoint: Endpoint<PostgresqlCredentials>, signal: AbortSignal, use: (client: pg.Client) => Promise<T>): Promise<T> {
  return withEngineSession(
    signal,
    {
      open: () => new pg.Client({ connectionString: postgresqlUrl(endpoint), connectionTimeoutMillis: 2_000 }),
      connect: (client) => client.connect(),
      close: (client) => client.end(),
    },
    use,
  );
}

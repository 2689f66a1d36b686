import { fileURLToPath } from "node:url";
import {
  containerLimits,
  defineAddon,
  generateIdentifier,
  generatePassword,
  withEngineSession,
  type AdminCommand,
  type DatabaseUser,
  type Endpoint,
} from "@berth/addon-sdk";
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
 * The continuous archive (point-in-time recovery), relative to the data directory (the volume's
 * root). Inside `pg_wal`, so that base backups leave them out: pg_basebackup sends none of
 * `pg_wal`'s contents. `archive_command` writes each closed segment under a temporary name, then
 * renames it, so the worker never ships half a file; a segment archived again (a crash before
 * PostgreSQL recorded it done) is the same bytes, and overwrites itself. A copy, not a hard link:
 * PostgreSQL recycles a segment by renaming it and writing over it (turning that off with
 * `wal_recycle=off` would make a full disk hit the WAL, a PANIC, before the data files); the copy
 * costs the disk a segment's size until the worker ships it, seconds later.
 */
const ARCHIVE_SPOOL = "pg_wal/berth-archive";
const RESTORE_SPOOL = "pg_wal/berth-restore";
const ARCHIVE_COMMAND = `mkdir -p ${ARCHIVE_SPOOL} && cp %p ${ARCHIVE_SPOOL}/%f.berth-tmp && mv ${ARCHIVE_SPOOL}/%f.berth-tmp ${ARCHIVE_SPOOL}/%f`;
/** A segment is closed and archived at the latest this long after a change (the recovery point's bound). */
const ARCHIVE_TIMEOUT_SECONDS = 60;

/**
 * Who may connect, and how. Every client session arrives through Berth's gateway on the Unix
 * socket, so TCP is off and `local` lines decide: the app's user with its password; the
 * administrator `postgres` only by `peer` (an OS process of the postgres user inside the container:
 * Berth's `docker exec`, or the image's entrypoint), never through the gateway, whose socket peer
 * is another OS user.
 */
const PG_HBA = `# Written by Berth: see @berth/addon-postgresql.
local all postgres peer
local replication postgres peer
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
      // WAL kept for reuse in step with the plan's disk (the defaults, 80 MB kept and 1 GB between
      // checkpoints, would take most of a small plan's disk).
      "-c", "min_wal_size=32MB",
      "-c", `max_wal_size=${Math.max(64, Math.floor(plan.limits.diskMb / 4))}MB`,
      "-c", "archive_mode=on",
      "-c", `archive_timeout=${ARCHIVE_TIMEOUT_SECONDS}`,
      "-c", `archive_command=${ARCHIVE_COMMAND}`,
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
  // PostgreSQL lets a database owner create). Other databases are closed to it. After a rotation
  // the app may log in as the owner's twin (see `loginAs`); the other login of the pair keeps no
  // password (a recovered catalog may hold an old one).
  bootstrap: (credentials) => {
    const { user, database } = credentials;
    const owner = ownerRole(user);
    return asAdministrator(`${ensureRole(owner)}
ALTER ROLE ${ident(owner)} WITH ${APP_ROLE_ATTRIBUTES};
SELECT format('CREATE DATABASE %I OWNER %I', ${literal(database)}, ${literal(owner)}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${literal(database)}) \\gexec
REVOKE ALL ON DATABASE postgres, template1 FROM PUBLIC;
REVOKE ALL ON DATABASE ${ident(database)} FROM PUBLIC;
${loginAs(credentials)}
${withoutPassword(otherLogin(user))}
\\connect ${ident(database)}
ALTER SCHEMA public OWNER TO ${ident(owner)};
REVOKE ALL ON SCHEMA public FROM PUBLIC;
`);
  },

  connectionConfig: (endpoint) => ({ SCALINGO_POSTGRESQL_URL: postgresqlUrl(endpoint) }),

  probe: (endpoint, signal) => withSession(endpoint, signal, async (client) => void (await client.query("SELECT 1"))),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (client) => {
      const { rows } = await client.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      return rows[0]!.n;
    }),

  // PostgreSQL keeps one password per role, so a rotation alternates the app's login between the
  // database's owner and the owner's twin (see `loginAs`): both work until the previous one is
  // retired. Passwords are SCRAM verifiers computed here (the plain password never reaches the
  // server nor its logs), kept in the cluster's catalog across restarts and replacements.
  rotation: {
    next: (current) => ({ ...current, user: otherLogin(current.user), password: generatePassword() }),
    admit: (_current, next) => asAdministrator(`${loginAs(next)}\n`),
    retire: (_current, previous) =>
      asAdministrator(`${withoutPassword(previous.user)}
SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ${literal(previous.user)};
`),
  },

  // Read-write users are members of the owner whose sessions act as it (as the twin does): what
  // they create is the app's. Read-only users get PostgreSQL's pg_read_all_data and CONNECT.
  // Any other login but Berth's and the app's is removed, its objects given to the owner.
  users: {
    reservedNames: ["postgres"],
    appUserName: ({ user }) => user,
    apply: ({ user, database }, users) => {
      const owner = ownerRole(user);
      const kept = ["postgres", owner, twinRole(user), ...users.map((each) => each.name)];
      return asAdministrator(`${users.map((each) => userSql(each, owner, database)).join("\n")}
\\connect ${ident(database)}
SELECT format('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %1$L; REASSIGN OWNED BY %1$I TO %2$I; DROP OWNED BY %1$I; DROP ROLE %1$I', rolname, ${literal(owner)})
FROM pg_roles WHERE rolcanlogin AND rolname NOT IN (${kept.map(literal).join(", ")}) \\gexec
`);
    },
  },

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
        command: ["pg_restore", ...ADMIN_CONNECTION, `--dbname=${database}`, "--no-owner", "--no-acl", `--role=${ownerRole(user)}`, "--single-transaction", "--exit-on-error"],
        user: "postgres",
      }),
    },
    archive: {
      spoolDir: `${DATA_PATH}/${ARCHIVE_SPOOL}`,
      user: "postgres",
      // pg_stat_file's time is in whole seconds: one more makes it a bound no change in the file is after.
      listSpool: () =>
        adminQuery(`SELECT name, (extract(epoch FROM f.modification)::bigint + 1) * 1000, f.size
FROM pg_ls_dir('${ARCHIVE_SPOOL}', true, false) AS name, pg_stat_file('${ARCHIVE_SPOOL}/' || name) AS f
WHERE name NOT LIKE '%.berth-tmp' ORDER BY name`),
      // A restore point is a record with a time: a recovery to any earlier moment stops on it.
      // pg_switch_wal is volatile: PostgreSQL evaluates it although the outer query leaves it out.
      closeLog: () => adminQuery("SELECT closed FROM (SELECT pg_walfile_name(pg_create_restore_point('berth')) AS closed, pg_switch_wal() AS switched) AS close"),
      // -X none: the WAL the copy needs is archived (pg_basebackup waits for it) rather than put in the tar.
      baseBackup: () => ({
        command: ["pg_basebackup", ...ADMIN_CONNECTION, "--pgdata=-", "--format=tar", "--wal-method=none", "--checkpoint=fast", "--no-manifest"],
        user: "postgres",
      }),
      currentLog: () => adminQuery("SELECT pg_walfile_name(pg_current_wal_lsn())"),
      // Segments (and backup history files) are named timeline, then position: from the copy's
      // start on any timeline (a recovery follows the latest one through the histories).
      needsLog: (name, walStart) => {
        if (/^[0-9A-F]{8}\.history$/.test(name)) return "always";
        if (/^[0-9A-F]{24}(\.[0-9A-F]{8}\.backup)?$/.test(name) && name.slice(8, 24) >= walStart.slice(8, 24)) return "until-target";
        return "never";
      },
      restorePath: RESTORE_SPOOL,
      recoverySpec: (spec, target) => ({
        ...spec,
        command: [
          ...spec.command,
          "-c", `restore_command=cp ${RESTORE_SPOOL}/%f %p`,
          "-c", "recovery_target_timeline=latest",
          "-c", "recovery_target_action=promote",
          // No sessions while replaying: hot standby would need the copied database's settings at
          // least (max_connections…), and a fork may be on a smaller plan.
          "-c", "hot_standby=off",
          // PostgreSQL's own timestamp syntax (it refuses ISO 8601's "T" and "Z" here).
          ...(target ? ["-c", `recovery_target_time=${target.toISOString().replace("T", " ").replace("Z", "+00")}`] : []),
        ],
      }),
      recoveryFiles: [{ path: "recovery.signal", content: "" }],
      recovered: () => adminQuery("DO $$ BEGIN IF pg_is_in_recovery() THEN RAISE EXCEPTION 'still recovering'; END IF; END $$"),
      // The copy's database, owner and owner's twin take the new names (no session is open during a
      // recovery): a Berth cluster has one app database, and its customer can make no other database
      // or role (NOCREATEDB, NOCREATEROLE). bootstrap then gives the app's login its password, and
      // `users.apply` makes the other users the new database's (a fork has none of its source's).
      adopt: ({ user, database }) =>
        asAdministrator(`SELECT format('ALTER DATABASE %I RENAME TO %I', datname, ${literal(database)}) FROM pg_database
WHERE datname NOT IN ('postgres', 'template0', 'template1', ${literal(database)}) \\gexec
SELECT format('ALTER ROLE %I RENAME TO %I', r.rolname || ${literal(TWIN_SUFFIX)}, ${literal(twinRole(user))}) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
WHERE d.datname = ${literal(database)} AND r.rolname <> ${literal(ownerRole(user))} AND EXISTS (SELECT FROM pg_roles WHERE rolname = r.rolname || ${literal(TWIN_SUFFIX)}) \\gexec
SELECT format('ALTER ROLE %I RENAME TO %I', r.rolname, ${literal(ownerRole(user))}) FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba
WHERE d.datname = ${literal(database)} AND r.rolname <> ${literal(ownerRole(user))} \\gexec
`),
    },
  },
});

/** What the app's logins may do: log in, and nothing an administrator does. */
const APP_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT";
/** The owner's twin is the owner's name and this (generated names are lowercase letters and digits). */
const TWIN_SUFFIX = "_b";

/** The role that owns the app's database: the app's login, or the role its twin acts as. */
export function ownerRole(user: string): string {
  return user.endsWith(TWIN_SUFFIX) ? user.slice(0, -TWIN_SUFFIX.length) : user;
}

function twinRole(user: string): string {
  return ownerRole(user) + TWIN_SUFFIX;
}

/** The login of the pair that `user` is not. */
function otherLogin(user: string): string {
  return user === ownerRole(user) ? twinRole(user) : ownerRole(user);
}

function ensureRole(name: string): string {
  return `SELECT format('CREATE ROLE %I', ${literal(name)}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(name)}) \\gexec`;
}

/**
 * Makes `user` a login with `password`. The twin is a member of the owner whose sessions act as
 * it (`SET role`, applied at each login): what it creates is the owner's, and it may do nothing
 * the owner may not. Idempotent.
 */
function loginAs({ user, password }: PostgresqlCredentials): string {
  const owner = ownerRole(user);
  const twin = user === owner ? "" : `
GRANT ${ident(owner)} TO ${ident(user)};
ALTER ROLE ${ident(user)} SET role = ${literal(owner)};`;
  return `${ensureRole(user)}
ALTER ROLE ${ident(user)} WITH ${APP_ROLE_ATTRIBUTES} PASSWORD ${literal(scramSha256Verifier(password))};${twin}`;
}

/** One of the database's other users, as `users.apply` sets it. */
function userSql({ name, password, readOnly }: DatabaseUser, owner: string, database: string): string {
  const access = readOnly
    ? `REVOKE ${ident(owner)} FROM ${ident(name)};
ALTER ROLE ${ident(name)} RESET role;
GRANT pg_read_all_data TO ${ident(name)};
GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(name)};`
    : `REVOKE pg_read_all_data FROM ${ident(name)};
GRANT ${ident(owner)} TO ${ident(name)};
ALTER ROLE ${ident(name)} SET role = ${literal(owner)};`;
  return `${ensureRole(name)}
ALTER ROLE ${ident(name)} WITH ${APP_ROLE_ATTRIBUTES} PASSWORD ${literal(scramSha256Verifier(password))};
${access}`;
}

/** `user` (if it exists) opens no session by password. */
function withoutPassword(user: string): string {
  return `SELECT format('ALTER ROLE %I PASSWORD NULL', rolname) FROM pg_roles WHERE rolname = ${literal(user)} \\gexec`;
}

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

/** One query by the superuser over the container's socket, its rows on stdout as tab-separated fields. */
function adminQuery(sql: string): AdminCommand {
  return {
    command: ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", RUN_PATH, "-p", "5432", "-U", "postgres", "-d", "postgres", "-c", sql],
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

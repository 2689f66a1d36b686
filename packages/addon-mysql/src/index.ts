import { createHash } from "node:crypto";
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
import mysql from "mysql2/promise";
import { mysqlPlans } from "./plans.js";

export interface MysqlCredentials extends Record<string, string> {
  user: string;
  password: string;
  database: string;
  /** The server's `root`: Berth's own, reachable only from inside the container, never handed to the app. */
  rootPassword: string;
}

const DATA_PATH = "/var/lib/mysql";
const BERTH_FILES = "/run/berth";
/** The official images run the server as the mysql user, uid/gid 999. */
const MYSQL_UID = 999;

export function mysqlUrl({ host, port, credentials }: Endpoint<MysqlCredentials>): string {
  const user = encodeURIComponent(credentials.user);
  const password = encodeURIComponent(credentials.password);
  return `mysql://${user}:${password}@${host}:${port}/${encodeURIComponent(credentials.database)}`;
}

export const mysqlAddon = defineAddon<MysqlCredentials>({
  id: "mysql",
  name: "MySQL",
  shortDescription: "Managed MySQL-compatible databases (MariaDB), each in its own container.",
  description:
    "A dedicated MySQL-compatible server per addon (MariaDB) with its own volume, memory and CPU limits, " +
    "a generated user and a strong password. Plans change without losing data.",
  configVars: ["SCALINGO_MYSQL_URL"],
  urlConfigVar: "SCALINGO_MYSQL_URL",
  defaultImage: "mariadb:11",
  localImage: {
    tag: "berth-local/mariadb:10.11",
    recipe: fileURLToPath(new URL("../image/recipe.sh", import.meta.url)),
    from: "Debian's MariaDB",
  },
  testClient: () => import("./testing.js").then((module) => module.mysqlTestClient),
  plans: mysqlPlans,
  readyTimeoutMs: 90_000,

  generateCredentials: () => ({
    user: generateIdentifier("u_"),
    password: generatePassword(),
    database: generateIdentifier("db_"),
    rootPassword: generatePassword(),
  }),

  // The MARIADB_* variables (with their *_FILE forms) and a command made only of server options
  // are the contract of the official `mariadb` image (and Berth's local one). Clients arrive
  // through Berth's gateway on the socket (host `localhost` to the server); TCP listens only on the
  // container's own loopback, where `root` lives: `bootstrap` locks root@localhost, so the
  // administrator cannot be reached through the gateway at all.
  containerSpec: ({ plan, credentials, image }) => ({
    image,
    command: [
      "--port=3306",
      "--bind-address=127.0.0.1",
      `--socket=${DATA_PATH}/mysqld.sock`,
      `--max-connections=${plan.settings.max_connections}`,
      `--innodb-buffer-pool-size=${plan.settings.innodb_buffer_pool_mb}M`,
      "--skip-name-resolve",
      // The server reads no client-side files either (LOAD DATA LOCAL INFILE).
      "--local-infile=0",
    ],
    env: {
      MARIADB_USER: credentials.user,
      MARIADB_DATABASE: credentials.database,
      MARIADB_PASSWORD_FILE: `${BERTH_FILES}/password`,
      MARIADB_ROOT_PASSWORD_FILE: `${BERTH_FILES}/root-password`,
      MARIADB_ROOT_HOST: "127.0.0.1",
    },
    files: [
      { path: `${BERTH_FILES}/password`, content: credentials.password },
      { path: `${BERTH_FILES}/root-password`, content: credentials.rootPassword },
      { path: `${BERTH_FILES}/root.cnf`, content: `[client]\nuser=root\npassword=${optionValue(credentials.rootPassword)}\nhost=127.0.0.1\nport=3306\n` },
    ],
    fileOwner: { uid: MYSQL_UID, gid: MYSQL_UID },
    dataPath: DATA_PATH,
    socketPath: `${DATA_PATH}/mysqld.sock`,
    ...containerLimits(plan),
    stopTimeoutSeconds: 30,
  }),

  // The image grants the app's user ALL on its own database and nothing global (no FILE, SUPER,
  // PROCESS, grant option); root@localhost, the account the socket (and so the gateway) would
  // reach, is locked: Berth administers as root@127.0.0.1, inside the container.
  bootstrap: ({ user, database }) =>
    asRoot(`ALTER USER 'root'@'localhost' ACCOUNT LOCK;
DROP USER IF EXISTS ''@'localhost', ''@'%';
GRANT ALL ON ${ident(database)}.* TO ${literal(user)}@'%';
`),

  connectionConfig: (endpoint) => ({ SCALINGO_MYSQL_URL: mysqlUrl(endpoint) }),

  probe: (endpoint, signal) => withSession(endpoint, signal, async (connection) => void (await connection.query("SELECT 1"))),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (connection) => {
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
      const connected = Number(rows[0]?.Value);
      if (!Number.isInteger(connected)) throw new Error("SHOW GLOBAL STATUS did not report Threads_connected");
      return connected - 1; // minus this session
    }),

  // MariaDB takes several ways for one account to authenticate, tried in order: during a rotation
  // the app's user has both passwords, then only the new one. As root (MariaDB lets a user change
  // its own password only with CREATE USER), with hashes computed here: the plain password never
  // reaches the server nor its logs. Kept in the grant tables, so it survives container restarts
  // and replacements.
  rotation: {
    next: (current) => ({ ...current, password: generatePassword() }),
    admit: ({ user, password }, next) =>
      asRoot(`ALTER USER ${literal(user)}@'%' IDENTIFIED VIA mysql_native_password USING ${literal(nativePasswordHash(password))} OR mysql_native_password USING ${literal(nativePasswordHash(next.password))};\n`),
    retire: ({ user, password }) => asRoot(`ALTER USER ${literal(user)}@'%' IDENTIFIED BY PASSWORD ${literal(nativePasswordHash(password))};\n`),
  },

  // Accounts at any host, like the app's user: read-only ones get SELECT on the app's database,
  // read-write ones what the app's user has. Any other such account is removed (its sessions
  // ended); the server's own accounts (root, the image's healthcheck) are at other hosts.
  users: {
    reservedNames: ["healthcheck"],
    appUserName: ({ user }) => user,
    apply: ({ user, database }, users) =>
      asRoot(`${users.map((each) => userSql(each, database)).join("\n")}
DELIMITER //
BEGIN NOT ATOMIC
  FOR account IN (SELECT User AS name FROM mysql.user WHERE Host = '%' AND User NOT IN (${[user, ...users.map((each) => each.name)].map(literal).join(", ")})) DO
    EXECUTE IMMEDIATE CONCAT('KILL CONNECTION USER ', QUOTE(account.name));
    EXECUTE IMMEDIATE CONCAT('DROP USER ', QUOTE(account.name), '@''%''');
  END FOR;
END//
DELIMITER ;
`),
  },

  backup: {
    format: "sql",
    // The app's database as SQL, by root over the container's loopback: tables (InnoDB rows read
    // in one consistent-snapshot transaction while the app writes), routines, triggers, events;
    // binary columns in hex. Without CREATE DATABASE / USE, so it loads into any database name.
    dump: ({ database }) => ({
      command: ["mariadb-dump", ROOT_OPTIONS, "--single-transaction", "--routines", "--triggers", "--events", "--hex-blob", "--default-character-set=utf8mb4", "--", database],
    }),
    restore: {
      kind: "load",
      // As root: objects keep the definer they were dumped with (the app's user), which only an
      // administrator may set. The app's grants are in the mysql schema, which the dump leaves alone.
      load: ({ database }) => ({
        command: ["mariadb", ROOT_OPTIONS, "--batch", "--default-character-set=utf8mb4", "--max-allowed-packet=1G", "--", database],
      }),
    },
  },
});

/** root's option file (user, password, host 127.0.0.1): the first option of every administrative client. */
const ROOT_OPTIONS = `--defaults-extra-file=${BERTH_FILES}/root.cnf`;

/** SQL run as root over the container's own loopback (credentials from its option file); statements on stdin. */
function asRoot(sql: string): AdminCommand {
  return { command: ["mariadb", ROOT_OPTIONS, "--batch"], stdin: sql };
}

function ident(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/** One of the database's other users, as `users.apply` sets it: its password (as a hash), then exactly its grant. */
function userSql({ name, password, readOnly }: DatabaseUser, database: string): string {
  const account = `${literal(name)}@'%'`;
  const hash = literal(nativePasswordHash(password));
  return `CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY PASSWORD ${hash};
ALTER USER ${account} IDENTIFIED BY PASSWORD ${hash};
REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account};
GRANT ${readOnly ? "SELECT" : "ALL"} ON ${ident(database)}.* TO ${account};`;
}

/** What `mysql_native_password` stores: `*` and the hex of SHA-1(SHA-1(password)). */
function nativePasswordHash(password: string): string {
  const once = createHash("sha1").update(password).digest();
  return `*${createHash("sha1").update(once).digest("hex").toUpperCase()}`;
}

function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** A value of a MariaDB option file, quoted (the file format's own escapes). */
function optionValue(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** One short authenticated session; an abort ends it. */
function withSession<T>(endpoint: Endpoint<MysqlCredentials>, signal: AbortSignal, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  return withEngineSession(
    signal,
    {
      open: () => mysql.createConnection({ uri: mysqlUrl(endpoint), connectTimeout: 2_000 }),
      close: (connection) => connection.end(),
      abort: (connection) => connection.destroy(),
    },
    use,
  );
}

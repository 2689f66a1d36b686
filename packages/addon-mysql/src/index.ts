import { containerLimits, defineAddon, generateIdentifier, generatePassword, type Endpoint } from "@berth/addon-sdk";
import mysql from "mysql2/promise";
import { mysqlPlans } from "./plans.js";

export interface MysqlCredentials extends Record<string, string> {
  user: string;
  password: string;
  database: string;
  /** The server's root account; kept for operators, never handed to the app. */
  rootPassword: string;
}

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
  defaultImage: "mariadb:11",
  plans: mysqlPlans,
  readyTimeoutMs: 90_000,

  generateCredentials: () => ({
    user: generateIdentifier("u_"),
    password: generatePassword(),
    database: generateIdentifier("db_"),
    rootPassword: generatePassword(),
  }),

  // The MYSQL_* variables and a command made only of server options are the
  // contract shared by the official `mysql` and `mariadb` images (and Berth's local one).
  containerSpec: ({ plan, credentials, image, port, bindAddress }) => ({
    image,
    command: [
      `--port=${port}`,
      `--bind-address=${bindAddress}`,
      `--max-connections=${plan.settings.max_connections}`,
      `--innodb-buffer-pool-size=${plan.settings.innodb_buffer_pool_mb}M`,
      "--skip-name-resolve",
    ],
    env: {
      MYSQL_USER: credentials.user,
      MYSQL_PASSWORD: credentials.password,
      MYSQL_DATABASE: credentials.database,
      MYSQL_ROOT_PASSWORD: credentials.rootPassword,
    },
    dataPath: "/var/lib/mysql",
    socketPath: "/var/lib/mysql/mysqld.sock",
    ...containerLimits(plan),
    stopTimeoutSeconds: 30,
  }),

  connectionConfig: (endpoint) => ({ SCALINGO_MYSQL_URL: mysqlUrl(endpoint) }),

  probe: (endpoint, signal) => withSession(endpoint, signal, async (connection) => void (await connection.query("SELECT 1"))),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (connection) => {
      const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Threads_connected'");
      const connected = Number(rows[0]?.Value);
      if (!Number.isInteger(connected)) throw new Error("SHOW GLOBAL STATUS did not report Threads_connected");
      return connected - 1; // minus this session
    }),

  // As root (MariaDB lets a user change its own password only with CREATE USER, and the two
  // engines spell SET PASSWORD differently). Stored in the grant tables, so it survives container
  // restarts and replacements; the server masks passwords in its logs.
  rotatePassword: (endpoint, password, signal) => {
    const asRoot = { ...endpoint, credentials: { ...endpoint.credentials, user: "root", password: endpoint.credentials.rootPassword } };
    return withSession(asRoot, signal, async (connection) => {
      await connection.query("ALTER USER ?@'%' IDENTIFIED BY ?", [endpoint.credentials.user, password]);
    });
  },
});

/** One short authenticated session; an abort ends it. */
async function withSession<T>(
  endpoint: Endpoint<MysqlCredentials>,
  signal: AbortSignal,
  use: (connection: mysql.Connection) => Promise<T>,
): Promise<T> {
  const connection = await mysql.createConnection({ uri: mysqlUrl(endpoint), connectTimeout: 2_000 });
  // A server stopping while the session is idle emits an error event; unheard, it would crash
  // the process. A call in flight rejects with it anyway.
  connection.on("error", () => undefined);
  const abort = () => connection.destroy();
  signal.addEventListener("abort", abort, { once: true });
  try {
    return await use(connection);
  } finally {
    signal.removeEventListener("abort", abort);
    await connection.end().catch(() => undefined);
  }
}

import { expectRefusal, type EngineTestClient } from "@berth/addon-sdk/testing";
import pg from "pg";

/** PostgreSQL's SQLSTATE for a table that does not exist. */
const UNDEFINED_TABLE = "42P01";

export const postgresqlTestClient: EngineTestClient = {
  async connect(url) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client.on("error", () => undefined); // failures reach the caller through the queries
    await client.connect();
    // The table is made by the first write (a read-only user's session must open too, and its write fail on the write itself).
    return {
      write: async (key, value) => {
        const upsert = () => client.query("INSERT INTO contract_kv VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2", [key, value]);
        try {
          await upsert();
        } catch (error) {
          if ((error as { code?: string }).code !== UNDEFINED_TABLE) throw error;
          await client.query("CREATE TABLE IF NOT EXISTS contract_kv (key text PRIMARY KEY, value text NOT NULL)");
          await upsert();
        }
      },
      read: async (key) => {
        try {
          return (await client.query<{ value: string }>("SELECT value FROM contract_kv WHERE key = $1", [key])).rows[0]?.value;
        } catch (error) {
          if ((error as { code?: string }).code === UNDEFINED_TABLE) return undefined;
          throw error;
        }
      },
      setting: async (name) => (await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = $1", [name])).rows[0]!.setting,
      close: () => client.end(),
    };
  },
  expectedSettings: (plan) => ({ max_connections: String(plan.settings.max_connections) }),
  attacks: {
    "is a superuser": (url) =>
      asCustomer(url, async (client) => {
        const { rows } = await client.query<{ rolsuper: boolean; rolcreaterole: boolean; rolreplication: boolean; rolbypassrls: boolean }>(
          "SELECT rolsuper, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        );
        const role = rows[0]!;
        if (role.rolsuper || role.rolcreaterole || role.rolreplication || role.rolbypassrls) throw new Error(`allowed: ${JSON.stringify(role)}`);
        return "refused: NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS";
      }),
    "COPY ... FROM PROGRAM runs a command": (url) => refused(url, "CREATE TEMP TABLE out (line text); COPY out FROM PROGRAM 'id'"),
    "pg_read_file reads a server file": (url) => refused(url, "SELECT pg_read_file('/etc/passwd')"),
    "lo_export writes a server file": (url) => refused(url, "SELECT lo_export(lo_create(0), '/tmp/berth-attack')"),
    "CREATE EXTENSION dblink (sessions to other servers)": (url) => refused(url, "CREATE EXTENSION dblink"),
    "CREATE EXTENSION file_fdw (server files)": (url) => refused(url, "CREATE EXTENSION file_fdw"),
    "ALTER ROLE itself SUPERUSER": (url) => refused(url, "ALTER ROLE CURRENT_USER SUPERUSER"),
    "CREATE ROLE": (url) => refused(url, "CREATE ROLE intruder LOGIN PASSWORD 'intruder-password-0123456789'"),
    "connect to another database of the server": (url) => {
      const other = new URL(url);
      other.pathname = "/postgres";
      return refused(other.toString(), "SELECT 1");
    },
    "log in as the administrator postgres with no password": (url) => {
      const admin = new URL(url);
      admin.username = "postgres";
      admin.password = "";
      return refused(admin.toString(), "SELECT 1", ["28000", "28P01"]);
    },
  },
};

/** Runs SQL as the customer; resolves with the engine's refusal (insufficient privilege by default). */
function refused(url: string, sql: string, codes: readonly string[] = ["42501"]): Promise<string> {
  return expectRefusal(
    () => asCustomer(url, async (client) => (await client.query<Record<string, unknown>>(sql)).rows),
    (error) => codes.includes((error as { code?: string }).code ?? ""),
  );
}

async function asCustomer<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

import { expectRefusal, type EngineTestClient } from "@berth/addon-sdk/testing";
import mysql from "mysql2/promise";

export const mysqlTestClient: EngineTestClient = {
  async connect(url) {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
    connection.on("error", () => undefined); // failures reach the caller through the queries
    // The table is made by the first write (a read-only user's session must open too, and its write fail on the write itself).
    return {
      write: async (key, value) => {
        const replace = () => connection.execute("REPLACE INTO contract_kv (k, v) VALUES (?, ?)", [key, value]);
        try {
          await replace();
        } catch (error) {
          if ((error as { code?: string }).code !== "ER_NO_SUCH_TABLE") throw error;
          await connection.query("CREATE TABLE IF NOT EXISTS contract_kv (k VARCHAR(191) PRIMARY KEY, v TEXT NOT NULL)");
          await replace();
        }
      },
      read: async (key) => {
        try {
          const [rows] = await connection.execute<mysql.RowDataPacket[]>("SELECT v FROM contract_kv WHERE k = ?", [key]);
          return rows[0]?.v as string | undefined;
        } catch (error) {
          if ((error as { code?: string }).code === "ER_NO_SUCH_TABLE") return undefined;
          throw error;
        }
      },
      setting: async (name) => {
        const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW VARIABLES LIKE ?", [name]);
        return String(rows[0]?.Value);
      },
      close: () => connection.end(),
    };
  },
  expectedSettings: (plan) => ({ max_connections: String(plan.settings.max_connections) }),
  attacks: {
    "holds a global privilege": async (url) => {
      const grants = await asCustomer(url, async (connection) => (await connection.query<mysql.RowDataPacket[]>("SHOW GRANTS"))[0]);
      const global = grants.map((row) => String(Object.values(row)[0])).filter((grant) => / ON \*\.\* /.test(grant) && !/^GRANT USAGE ON/.test(grant));
      if (global.length > 0) throw new Error(`allowed: ${global.join("; ")}`);
      return "refused: only USAGE on *.*";
    },
    "SELECT ... INTO OUTFILE writes a server file (FILE)": (url) => refused(url, "SELECT 1 INTO OUTFILE '/tmp/berth-attack'"),
    "LOAD_FILE reads a server file": async (url) => {
      const [rows] = await asCustomer(url, (connection) => connection.query<mysql.RowDataPacket[]>("SELECT LOAD_FILE('/etc/passwd') AS f"));
      if (rows[0]?.f !== null) throw new Error("allowed: LOAD_FILE returned the file");
      return "refused: LOAD_FILE returns NULL without FILE";
    },
    "INSTALL SONAME loads a plugin": (url) => refused(url, "INSTALL SONAME 'ha_blackhole'"),
    "reads mysql.user": (url) => refused(url, "SELECT * FROM mysql.user"),
    "SET GLOBAL": (url) => refused(url, "SET GLOBAL max_connections = 1000"),
    "CREATE USER": (url) => refused(url, "CREATE USER 'intruder'@'%' IDENTIFIED BY 'intruder-password-0123456789'"),
    "log in as root with no password": (url) => {
      const root = new URL(url);
      root.username = "root";
      root.password = "";
      return refused(root.toString(), "SELECT 1");
    },
  },
};

/** ER_DBACCESS_DENIED, ER_ACCESS_DENIED, ER_TABLEACCESS_DENIED, ER_SPECIFIC_ACCESS_DENIED, ER_ACCOUNT_HAS_BEEN_LOCKED… */
const REFUSALS = new Set(["ER_DBACCESS_DENIED_ERROR", "ER_ACCESS_DENIED_ERROR", "ER_TABLEACCESS_DENIED_ERROR", "ER_SPECIFIC_ACCESS_DENIED_ERROR", "ER_ACCOUNT_HAS_BEEN_LOCKED"]);

function refused(url: string, sql: string): Promise<string> {
  return expectRefusal(
    () => asCustomer(url, async (connection) => (await connection.query(sql))[0]),
    (error) => REFUSALS.has((error as { code?: string }).code ?? ""),
  );
}

async function asCustomer<T>(url: string, use: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  const connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
  connection.on("error", () => undefined);
  try {
    return await use(connection);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

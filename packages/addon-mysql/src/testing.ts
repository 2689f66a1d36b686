import type { EngineTestClient } from "@berth/addon-sdk/testing";
import mysql from "mysql2/promise";

export const mysqlTestClient: EngineTestClient = {
  async connect(url) {
    const connection = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
    connection.on("error", () => undefined); // failures reach the caller through the queries
    await connection.query("CREATE TABLE IF NOT EXISTS contract_kv (k VARCHAR(191) PRIMARY KEY, v TEXT NOT NULL)");
    return {
      write: async (key, value) => {
        await connection.execute("REPLACE INTO contract_kv (k, v) VALUES (?, ?)", [key, value]);
      },
      read: async (key) => {
        const [rows] = await connection.execute<mysql.RowDataPacket[]>("SELECT v FROM contract_kv WHERE k = ?", [key]);
        return rows[0]?.v as string | undefined;
      },
      setting: async (name) => {
        const [rows] = await connection.query<mysql.RowDataPacket[]>("SHOW VARIABLES LIKE ?", [name]);
        return String(rows[0]?.Value);
      },
      close: () => connection.end(),
    };
  },
  expectedSettings: (plan) => ({ max_connections: String(plan.settings.max_connections) }),
};

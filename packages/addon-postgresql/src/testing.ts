import type { EngineTestClient } from "@berth/addon-sdk/testing";
import pg from "pg";

export const postgresqlTestClient: EngineTestClient = {
  async connect(url) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    client.on("error", () => undefined); // failures reach the caller through the queries
    await client.connect();
    await client.query("CREATE TABLE IF NOT EXISTS contract_kv (key text PRIMARY KEY, value text NOT NULL)");
    return {
      write: async (key, value) => {
        await client.query("INSERT INTO contract_kv VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2", [key, value]);
      },
      read: async (key) => (await client.query<{ value: string }>("SELECT value FROM contract_kv WHERE key = $1", [key])).rows[0]?.value,
      setting: async (name) => (await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = $1", [name])).rows[0]!.setting,
      close: () => client.end(),
    };
  },
  expectedSettings: (plan) => ({ max_connections: String(plan.settings.max_connections) }),
};

import pg from "pg";

/** One short session on a PostgreSQL URL (a customer's, through the gateway): the rows of `sql`. */
export async function pgRows<Row = Record<string, unknown>>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => undefined); // a session cut by a restart fails the query instead
  await client.connect();
  try {
    return (await client.query(sql)).rows as Row[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

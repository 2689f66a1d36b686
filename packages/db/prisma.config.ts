// Prisma runs offline here: its JavaScript schema engine talks to PostgreSQL
// through the pg driver adapter, so no native engine is ever downloaded.
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { defineConfig } from "prisma/config";

const schemaPath = path.join(import.meta.dirname, "../../prisma/schema.prisma");

// The schema reads this variable; without it Prisma's CLI falls back to downloading an engine.
process.env.BERTH_DATABASE_URL ??= "postgresql://postgres@127.0.0.1:5433/berth";

function connectionConfig() {
  const url = new URL(process.env.BERTH_DATABASE_URL!);
  // Separate fields, not a connectionString: the adapter derives the shadow database from `database`.
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: url.pathname.slice(1),
  };
}

export default defineConfig({
  engine: "js",
  experimental: { adapter: true },
  schema: schemaPath,
  adapter: async () => new PrismaPg(connectionConfig()),
});

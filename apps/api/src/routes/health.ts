import type { PrismaClient } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import type { FastifyInstance } from "fastify";

/** How long one readiness check may take before it counts as failed. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

export interface HealthRoutesOptions {
  db: PrismaClient;
  queue: OperationQueue;
}

/** Runs each check with a timeout: `ok`, or the error's message. */
export async function runChecks(
  checks: Record<string, () => Promise<unknown>>,
  timeoutMs = READINESS_CHECK_TIMEOUT_MS,
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, "ok"] as const;
      } catch (error) {
        return [name, error instanceof Error ? error.message || error.name : String(error)] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: entries.every(([, result]) => result === "ok"), checks: Object.fromEntries(entries) };
}

/** Liveness (`/health`: the process answers) and readiness (`/health/ready`: Redis and PostgreSQL answer). */
export async function healthRoutes(app: FastifyInstance, { db, queue }: HealthRoutesOptions): Promise<void> {
  app.get("/health", async () => ({ status: "ok" }));
  app.get("/health/ready", async (_request, reply) => {
    const result = await runChecks({
      redis: async () => {
        // The queue's own connection (ioredis under BullMQ's client type).
        const client = (await queue.queue.client) as unknown as { ping(): Promise<string> };
        await client.ping();
      },
      postgres: () => db.$queryRaw`SELECT 1`,
    });
    return reply
      .code(result.ready ? 200 : 503)
      .header("cache-control", "no-store")
      .send({ status: result.ready ? "ready" : "unavailable", checks: result.checks });
  });
}

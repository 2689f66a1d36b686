import type { PrismaClient } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import type { FastifyInstance } from "fastify";
import { runChecks } from "@berth/health";

export interface HealthRoutesOptions {
  db: PrismaClient;
  queue: OperationQueue;
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

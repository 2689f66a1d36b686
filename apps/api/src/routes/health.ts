import type { FastifyInstance } from "fastify";

/** Liveness: the process answers. */
export async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get("/health", async () => ({ status: "ok" }));
}

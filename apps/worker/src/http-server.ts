import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { runChecks, type ReadinessChecks } from "@berth/health";


export interface WorkerHttpServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** e.g. redis, postgres, docker: each resolves when its service answers. */
  checks: ReadinessChecks;
  logger?: Logger;
}

export interface WorkerHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

/** The worker's own small HTTP server: `/health` (liveness), `/health/ready` and `/metrics`. GET only. */
export async function startWorkerHttpServer({ host, port, registry, checks, logger }: WorkerHttpServerOptions): Promise<WorkerHttpServer> {
  const server: Server = createServer((request, response) => {
    const send = (status: number, contentType: string, body: string) => {
      response.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
      response.end(request.method === "HEAD" ? undefined : body);
    };
    const json = (status: number, body: unknown) => send(status, "application/json; charset=utf-8", JSON.stringify(body));
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" && request.method !== "HEAD") return json(405, { error: "method_not_allowed", message: "Only GET." });
    void (async () => {
      try {
        if (path === "/health") return json(200, { status: "ok" });
        if (path === "/health/ready") {
          const result = await runChecks(checks);
          return json(result.ready ? 200 : 503, { status: result.ready ? "ready" : "unavailable", checks: result.checks });
        }
        if (path === "/metrics") return send(200, registry.contentType, await registry.metrics());
        return json(404, { error: "not_found", message: "Not found." });
      } catch (error) {
        logger?.error({ err: error, path }, "worker http: request failed");
        if (!response.headersSent) json(500, { error: "internal_error", message: "Internal error." });
        else response.destroy();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** What the worker needs to work: Redis (its jobs), PostgreSQL (the control plane), the Docker Engine. */
export function workerReadinessChecks(
  deps: { db: { $queryRaw(query: TemplateStringsArray): Promise<unknown> }; runtime: { ping(): Promise<void> } },
  redis: { ping(): Promise<unknown> },
): ReadinessChecks {
  return {
    redis: () => redis.ping(),
    postgres: () => deps.db.$queryRaw`SELECT 1`,
    docker: () => deps.runtime.ping(),
  };
}

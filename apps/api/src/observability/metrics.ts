import type { PrismaClient } from "@berth/db";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AdminConsoleOptions } from "../admin/admin-console.js";
import { backupAges } from "../admin/backup-ages.js";
import { registerBasicAuth } from "../plugins/basic-auth.js";

export interface ApiMetricsOptions {
  /** One registry per app instance; production adds the default process metrics to it. */
  registry: Registry;
  db: PrismaClient;
  /** Every Berth queue, counted by job state at scrape time. */
  queues: readonly Queue[];
  /** Addons with backups: the age of each running database's last backup is measured. */
  backupAddonIds: readonly string[];
  /** When operator credentials are configured, `/metrics` asks for them. */
  admin: Pick<AdminConsoleOptions, "username" | "password"> | undefined;
}

const JOB_STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed", "paused"] as const;

/**
 * Prometheus metrics of the API: requests per route pattern and status, and values read at
 * scrape time (resources per addon, plan and status, and containment events per addon and kind,
 * from PostgreSQL; jobs per queue and state from BullMQ). Hooks are added on the root instance so every route is measured.
 */
export async function installMetrics(app: FastifyInstance, { registry, db, queues, admin, backupAddonIds }: ApiMetricsOptions): Promise<void> {
  const labelNames = ["method", "route", "status_code"] as const;
  const requests = new Counter({ name: "berth_http_requests_total", help: "HTTP requests answered", labelNames, registers: [registry] });
  const duration = new Histogram({
    name: "berth_http_request_duration_seconds",
    help: "Time to answer an HTTP request",
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "berth_resources",
    help: "Resources per addon, plan and status (control plane)",
    labelNames: ["addon", "plan", "status"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const groups = await db.resource.groupBy({ by: ["addon", "plan", "status"], _count: { _all: true } });
        for (const group of groups) this.set({ addon: group.addon, plan: group.plan, status: group.status }, group._count._all);
      } catch (error) {
        app.log.warn({ err: error }, "metrics: resources not counted");
      }
    },
  });
  new Counter({
    name: "berth_containment_events_total",
    help: "Containment events (OOM kills, unexpected exits of a database's process) per addon and kind (control plane)",
    labelNames: ["addon", "kind"] as const,
    registers: [registry],
    // Read from the events table, where each Docker event is one row whatever the number of
    // workers that saw it: the same count from every API instance, never one per worker.
    async collect() {
      try {
        const groups = await db.containmentEvent.groupBy({ by: ["addon", "kind"], _count: { _all: true } });
        this.reset();
        for (const group of groups) this.inc({ addon: group.addon, kind: group.kind }, group._count._all);
      } catch (error) {
        app.log.warn({ err: error }, "metrics: containment events not counted");
      }
    },
  });
  new Gauge({
    name: "berth_backup_last_success_age_seconds",
    help: "Seconds since the last successful backup of each running database (since its provisioning when it has none yet)",
    labelNames: ["addon", "resource"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const age of await backupAges(db, backupAddonIds)) this.set({ addon: age.addon, resource: age.resourceId }, age.ageSeconds);
      } catch (error) {
        app.log.warn({ err: error }, "metrics: backup ages not measured");
      }
    },
  });
  new Gauge({
    name: "berth_jobs",
    help: "Jobs per queue and state (BullMQ)",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues.map(async (queue) => {
          try {
            const counts = await queue.getJobCounts(...JOB_STATES);
            for (const state of JOB_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
          } catch (error) {
            app.log.warn({ err: error, queue: queue.name }, "metrics: jobs not counted");
          }
        }),
      );
    },
  });

  app.addHook("onResponse", async (request, reply) => {
    // The route's pattern (`/postgresql/resources/:id`), never the raw URL: bounded label values.
    const route = request.routeOptions.url ?? "unmatched";
    const labels = { method: request.method, route, status_code: String(reply.statusCode) };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });

  await app.register(async (scope) => {
    if (admin) {
      await registerBasicAuth(scope, {
        realm: "berth-operators",
        username: admin.username,
        password: admin.password,
        wrongCredentials: "Wrong operator credentials.",
      });
    }
    scope.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
      const body = await registry.metrics();
      return reply.header("content-type", registry.contentType).header("cache-control", "no-store").send(body);
    });
  });
}

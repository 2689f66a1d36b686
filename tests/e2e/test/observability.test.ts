import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, metricSample, startStack, startTestRedis, type Stack, type TestRedis } from "../src/index.js";



describe("metrics, request ids and OpenAPI", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("counts a provisioning and a deprovisioning in the API's and the worker's metrics", async () => {
    const driver = stack.driver("postgresql");
    const provisioned = await driver.provision({ plan: "postgresql-sandbox", app_id: `app-${randomUUID().slice(0, 8)}`, options: {} });
    expect(provisioned.status).toBe(202);
    const { id } = provisioned.body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 120_000, interval: 250 }).toBe(
      "deprovisioned",
    );

    // Operator credentials are configured in the stack: /metrics asks for them.
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(401);
    const response = await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: basicAuth(stack.adminCredentials()!) } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    // Per route pattern, never the raw URL.
    expect(metricSample(text, "berth_http_requests_total", { method: "POST", route: "/postgresql/resources", status_code: "202" })).toBeGreaterThanOrEqual(1);
    expect(metricSample(text, "berth_http_requests_total", { method: "DELETE", route: "/postgresql/resources/:id", status_code: "204" })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain(id);
    expect(metricSample(text, "berth_http_request_duration_seconds_count", { method: "POST", route: "/postgresql/resources" })).toBeGreaterThanOrEqual(1);
    expect(metricSample(text, "berth_resources", { addon: "postgresql", plan: "postgresql-sandbox", status: "deprovisioned" })).toBeGreaterThanOrEqual(1);
    expect(metricSample(text, "berth_jobs", { queue: "berth-operations", state: "completed" })).toBeGreaterThanOrEqual(2);
    // The test registry has no process metrics: those are production's.
    expect(text).not.toContain("process_cpu_seconds_total");

    const worker = await stack.workerMetrics.metrics();
    expect(metricSample(worker, "berth_operations_finished_total", { kind: "provision", outcome: "succeeded" })).toBe(1);
    expect(metricSample(worker, "berth_operations_finished_total", { kind: "deprovision", outcome: "succeeded" })).toBe(1);
    expect(metricSample(worker, "berth_operation_duration_seconds_count", { kind: "provision", outcome: "succeeded" })).toBe(1);
    expect(worker).toContain("berth_docker_errors_total");
  });

  it("measures each running database's last backup: one overdue for 26 hours is listed for operators until a backup is taken", async () => {
    const driver = stack.driver("postgresql");
    const { id } = (await driver.provision({ plan: "postgresql-sandbox", app_id: `app-${randomUUID().slice(0, 8)}` })).body as { id: string };
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 120_000, interval: 250 }).toBe("provisioned");
    // Provisioned 27 hours ago, as far as the control plane knows, and never backed up since.
    await stack.db.resource.update({ where: { id }, data: { provisionedAt: new Date(Date.now() - 27 * 3600_000) } });
    const operator = { headers: { authorization: basicAuth(stack.adminCredentials()!) } };
    const backupAge = async () => metricSample(await (await fetch(`${stack.apiUrl}/metrics`, operator)).text(), "berth_backup_last_success_age_seconds", { addon: "postgresql", resource: id });
    const overdueOnOperatorPage = async () => {
      const page = await (await fetch(`${stack.apiUrl}/admin?addon=postgresql`, operator)).text();
      return page.includes('data-testid="overdue-backups"') && page.slice(page.indexOf('data-testid="overdue-backups"')).split("</table>")[0]!.includes(`data-resource-id="${id}"`);
    };
    expect(await backupAge()).toBeGreaterThan(26 * 3600);
    expect(await overdueOnOperatorPage()).toBe(true);

    const sizesBefore = metricSample(await stack.workerMetrics.metrics(), "berth_backup_size_bytes_count", { addon: "postgresql" }) ?? 0;
    const created = await driver.request("POST", `${id}/backups`);
    expect(created.status).toBe(202);
    const backupId = (created.body as { backup: { id: string } }).backup.id;
    // The operation, not only the backup: it goes on after the dump (PostgreSQL's physical copy), and is measured once it ends.
    await expect.poll(async () => (await stack.db.operation.findFirst({ where: { backupId } }))?.status, { timeout: 120_000, interval: 250 }).toBe("succeeded");
    expect(await backupAge()).toBeLessThan(3600);
    expect(await overdueOnOperatorPage()).toBe(false);
    const worker = await stack.workerMetrics.metrics();
    expect(metricSample(worker, "berth_operation_duration_seconds_count", { kind: "backup", outcome: "succeeded" })).toBe(1);
    expect(metricSample(worker, "berth_backup_size_bytes_count", { addon: "postgresql" })).toBe(sizesBefore + 1);
    expect((await driver.deprovision(id)).status).toBe(204);
  });

  it("serves the worker's /health, /health/ready and /metrics over HTTP", async () => {
    const url = stack.workerUrl;
    expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { redis: "ok", postgres: "ok", docker: "ok" } });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("berth_operations_finished_total");
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });

  it("honours a safe X-Request-Id and echoes it; replaces an unsafe one", async () => {
    const kept = await fetch(`${stack.apiUrl}/health`, { headers: { "x-request-id": "trace-42.abc" } });
    expect(kept.headers.get("x-request-id")).toBe("trace-42.abc");
    const replaced = await fetch(`${stack.apiUrl}/health`, { headers: { "x-request-id": "a b<script>" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const tooLong = await fetch(`${stack.apiUrl}/health`, { headers: { "x-request-id": "x".repeat(200) } });
    expect(tooLong.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("describes the provider endpoints in OpenAPI at /docs/json, from the request schemas", async () => {
    const response = await fetch(`${stack.apiUrl}/docs/json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> } }>>;
    };
    for (const addon of ["postgresql", "mysql", "redis"]) {
      const post = document.paths[`/${addon}/resources`]?.post;
      expect(post, addon).toBeDefined();
      const schema = post!.requestBody!.content["application/json"]!.schema;
      expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(["plan", "app_id"]));
      expect(schema.required).toEqual(expect.arrayContaining(["plan", "app_id"]));
      expect(document.paths[`/${addon}/resources/{id}`]).toBeDefined();
    }
    expect(Object.keys(document.paths).some((path) => path.startsWith("/admin") || path.startsWith("/dashboard") || path === "/metrics")).toBe(false);
    const ui = await fetch(`${stack.apiUrl}/docs`, { redirect: "follow" });
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain("swagger");
  });
});

describe("readiness", () => {
  let redis: TestRedis;
  let stack: Stack;
  beforeAll(async () => {
    redis = await startTestRedis();
    stack = await startStack({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await redis?.start();
    await stack?.close();
    await redis?.stop();
  });

  it("turns unavailable while Redis is stopped and ready again when it is back, in the API and the worker", async () => {
    const worker = { url: stack.workerUrl };
    const state = async (url: string) => {
      const response = await fetch(`${url}/health/ready`);
      return { status: response.status, body: (await response.json()) as { status: string; checks: Record<string, string> } };
    };
    expect(await state(stack.apiUrl)).toEqual({ status: 200, body: { status: "ready", checks: { redis: "ok", postgres: "ok" } } });
    expect((await state(worker.url)).status).toBe(200);

    await redis.stop();
    await expect.poll(async () => (await state(stack.apiUrl)).status, { timeout: 15_000, interval: 250 }).toBe(503);
    const down = await state(stack.apiUrl);
    expect(down.body.status).toBe("unavailable");
    expect(down.body.checks.postgres).toBe("ok");
    expect(down.body.checks.redis).not.toBe("ok");
    expect((await fetch(`${stack.apiUrl}/health`)).status).toBe(200); // liveness is unaffected
    const workerDown = await state(worker.url);
    expect(workerDown.status).toBe(503);
    expect(workerDown.body.checks.redis).not.toBe("ok");
    expect(workerDown.body.checks.docker).toBe("ok");

    await redis.start();
    await expect.poll(async () => (await state(stack.apiUrl)).status, { timeout: 30_000, interval: 250 }).toBe(200);
    await expect.poll(async () => (await state(worker.url)).status, { timeout: 30_000, interval: 250 }).toBe(200);
  });
});

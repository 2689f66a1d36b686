import { stepPercent } from "@berth/operations";
import { OPERATIONS_QUEUE, USAGE_QUEUE } from "@berth/jobs";
import { Queue } from "bullmq";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, launchChromium, startStack, testResultPath, waitUntil, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 200 };


/** The operator console (/admin): bull-board over Berth's queues and the operator page, in a real browser. */
describe("the operator console", () => {
  let stack: Stack;
  /** Read-only, and its PostgreSQL image does not exist: its provisionings fail. */
  let readOnly: Stack;
  let browser: Browser;
  let resourceId: string;
  let operationId: string;
  let failedResourceId: string;
  let failedOperationId: string;

  const admin = () => stack.adminCredentials()!;
  const operatorContext = (target = stack): Promise<BrowserContext> => browser.newContext({ httpCredentials: target.adminCredentials()! });

  beforeAll(async () => {
    [stack, readOnly] = await Promise.all([
      startStack(),
      startStack({ env: { BERTH_ADDON_POSTGRESQL_IMAGE: "berth-local/no-such-image:0", BERTH_ADMIN_READ_ONLY: "true" } }),
    ]);
    browser = await launchChromium();
    resourceId = ((await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-console" })).body as { id: string }).id;
    failedResourceId = ((await readOnly.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-console-doomed" })).body as { id: string }).id;
    await stack.standIn.waitForProvisioned(resourceId, { timeoutMs: WAIT.timeout });
    await waitUntil("the provisioning job completed", async () => {
      const operation = await stack.db.operation.findFirst({ where: { resourceId, status: "succeeded" } });
      operationId = operation?.id ?? "";
      return operation !== null;
    });
    await waitUntil("the doomed provisioning failed", async () => {
      const operation = await readOnly.db.operation.findFirst({ where: { resourceId: failedResourceId, status: "failed" } });
      failedOperationId = operation?.id ?? "";
      return operation !== null;
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (stack && resourceId) {
      await stack.driver("postgresql").deprovision(resourceId);
      await waitUntil("deprovisioned", async () => (await stack.db.resource.findUnique({ where: { id: resourceId } }))?.status === "deprovisioned");
    }
    // One after the other: each removes the leftovers of its time, which the other's overlap.
    await stack?.close();
    await readOnly?.close();
  });

  it("answers 401 without credentials and with wrong ones (an addon's too), in the API's error shape", async () => {
    for (const path of ["/admin", "/admin/queues", "/admin/queues/api/queues"]) {
      const anonymous = await fetch(`${stack.apiUrl}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toBe('Basic realm="berth-operators", charset="UTF-8"');
      expect(await anonymous.json()).toEqual({ error: "unauthorized", message: "Missing or malformed Basic authorization." });

      for (const wrong of [{ ...admin(), password: `${admin().password}x` }, stack.credentials("postgresql")]) {
        const response = await fetch(`${stack.apiUrl}${path}`, { headers: { authorization: basicAuth(wrong) } });
        expect(response.status, path).toBe(401);
        expect(await response.json()).toEqual({ error: "unauthorized", message: "Wrong operator credentials." });
      }
    }
  });

  it("shows every queue, and the finished provisioning job with its step logs", async () => {
    const context = await operatorContext();
    const page = await context.newPage();
    expect((await page.goto(`${stack.apiUrl}/admin/queues`))?.status()).toBe(200);
    for (const queue of ["berth-operations", "berth-usage", "berth-maintenance", "berth-backup-schedule", "berth-archive"]) {
      await expect.poll(() => page.getByText(queue, { exact: true }).count(), WAIT).toBeGreaterThan(0);
    }
    await page.screenshot({ path: await testResultPath("admin-queues.png"), fullPage: true });

    // The job's own page (its id is the operation's), on its log: every step, timestamped, then the outcome.
    expect((await page.goto(`${stack.apiUrl}/admin/queues/queue/${OPERATIONS_QUEUE}/${operationId}`))?.status()).toBe(200);
    await expect.poll(() => page.getByText(`step report-provisioned (${stepPercent("provision", "report-provisioned")}%)`).count(), WAIT).toBeGreaterThan(0);
    const text = await page.locator("body").innerText();
    for (const step of ["credentials", "placement", "volume", "container", "bootstrap", "readiness", "report-config"]) expect(text).toContain(`step ${step}`);
    expect(text).toContain("succeeded");
    await page.screenshot({ path: await testResultPath("admin-job.png"), fullPage: true });
    await context.close();
  });

  it("keeps secrets out of the job: its data, progress and log hold no password, nor does bull-board's view of it", async () => {
    const password = new URL(stack.standIn.addonConfig(resourceId)!.SCALINGO_POSTGRESQL_URL!).password;
    expect(password.length).toBeGreaterThanOrEqual(16);
    const queue = new Queue(OPERATIONS_QUEUE, { connection: { url: stack.env.BERTH_REDIS_URL! }, prefix: stack.env.BERTH_QUEUE_PREFIX! });
    try {
      const job = await queue.getJob(operationId);
      expect(job?.data).toEqual({ operationId, resourceId });
      expect(job?.progress).toEqual({ step: "done", percent: 100 });
      const { logs } = await queue.getJobLogs(operationId);
      expect(logs.length).toBeGreaterThanOrEqual(9);
      expect(JSON.stringify([job?.data, job?.progress, logs, job?.returnvalue, job?.failedReason])).not.toContain(password);
    } finally {
      await queue.close();
    }
    const headers = { authorization: basicAuth(admin()) };
    for (const path of [`/api/queues/${OPERATIONS_QUEUE}/${operationId}`, `/api/queues/${OPERATIONS_QUEUE}/${operationId}/logs`, "/api/queues"]) {
      const response = await fetch(`${stack.apiUrl}/admin/queues${path}`, { headers });
      expect(response.status, path).toBe(200);
      expect(await response.text()).not.toContain(password);
    }
  });

  it("refuses a change sent from another site, or that says nowhere, and takes it from its own pages", async () => {
    const pause = `${stack.apiUrl}/admin/queues/api/queues/${USAGE_QUEUE}/pause`;
    const headers = { authorization: basicAuth(admin()) };
    for (const origin of <Record<string, string>[]>[{ origin: "http://evil.example" }, { origin: stack.standIn.url }, { referer: "http://evil.example/page" }, {}]) {
      const response = await fetch(pause, { method: "PUT", headers: { ...headers, ...origin } });
      expect(response.status, JSON.stringify(origin)).toBe(403);
      expect(((await response.json()) as { error: string }).error).toBe("cross_site_request");
    }
    const usage = new Queue(USAGE_QUEUE, { connection: { url: stack.env.BERTH_REDIS_URL! }, prefix: stack.env.BERTH_QUEUE_PREFIX! });
    try {
      expect(await usage.isPaused()).toBe(false);

      // A real cross-site request: a page of another origin (the stand-in's, a sibling site) makes the
      // operator's browser, which knows the console's credentials, post to a mutating route.
      const context = await operatorContext();
      const page = await context.newPage();
      await page.goto(`${stack.apiUrl}/admin/queues`);
      await page.goto(`${stack.standIn.url}/`);
      const add = `${stack.apiUrl}/admin/queues/api/queues/${USAGE_QUEUE}/add`;
      const [response] = await Promise.all([
        page.waitForResponse((candidate) => candidate.url() === add && candidate.status() !== 401),
        page.evaluate(
          (url) => fetch(url, { method: "POST", mode: "no-cors", credentials: "include", body: JSON.stringify({ name: "csrf", data: {} }) }).catch(() => undefined),
          add,
        ),
      ]);
      expect(response.status()).toBe(403);
      // Credentials are checked first (401), so this 403 is the same-origin rule refusing an authenticated request.
      expect(await response.request().allHeaders()).toMatchObject({ origin: stack.standIn.url.replace(/\/$/, "") });
      expect(await usage.getJobCounts()).toMatchObject({ waiting: 0, delayed: 0, completed: 0, failed: 0 });

      // From the console's own origin, the same kind of change goes through.
      const sameOrigin = await fetch(pause, { method: "PUT", headers: { ...headers, origin: stack.apiUrl } });
      expect(sameOrigin.status).toBeLessThan(300);
      expect(await usage.isPaused()).toBe(true);
      await fetch(pause.replace(/pause$/, "resume"), { method: "PUT", headers: { ...headers, origin: stack.apiUrl } });
      expect(await usage.isPaused()).toBe(false);
      await context.close();
    } finally {
      await usage.close();
    }

    // An operation's job is retried with `berth operations retry`, which reopens the operation first.
    const retry = await fetch(`${stack.apiUrl}/admin/queues/api/queues/${OPERATIONS_QUEUE}/${operationId}/retry`, {
      method: "PUT",
      headers: { ...headers, origin: stack.apiUrl },
    });
    expect(retry.status).toBe(409);
    expect(JSON.stringify(await retry.json())).toContain("berth operations retry");
  });

  it("in read-only mode refuses a retry, and bull-board shows no actions", async () => {
    const headers = { authorization: basicAuth(readOnly.adminCredentials()!), origin: readOnly.apiUrl };
    for (const [method, path] of [
      ["PUT", `/api/queues/${OPERATIONS_QUEUE}/${failedOperationId}/retry`],
      ["PUT", `/api/queues/${OPERATIONS_QUEUE}/retry/failed`],
      ["PUT", `/api/queues/${USAGE_QUEUE}/pause`],
      ["PUT", `/api/queues/${OPERATIONS_QUEUE}/clean/failed`],
    ] as const) {
      const response = await fetch(`${readOnly.apiUrl}/admin/queues${path}`, { method, headers });
      expect(response.status, path).toBe(403);
      expect(await response.json()).toEqual({
        error: "read_only",
        message: "The operator console is read-only (BERTH_ADMIN_READ_ONLY=true): it changes nothing.",
      });
    }
    const queues = (await (await fetch(`${readOnly.apiUrl}/admin/queues/api/queues`, { headers })).json()) as {
      queues: { name: string; readOnlyMode: boolean; counts: Record<string, number> }[];
    };
    const operations = queues.queues.find((queue) => queue.name === OPERATIONS_QUEUE);
    expect(operations).toMatchObject({ readOnlyMode: true, counts: { failed: 1 } });
    expect(await readOnly.db.operation.findUniqueOrThrow({ where: { id: failedOperationId } })).toMatchObject({ status: "failed", attempts: 1 });
  });

  it("lists resources with filters and the failed operations with their reason and a link to the job", async () => {
    const context = await operatorContext();
    const page = await context.newPage();
    const response = await page.goto(`${stack.apiUrl}/admin?addon=postgresql`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'nonce-");

    const row = page.locator(`[data-testid=resources] tr[data-resource-id="${resourceId}"]`);
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(0, 5)).toEqual([resourceId, "postgresql", "postgresql-sandbox", "app-console", "provisioned"]);
    expect(cells[5]).toContain(`berth-${resourceId}`);
    expect(cells[6]).toMatch(/^\d+ (s|min)$/);

    // The failed provisioning of the other stack (one control plane): its reason, attempts and job.
    const failed = page.locator(`[data-testid=failed-operations] tr[data-operation-id="${failedOperationId}"]`);
    const failedText = await failed.innerText();
    expect(failedText).toContain(failedResourceId);
    expect(failedText).toContain("image berth-local/no-such-image:0 is not available on the Docker host");
    expect(await failed.locator("td").nth(3).innerText()).toBe("1");
    expect(await failed.getByRole("link", { name: "job" }).getAttribute("href")).toBe(`/admin/queues/queue/${OPERATIONS_QUEUE}/${failedOperationId}`);
    await page.screenshot({ path: await testResultPath("admin-operator.png"), fullPage: true });

    // The link leads to the job in bull-board, with its failure in the log.
    await failed.getByRole("link", { name: "job" }).click();
    expect(new URL(page.url()).pathname).toBe(`/admin/queues/queue/${OPERATIONS_QUEUE}/${failedOperationId}`);

    // Filters: the failed resources only; an unknown status is refused.
    await page.goto(`${stack.apiUrl}/admin?status=failed`);
    expect(await page.locator(`tr[data-resource-id="${failedResourceId}"]`).count()).toBe(1);
    expect(await page.locator(`tr[data-resource-id="${resourceId}"]`).count()).toBe(0);
    expect((await page.goto(`${stack.apiUrl}/admin?status=sleeping`))?.status()).toBe(400);
    await context.close();
  });
});

import { ssoToken } from "@berth/protocol";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, pgRows, startStack, testResultPath, waitUntil, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 200 };

/** A customer reaches a database's dashboard through the platform's SSO link, in a real browser. */
describe("single sign-on and the database dashboard", () => {
  let stack: Stack;
  let browser: Browser;
  let mine: string;
  let other: string;

  const now = () => Math.floor(Date.now() / 1000);
  // A token opens one session only: each link gets a timestamp of its own (a few seconds ahead at most, within the skew).
  let lastTimestamp = 0;
  const freshTimestamp = () => (lastTimestamp = Math.max(now(), lastTimestamp + 1));
  const ssoUrl = (id: string, timestamp = freshTimestamp(), token = ssoToken(id, stack.credentials("postgresql").ssoSalt, timestamp)) =>
    `${stack.apiUrl}/postgresql/sso?id=${encodeURIComponent(id)}&timestamp=${timestamp}&token=${token}`;

  beforeAll(async () => {
    stack = await startStack({ usageIntervalMs: 1_000 });
    browser = await launchChromium();
    const driver = stack.driver("postgresql");
    [mine, other] = await Promise.all(
      ["app-sso-1", "app-sso-2"].map(async (app_id) => ((await driver.provision({ plan: "postgresql-sandbox", app_id })).body as { id: string }).id),
    ) as [string, string];
    await Promise.all([mine, other].map((id) => stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout })));
    await waitUntil("both databases provisioned", async () => (await stack.db.resource.count({ where: { id: { in: [mine, other] }, status: "provisioned" } })) === 2);
    // The worker's sampler measures the running database a few times.
    await waitUntil("usage samples", async () => (await stack.db.usageSample.count({ where: { resourceId: mine } })) >= 3);
  });

  afterAll(async () => {
    await browser?.close();
    if (stack) {
      for (const id of [mine, other].filter(Boolean)) await stack.driver("postgresql").deprovision(id);
      await waitUntil("both databases deprovisioned", async () => (await stack.db.resource.count({ where: { id: { in: [mine, other] }, status: "deprovisioned" } })) === 2);
      await stack.close();
    }
  });

  it("signs in with a valid link and shows the dashboard, hiding the password until asked", async () => {
    const page = await browser.newPage();
    const response = await page.goto(ssoUrl(mine));
    expect(response?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe(`/dashboard/${mine}`);
    await expect.poll(() => page.getByTestId("status").textContent()).toBe("provisioned");
    expect(await page.getByTestId("plan").textContent()).toBe("Sandbox");
    expect(await page.getByTestId("image").textContent()).toContain("postgres");
    expect(await page.getByTestId("operations").textContent()).toContain("Provisioning");
    // Live usage of the real database, against the plan.
    expect(await page.getByTestId("memory").textContent()).toMatch(/^\d+(\.\d)? (KiB|MiB)$/);
    expect(await page.getByTestId("disk").textContent()).toMatch(/^\d+(\.\d)? MiB$/);
    expect(await page.getByTestId("disk-limit").textContent()).toMatch(/^of 1 GiB · sampled /);
    expect(await page.getByTestId("connections").textContent()).toMatch(/^\d+$/);
    expect(await page.getByTestId("cpu").textContent()).toMatch(/^\d+(\.\d)? %$/);
    // Disk, connections and CPU (the share of the plan's CPUs between two samples).
    expect(await page.locator("figure svg polyline").count()).toBe(3);

    await page.screenshot({ path: await testResultPath("dashboard.png"), fullPage: true });

    const realUrl = stack.standIn.addonConfig(mine)!.SCALINGO_POSTGRESQL_URL!;
    const password = new URL(realUrl).password;
    expect(await page.content()).not.toContain(password);
    await page.getByRole("button", { name: "Show password" }).click();
    await expect.poll(() => page.getByTestId("connection-url").textContent()).toBe(realUrl);
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === "berth_session")).toMatchObject({ httpOnly: true, sameSite: "Lax", path: `/dashboard/${mine}` });
    await page.close();
  });

  it("rotates the password from the dashboard: the app receives a new URL, the previous password is refused", async () => {
    const page = await browser.newPage();
    await page.goto(ssoUrl(mine));
    const before = stack.standIn.addonConfig(mine)!.SCALINGO_POSTGRESQL_URL!;
    await page.getByText("Rotate the password…").click();
    await page.getByTestId("rotate-now").click();
    await page.waitForURL(`${stack.apiUrl}/dashboard/${mine}#connection`);
    expect(await page.getByTestId("operations").textContent()).toContain("Credential rotation");
    await page.screenshot({ path: await testResultPath("dashboard-rotate.png"), fullPage: true });
    const rotation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: mine, kind: "rotate_credentials" } });
    await expect.poll(async () => (await stack.db.operation.findUniqueOrThrow({ where: { id: rotation.id } })).status, WAIT).toBe("succeeded");
    const after = stack.standIn.addonConfig(mine)!.SCALINGO_POSTGRESQL_URL!;
    expect(new URL(after).password).not.toBe(new URL(before).password);
    expect(await pgRows(after, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    await expect(pgRows(before, "SELECT 1")).rejects.toThrow(/password authentication failed/);
    // The page shows the new URL when asked.
    await page.reload();
    await page.getByRole("button", { name: "Show password" }).click();
    await expect.poll(() => page.getByTestId("connection-url").textContent()).toBe(after);
    await page.close();
  });

  it("lists the database's users and creates one, whose password is shown once and opens the database read-only", async () => {
    const page = await browser.newPage();
    await page.goto(ssoUrl(mine));
    expect(await page.getByTestId("users").textContent()).toContain("the app's own");
    await page.getByTestId("user-name").fill("dashboard-reader");
    await page.getByTestId("user-read-only").check();
    await page.getByTestId("create-user").click();
    const password = (await page.getByTestId("user-password").textContent())!;
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    await page.screenshot({ path: await testResultPath("dashboard-user-created.png"), fullPage: true });
    const sync = await stack.db.operation.findFirstOrThrow({ where: { resourceId: mine, kind: "sync_users" }, orderBy: { seq: "desc" } });
    await expect.poll(async () => (await stack.db.operation.findUniqueOrThrow({ where: { id: sync.id } })).status, WAIT).toBe("succeeded");
    const reader = Object.assign(new URL(stack.standIn.addonConfig(mine)!.SCALINGO_POSTGRESQL_URL!), { username: "dashboard-reader", password }).toString();
    expect(await pgRows(reader, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
    await expect(pgRows(reader, "CREATE TABLE refused (v int)")).rejects.toThrow(/permission denied/);
    // Listed on the dashboard, without its password.
    await page.getByRole("link", { name: "Back to the dashboard" }).click();
    expect(await page.getByTestId("users").textContent()).toMatch(/dashboard-reader\s*read only/);
    expect(await page.content()).not.toContain(password);
    await page.screenshot({ path: await testResultPath("dashboard-users.png"), fullPage: true });
    await page.close();
  });

  it("accepts the Heroku-style form POST", async () => {
    const timestamp = freshTimestamp();
    const response = await fetch(`${stack.apiUrl}/postgresql/sso`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ id: mine, timestamp: String(timestamp), token: ssoToken(mine, stack.credentials("postgresql").ssoSalt, timestamp) }),
    });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe(`/dashboard/${mine}`);
  });

  it("refuses a forged token, a stale timestamp and an unknown id", async () => {
    const page = await browser.newPage();
    expect((await page.goto(ssoUrl(mine, now(), "0".repeat(40))))?.status()).toBe(403);
    expect(await page.textContent("h1")).toBe("Access refused");
    const stale = now() - 3600;
    expect((await page.goto(ssoUrl(mine, stale)))?.status()).toBe(403);
    expect(await page.textContent("main")).toContain("expired");
    expect((await page.goto(ssoUrl("postgresql-ffffffffffffffff")))?.status()).toBe(404);
    // None of them opened a session.
    expect((await page.goto(`${stack.apiUrl}/dashboard/${mine}`))?.status()).toBe(403);
    await page.close();
  });

  it("refuses another resource's dashboard to a session of this one", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(ssoUrl(mine));
    expect((await page.goto(`${stack.apiUrl}/dashboard/${other}`))?.status()).toBe(403);
    // Even when the browser is made to send this resource's cookie on the other's path.
    const [session] = (await context.cookies()).filter((c) => c.name === "berth_session");
    await context.addCookies([{ ...session!, path: `/dashboard/${other}` }]);
    expect((await page.goto(`${stack.apiUrl}/dashboard/${other}`))?.status()).toBe(403);
    const reveal = await page.request.get(`${stack.apiUrl}/dashboard/${other}/connection`);
    expect(reveal.status()).toBe(403);
    await context.close();
  });
});

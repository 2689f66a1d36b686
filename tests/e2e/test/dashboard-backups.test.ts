import { setTimeout as sleep } from "node:timers/promises";
import { ssoToken } from "@berth/protocol";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, waitUntil, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 250 };

/**
 * The customer's backup controls on the dashboard, after single sign-on, on a real PostgreSQL:
 * back up now, the daily hour, download through a signed link, restore only with the database's id
 * typed in, and nothing from another site.
 */
describe("dashboard: backups", () => {
  let stack: Stack;
  let id: string;
  let url: string;
  let cookie: string;
  const dashboard = () => `${stack.apiUrl}/dashboard/${id}`;
  /** A form post from the dashboard's own page (a browser sends its Origin). */
  const post = (path: string, form: Record<string, string>, origin = new URL(stack.apiUrl).origin) =>
    fetch(`${dashboard()}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
    });
  const query = async (sql: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    stack = await startStack();
    const response = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-dashboard-backups" });
    id = (response.body as { id: string }).id;
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await waitUntil(`${id} provisioned`, async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "provisioned", { timeoutMs: WAIT.timeout });
    url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
    const timestamp = Math.floor(Date.now() / 1000);
    const sso = await fetch(`${stack.apiUrl}/postgresql/sso?id=${id}&timestamp=${timestamp}&token=${ssoToken(id, stack.credentials("postgresql").ssoSalt, timestamp)}`, {
      redirect: "manual",
    });
    cookie = sso.headers.getSetCookie().find((c) => c.startsWith("berth_session="))!.split(";")[0]!;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("backs up now, shows the backup, and downloads it through a signed link", async () => {
    expect(await (await fetch(dashboard(), { headers: { cookie } })).text()).toContain('data-testid="backups-none"');
    await query("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
    const created = await post("/backups", {});
    expect([created.status, created.headers.get("location")]).toEqual([303, `/dashboard/${id}#backups`]);
    await expect.poll(async () => (await stack.db.backup.findFirst({ where: { resourceId: id } }))?.status, WAIT).toBe("done");
    const backup = await stack.db.backup.findFirstOrThrow({ where: { resourceId: id } });
    const page = await (await fetch(dashboard(), { headers: { cookie } })).text();
    expect(page).toContain(`<tr data-backup-id="${backup.id}">`);
    expect(page).toContain(`/dashboard/${id}/backups/${backup.id}/download`);

    const download = await fetch(`${dashboard()}/backups/${backup.id}/download`, { headers: { cookie }, redirect: "manual" });
    expect(download.status).toBe(302);
    const link = new URL(download.headers.get("location")!);
    const dump = await fetch(new URL(`${link.pathname}${link.search}`, stack.apiUrl));
    expect(dump.status).toBe(200);
    expect(Buffer.from(await dump.arrayBuffer()).subarray(0, 5).toString()).toBe("PGDMP"); // pg_dump's custom format
    // Without the session: no link.
    expect((await fetch(`${dashboard()}/backups/${backup.id}/download`, { redirect: "manual" })).status).toBe(403);
  });

  it("restores only with the database's id typed in, and refuses a post from another site", async () => {
    const backup = await stack.db.backup.findFirstOrThrow({ where: { resourceId: id, status: "done" } });
    await query("INSERT INTO notes VALUES ('written after the backup')");
    expect((await post("/restore", { backup_id: backup.id, confirm: "yes" })).status).toBe(400);
    expect((await post("/restore", { backup_id: backup.id, confirm: id }, "https://evil.example")).status).toBe(403);
    expect(await stack.db.operation.count({ where: { resourceId: id, kind: "restore" } })).toBe(0);

    expect((await post("/restore", { backup_id: backup.id, confirm: id })).status).toBe(303);
    await expect.poll(async () => (await stack.db.operation.findFirst({ where: { resourceId: id, kind: "restore" } }))?.status, WAIT).toBe("succeeded");
    expect(await query("SELECT body FROM notes")).toEqual([{ body: "kept" }]);
  });

  it("restores to a moment typed in UTC, confirmed; a moment it cannot reach is refused with why", async () => {
    expect(await (await fetch(dashboard(), { headers: { cookie } })).text()).toContain('data-testid="restore-moment"');
    // A backup since the restore above: its physical copy starts the recovery.
    expect((await post("/backups", {})).status).toBe(303);
    await expect.poll(async () => (await stack.db.operation.findFirst({ where: { resourceId: id, kind: "backup" }, orderBy: { seq: "desc" } }))?.status, WAIT).toBe("succeeded");
    await query("INSERT INTO notes VALUES ('before the moment')");
    await sleep(300);
    const at = new Date();
    await sleep(300);
    await query("INSERT INTO notes VALUES ('after the moment')");
    const local = (date: Date) => date.toISOString().slice(0, 23); // what a datetime-local input sends, read as UTC
    const future = await post("/restore", { at: local(new Date(Date.now() + 3600_000)), confirm: id });
    expect(future.status).toBe(409);
    expect(await future.text()).toContain("is in the future");
    expect((await post("/restore", { at: local(at), confirm: id })).status).toBe(303);
    const restore = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id, kind: "restore", targetTime: { not: null } } });
    expect(restore.targetTime).toEqual(at);
    await expect.poll(async () => (await stack.db.operation.findUnique({ where: { id: restore.id } }))?.status, WAIT).toBe("succeeded");
    expect(await query("SELECT body FROM notes ORDER BY body")).toEqual([{ body: "before the moment" }, { body: "kept" }]);
  });

  it("sets the hour of the daily backup", async () => {
    expect((await post("/backup-schedule", { hour: "24" })).status).toBe(400);
    expect((await post("/backup-schedule", { hour: "4" })).status).toBe(303);
    expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).backupHour).toBe(4);
    expect(await (await fetch(dashboard(), { headers: { cookie } })).text()).toMatch(/name="hour"[^>]*value="4"/);
  });
});

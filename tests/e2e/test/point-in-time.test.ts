import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerExec, pgRows, startStack, waitUntil, type Stack } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 250 };
const ADDON = "postgresql";

/**
 * PostgreSQL's continuous archive as production runs it: the worker's shipper (every second here)
 * takes each WAL segment the database closes into the backup store, on its own, with no restore
 * asking; the base backup of each backup; a recovery from them alone.
 */
describe("PostgreSQL continuous archive", () => {
  let stack: Stack;
  let id: string;
  let url: string;
  beforeAll(async () => {
    // A deployment of its own: the shipper ships only its own Docker containers, not other tests'.
    stack = await startStack({ archiveShipper: true, env: { BERTH_DEPLOYMENT_ID: `pitr-${randomBytes(4).toString("hex")}`, BERTH_ARCHIVE_SHIP_INTERVAL_SECONDS: "1" } });
    const response = await stack.driver(ADDON).provision({ plan: "postgresql-sandbox", app_id: "pitr-archive" });
    id = (response.body as { id: string }).id;
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    // The platform hears of it just before the control plane records it provisioned: a backup needs the latter.
    await waitUntil(`${id} provisioned`, async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "provisioned", { timeoutMs: WAIT.timeout });
    url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a backup records the physical copy a recovery starts from", async () => {
    const created = await stack.driver(ADDON).request("POST", `${id}/backups`);
    const backupId = (created.body as { backup: { id: string } }).backup.id;
    // Taken after the dump (the backup is listed done meanwhile), in the same operation.
    await expect.poll(async () => (await stack.db.operation.findFirst({ where: { backupId } }))?.status, WAIT).toBe("succeeded");
    const base = await stack.db.baseBackup.findUniqueOrThrow({ where: { backupId } });
    const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
    expect(base).toMatchObject({ resourceId: id, volumeName: resource.volumeName });
    expect(base.walStart).toMatch(/^[0-9A-F]{24}$/);
    expect(base.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Number(base.contentSize)).toBeGreaterThan(1_000_000); // a whole cluster's files
  });

  it("ships each closed WAL segment to the store by itself, and empties the container's spool", async () => {
    await pgRows(url, "CREATE TABLE events (note text); INSERT INTO events VALUES ('archived')");
    const switchedAt = new Date();
    // What archive_timeout does a minute after a change, asked for at once (as the operator postgres).
    const closed = (await dockerExec(`berth-${id}`, { command: ["psql", "-X", "-A", "-t", "-h", "/var/run/postgresql", "-U", "postgres", "-c", "SELECT pg_walfile_name(pg_current_wal_lsn())"], user: "postgres" })).trim();
    await dockerExec(`berth-${id}`, { command: ["psql", "-X", "-q", "-h", "/var/run/postgresql", "-U", "postgres", "-c", "SELECT pg_switch_wal()"], user: "postgres" });
    await expect.poll(async () => (await stack.db.archivedLog.findFirst({ where: { resourceId: id, name: closed } }))?.archivedAt, WAIT).toBeInstanceOf(Date);
    const shipped = await stack.db.archivedLog.findFirstOrThrow({ where: { resourceId: id, name: closed } });
    expect(shipped.archivedAt.getTime()).toBeGreaterThanOrEqual(switchedAt.getTime() - 1_000);
    expect(Number(shipped.contentSize)).toBe(16 * 1024 * 1024);
    await expect
      .poll(async () => (await dockerExec(`berth-${id}`, { command: ["ls", "/var/lib/postgresql/data/pg_wal/berth-archive"], user: "postgres" })).trim(), WAIT)
      .toBe("");
  });
});

import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { OPERATION_KINDS, stepPercent } from "@berth/operations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../src/berth-cli.js";
import { startStack, type Stack } from "../src/index.js";
import { waitUntil } from "../src/wait.js";

const WAIT = { timeout: 60_000, interval: 250 };

/** The configuration `berth` shares with the apps: the control plane and the stack's queues. */
function cliEnv(stack: Stack): Record<string, string> {
  const { BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX } = stack.env;
  return { BERTH_DATABASE_URL: BERTH_DATABASE_URL!, BERTH_REDIS_URL: BERTH_REDIS_URL!, BERTH_QUEUE_PREFIX: BERTH_QUEUE_PREFIX! };
}

/** What the backups commands add: the stack's backup store and the keys that open it. */
function backupsEnv(stack: Stack): Record<string, string> {
  return { ...cliEnv(stack), BERTH_BACKUP_DIR: stack.env.BERTH_BACKUP_DIR!, BERTH_ENCRYPTION_KEY: stack.env.BERTH_ENCRYPTION_KEY! };
}

async function query(url: string, sql: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    // Several statements answer one result each: the last one's rows.
    const result = (await client.query(sql)) as pg.QueryResult<{ body: string }> | pg.QueryResult<{ body: string }>[];
    return (Array.isArray(result) ? result.at(-1)! : result).rows.map((row) => row.body);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function firstOperationOf(stack: Stack, resourceId: string) {
  return stack.db.operation.findFirstOrThrow({ where: { resourceId }, orderBy: { seq: "asc" } });
}

describe("berth, the admin CLI, on a running Berth", () => {
  let stack: Stack;
  /** Its PostgreSQL image does not exist: every provisioning fails at once. */
  let failing: Stack;

  beforeAll(async () => {
    [stack, failing] = await Promise.all([startStack(), startStack({ env: { BERTH_ADDON_POSTGRESQL_IMAGE: "berth-local/no-such-image:0" } })]);
  });

  afterAll(async () => {
    // One after the other: each removes the leftovers of its time, which the other's overlap.
    await stack?.close();
    await failing?.close();
  });

  it("follows a provisioning to its end, lists and shows the resource, counts the queues, then deprovisions it", async () => {
    const provision = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-cli" });
    expect(provision.status).toBe(202);
    const { id } = provision.body as { id: string };
    const operation = await firstOperationOf(stack, id);

    const follow = await runBerth(["jobs", "follow", operation.id], cliEnv(stack));
    expect(follow.code, follow.stderr).toBe(0);
    const lines = follow.stdout.trimEnd().split("\n");
    // The job's log as it came: each step with its share of the work, then the outcome.
    expect(lines.map((line) => line.replace(/^\S+Z /, ""))).toEqual([
      "attempt 1: provision started",
      // The catalog's steps but a fork's and a warm pool claim's, each with its share of the path.
      ...OPERATION_KINDS.provision.steps
        .filter((step) => step !== "seed" && step !== "rotate-credentials")
        .map((step) => `step ${step} (${stepPercent("provision", step)}%)`),
      "succeeded",
      expect.stringMatching(new RegExp(`^Operation ${operation.id} succeeded after 1 attempt in \\d+\\.\\d s\\.$`)),
    ]);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("provisioned");

    const list = await runBerth(["resources", "list", "--addon", "postgresql", "--status", "provisioned"], cliEnv(stack));
    expect(list.code, list.stderr).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split("\n");
    expect(header!.split(/\s+/)).toEqual(["ID", "ADDON", "PLAN", "APP", "STATUS", "CONTAINER", "AGE"]);
    const row = rows.find((line) => line.startsWith(`${id} `));
    expect(row?.split(/\s+/)).toEqual([id, "postgresql", "postgresql-sandbox", "app-cli", "provisioned", `berth-${id}`, expect.stringMatching(/^\d+s$/)]);
    expect((await runBerth(["resources", "list", "--status", "failed"], cliEnv(stack))).stdout).not.toContain(id);

    const show = await runBerth(["resources", "show", id], cliEnv(stack));
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^ID +${id}$`, "m"));
    expect(show.stdout).toMatch(/^Status +provisioned$/m);
    expect(show.stdout).toMatch(new RegExp(`^\\d+ +${operation.id} +provision +succeeded +1 +report-provisioned `, "m"));
    // Never a credential.
    const url = new URL(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!);
    const password = url.password;
    expect(show.stdout + list.stdout + follow.stdout).not.toContain(password);

    const queues = await runBerth(["queues"], cliEnv(stack));
    expect(queues.code, queues.stderr).toBe(0);
    expect(queues.stdout.split("\n")[0]!.split(/\s+/)).toEqual(["QUEUE", "STATE", "WAITING", "ACTIVE", "DELAYED", "PRIORITIZED", "WAITING-CHILDREN", "COMPLETED", "FAILED"]);
    expect(queues.stdout).toMatch(/^berth-operations +running +0 +0 +0 +0 +0 +1 +0$/m);
    expect(queues.stdout).toMatch(/^berth-usage +running /m);

    // A succeeded operation is not retried.
    const refused = await runBerth(["operations", "retry", operation.id], cliEnv(stack));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`error: Operation '${operation.id}' cannot be retried: it is succeeded.\n`);

    // A rotation, as the database's owner would ask for it: the app gets a new URL; after the grace period the previous one is refused.
    const rotate = await runBerth(["resources", "rotate", id], cliEnv(stack));
    expect(rotate.code, rotate.stderr).toBe(0);
    const rotation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id, kind: "rotate_credentials" } });
    expect(rotate.stdout).toBe(`Rotation of ${id}'s credentials queued: operation ${rotation.id}.\nFollow it with: berth jobs follow ${rotation.id}\n`);
    const followRotation = await runBerth(["jobs", "follow", rotation.id], cliEnv(stack));
    expect(followRotation.code, followRotation.stderr).toBe(0);
    expect(followRotation.stdout).toContain(`step retire (${stepPercent("rotate_credentials", "retire")}%)`);
    const rotatedUrl = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
    expect(new URL(rotatedUrl).password).not.toBe(password);
    expect(await query(rotatedUrl, "SELECT 'rotated' AS body")).toEqual(["rotated"]);
    const previousUrl = Object.assign(new URL(rotatedUrl), { username: new URL(url).username, password });
    await expect(query(previousUrl.toString(), "SELECT 1")).rejects.toThrow(/password authentication failed/);
    expect(rotate.stdout + followRotation.stdout).not.toContain(new URL(rotatedUrl).password);

    const deprovision = await runBerth(["resources", "deprovision", id], cliEnv(stack));
    expect(deprovision.code, deprovision.stderr).toBe(0);
    const removal = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id, kind: "deprovision" } });
    expect(deprovision.stdout).toBe(`Deprovisioning of ${id} queued: operation ${removal.id}.\nFollow it with: berth jobs follow ${removal.id}\n`);
    const followRemoval = await runBerth(["jobs", "follow", removal.id], cliEnv(stack));
    expect(followRemoval.code, followRemoval.stderr).toBe(0);
    expect(followRemoval.stdout).toContain(`step final-backup (0%)`);
    expect(followRemoval.stdout).toContain(`step volume (${stepPercent("deprovision", "volume")}%)`);
    expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("deprovisioned");
    // Again: nothing more to do, and said so.
    expect((await runBerth(["resources", "deprovision", id], cliEnv(stack))).stdout).toBe(`Resource ${id} was deprovisioned by operation ${removal.id}.\n`);
  });

  it("retries a failed operation: its job runs again (attempts grow), and follow exits 1 with the reason", async () => {
    const provision = await failing.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-cli-doomed" });
    const { id } = provision.body as { id: string };
    const operation = await firstOperationOf(failing, id);

    const first = await runBerth(["jobs", "follow", operation.id], cliEnv(failing));
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toMatch(/attempt 1 failed: image berth-local\/no-such-image:0 is not available on the Docker host$/m);
    expect(first.stdout.trimEnd().split("\n").at(-1)).toBe(
      `Operation ${operation.id} failed after 1 attempt: image berth-local/no-such-image:0 is not available on the Docker host`,
    );

    const retry = await runBerth(["operations", "retry", operation.id], cliEnv(failing));
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout).toContain(`Operation ${operation.id} (provision of ${id}) queued again after 1 attempt.`);

    const second = await runBerth(["jobs", "follow", operation.id], cliEnv(failing));
    expect(second.code, second.stderr).toBe(1);
    expect(second.stdout).toMatch(/attempt 2: provision started$/m);
    expect(second.stdout).toMatch(/attempt 2 failed: image berth-local\/no-such-image:0/m);
    expect(second.stdout).toContain(`Operation ${operation.id} failed after 2 attempts: image berth-local/no-such-image:0`);
    await expect.poll(async () => (await failing.db.operation.findUniqueOrThrow({ where: { id: operation.id } })).attempts, WAIT).toBe(2);
    expect(await failing.db.resource.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "failed" });

    // Only a resource's latest operation is retried: after a deprovision, the provisioning is superseded.
    expect((await runBerth(["resources", "deprovision", id], cliEnv(failing))).code).toBe(0);
    const superseded = await runBerth(["operations", "retry", operation.id], cliEnv(failing));
    expect(superseded.code).toBe(1);
    expect(superseded.stderr).toMatch(/cannot be retried: a later deprovision operation \(.+\) superseded it/);
  });

  it("says what is missing: an unknown resource or operation (exit 1), the configuration (exit 3)", async () => {
    const unknown = await runBerth(["resources", "show", "postgresql-0000000000000000"], cliEnv(stack));
    expect(unknown).toMatchObject({ code: 1, stderr: "error: no resource with id postgresql-0000000000000000\n" });
    const noOperation = await runBerth(["jobs", "follow", "00000000-0000-4000-8000-000000000000"], cliEnv(stack));
    expect(noOperation).toMatchObject({ code: 1, stderr: "error: no operation with id 00000000-0000-4000-8000-000000000000\n" });
    const { BERTH_REDIS_URL: _, ...withoutRedis } = cliEnv(stack);
    const missing = await runBerth(["queues"], withoutRedis);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("BERTH_REDIS_URL");
    // resources list needs the database only.
    expect((await runBerth(["resources", "list"], withoutRedis)).code).toBe(0);
  });

  describe("berth backups, on one PostgreSQL database, in order", () => {
    let id: string;
    let url: string;
    let backupId: string;
    /** Where the downloads go. */
    let downloads: string;

    beforeAll(async () => {
      downloads = await mkdtemp(join(tmpdir(), "berth-cli-downloads-"));
      const provision = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-cli-backups" });
      expect(provision.status).toBe(202);
      id = (provision.body as { id: string }).id;
      await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
      await waitUntil(`${id} provisioned`, async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "provisioned", { timeoutMs: WAIT.timeout });
      url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
      await query(url, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('in the backup')");
    });

    afterAll(async () => {
      await rm(downloads, { recursive: true, force: true });
    });

    it("list: none yet", async () => {
      const list = await runBerth(["backups", "list", id], cliEnv(stack));
      expect(list, list.stderr).toMatchObject({ code: 0, stdout: `No backups of ${id}.\n` });
    });

    it("create --follow: records a manual backup, follows it to done, and list shows it", async () => {
      const create = await runBerth(["backups", "create", id, "--follow"], cliEnv(stack));
      expect(create.code, create.stderr).toBe(0);
      const [first, ...rest] = create.stdout.trimEnd().split("\n");
      const [, createdId, operationId] = first!.match(new RegExp(`^Backup (\\S+) of ${id} scheduled: operation (\\S+)\\.$`)) ?? [];
      backupId = createdId!;
      const backup = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId } });
      expect(backup).toMatchObject({ resourceId: id, method: "manual", status: "done" });
      expect((await stack.db.operation.findUniqueOrThrow({ where: { id: operationId! } })).backupId).toBe(backupId);
      // The job's steps as jobs follow shows them, then the outcome.
      expect(rest.map((line) => line.replace(/^\S+Z /, ""))).toEqual([
        "attempt 1: backup started",
        ...OPERATION_KINDS.backup.steps.map((step) => `step ${step} (${stepPercent("backup", step)}%)`),
        "succeeded",
        expect.stringMatching(new RegExp(`^Operation ${operationId} succeeded after 1 attempt in \\d+\\.\\d s\\.$`)),
        expect.stringMatching(new RegExp(`^Backup ${backupId} is done: \\d+(\\.\\d)? (B|KiB|MiB) stored, a dump of \\d+(\\.\\d)? (B|KiB|MiB)\\.$`)),
      ]);

      const list = await runBerth(["backups", "list", id], cliEnv(stack));
      expect(list.code, list.stderr).toBe(0);
      const [header, ...rows] = list.stdout.trimEnd().split("\n");
      expect(header!.split(/\s+/)).toEqual(["ID", "METHOD", "STATUS", "SIZE", "CREATED", "FINISHED"]);
      const time = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ";
      expect(rows).toEqual([expect.stringMatching(new RegExp(`^${backupId} +manual +done +\\d+(\\.\\d)? (B|KiB|MiB) +${time} +${time}$`))]);
    });

    it("download: the dump itself, whole, written at once; a damaged backup is refused and nothing written", async () => {
      const backup = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId } });
      const output = join(downloads, "notes.dump");
      const download = await runBerth(["backups", "download", id, backupId, "--output", output], backupsEnv(stack));
      expect(download.code, download.stderr).toBe(0);
      expect(download.stdout).toBe(`Backup ${backupId} written to ${output} (${backup.contentSize} bytes).\n`);
      const dump = await readFile(output);
      expect(dump.subarray(0, 5).toString("latin1")).toBe("PGDMP"); // pg_dump's custom format
      expect(dump.length).toBe(Number(backup.contentSize));
      expect((await stat(output)).mode & 0o777).toBe(0o600);
      expect(await readdir(downloads)).toEqual(["notes.dump"]);
      // Written once: a second download must go elsewhere.
      const again = await runBerth(["backups", "download", id, backupId, "--output", output], backupsEnv(stack));
      expect(again).toMatchObject({ code: 1, stderr: `error: ${output} exists already; remove it or choose another --output\n` });

      const object = join(stack.env.BERTH_BACKUP_DIR!, backup.objectKey!);
      const sealed = await readFile(object);
      const damaged = Buffer.from(sealed);
      damaged[damaged.length >> 1]! ^= 0xff;
      await writeFile(object, damaged);
      try {
        const refused = await runBerth(["backups", "download", id, backupId, "--output", join(downloads, "damaged.dump")], backupsEnv(stack));
        expect(refused.code).toBe(1);
        expect(refused.stderr.trimEnd().split("\n").at(-1)).toMatch(
          new RegExp(`^error: backup ${backupId} is damaged \\((checksum_mismatch|tampered)\\): .+; nothing was written$`),
        );
        expect(refused.stdout).toBe("");
        expect(await readdir(downloads)).toEqual(["notes.dump"]);
      } finally {
        await writeFile(object, sealed);
      }

      const unknown = await runBerth(["backups", "download", id, "00000000-0000-4000-8000-000000000000", "--output", join(downloads, "none.dump")], backupsEnv(stack));
      expect(unknown).toMatchObject({ code: 1, stderr: `error: resource ${id} has no backup with id 00000000-0000-4000-8000-000000000000\n` });
    });

    it("restore --yes --follow: the data written after the backup is gone, the backup's is back", async () => {
      await query(url, "UPDATE notes SET body = 'changed after the backup'; INSERT INTO notes VALUES ('written after the backup')");
      const restore = await runBerth(["backups", "restore", id, backupId, "--yes", "--follow"], cliEnv(stack));
      expect(restore.code, restore.stderr).toBe(0);
      const operation = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id, kind: "restore" } });
      const lines = restore.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe(`Restore of ${id} from backup ${backupId} queued: operation ${operation.id}.`);
      const steps = lines.map((line) => line.replace(/^\S+Z /, "")).filter((line) => line.startsWith("step "));
      expect(steps).toEqual(OPERATION_KINDS.restore.steps.map((step) => `step ${step} (${stepPercent("restore", step)}%)`));
      expect(lines.at(-1)).toMatch(new RegExp(`^Operation ${operation.id} succeeded after 1 attempt in \\d+\\.\\d s\\.$`));
      expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("provisioned");
      expect(await query(url, "SELECT body FROM notes ORDER BY body")).toEqual(["in the backup"]);
    });

    it("restore without --yes, standard input not a terminal: refused, nothing recorded", async () => {
      const restore = await runBerth(["backups", "restore", id, backupId, "--follow"], cliEnv(stack));
      expect(restore.code).toBe(2);
      expect(restore.stderr).toContain("error: a restore overwrites the database's data and standard input is not a terminal to ask on: add --yes to restore\n");
      expect(await stack.db.operation.count({ where: { resourceId: id, kind: "restore" } })).toBe(1);
    });

    let momentBackupId: string;
    it("restore --at: back to a moment between two writes; a moment it cannot reach is refused", async () => {
      // A backup since the restore above (its physical copy starts the recovery).
      const backup = await runBerth(["backups", "create", id, "--follow"], cliEnv(stack));
      expect(backup.code, backup.stderr).toBe(0);
      momentBackupId = (await stack.db.backup.findFirstOrThrow({ where: { resourceId: id }, orderBy: { createdAt: "desc" } })).id;
      await query(url, "INSERT INTO notes VALUES ('before the moment')");
      await sleep(300);
      const at = new Date();
      await sleep(300);
      await query(url, "INSERT INTO notes VALUES ('after the moment')");
      const restore = await runBerth(["backups", "restore", id, "--at", at.toISOString(), "--yes", "--follow"], cliEnv(stack));
      expect(restore.code, restore.stderr).toBe(0);
      expect(restore.stdout.split("\n")[0]).toMatch(new RegExp(`^Restore of ${id} to ${at.toISOString()} queued: operation \\S+\\.$`));
      expect(await query(url, "SELECT body FROM notes ORDER BY body")).toEqual(["before the moment", "in the backup"]);
      const future = await runBerth(["backups", "restore", id, "--at", new Date(Date.now() + 3600_000).toISOString(), "--yes"], cliEnv(stack));
      expect(future.code).toBe(1);
      expect(future.stderr).toMatch(/^error: Resource '\S+' cannot be put back to that moment: .+ is in the future\.\n$/);
      const both = await runBerth(["backups", "restore", id, backupId, "--at", at.toISOString(), "--yes"], cliEnv(stack));
      expect(both).toMatchObject({ code: 2, stderr: expect.stringContaining("error: give either a backup id or --at <time>") });
    });

    it("list after a deprovision: the final backup too, newest first; a new backup is refused as the API refuses it", async () => {
      const deprovision = await runBerth(["resources", "deprovision", id], cliEnv(stack));
      expect(deprovision.code, deprovision.stderr).toBe(0);
      const removal = await stack.db.operation.findFirstOrThrow({ where: { resourceId: id, kind: "deprovision" } });
      expect((await runBerth(["jobs", "follow", removal.id], cliEnv(stack))).code).toBe(0);
      const final = await stack.db.backup.findFirstOrThrow({ where: { resourceId: id, method: "final" } });
      const list = await runBerth(["backups", "list", id], cliEnv(stack));
      expect(list.code, list.stderr).toBe(0);
      const rows = list.stdout.trimEnd().split("\n").slice(1);
      expect(rows.map((row) => row.split(/\s+/).slice(0, 3))).toEqual([
        [final.id, "final", "done"],
        [momentBackupId, "manual", "done"],
        [backupId, "manual", "done"],
      ]);
      const refused = await runBerth(["backups", "create", id], cliEnv(stack));
      expect(refused).toMatchObject({ code: 1, stderr: `error: No resource with id '${id}' exists for this addon.\n` });
    });

    it("fork-token: brings the deleted database back as a new one, from its final backup", async () => {
      const final = await stack.db.backup.findFirstOrThrow({ where: { resourceId: id, method: "final" } });
      const token = await runBerth(["backups", "fork-token", id, final.id], backupsEnv(stack));
      expect(token.code, token.stderr).toBe(0);
      expect(token.stderr).toContain("fork_token");
      const forked = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: "app-cli-back", options: { fork_token: token.stdout.trim() } });
      expect(forked.status).toBe(202);
      const forkId = (forked.body as { id: string }).id;
      await stack.standIn.waitForProvisioned(forkId, { timeoutMs: WAIT.timeout });
      // The data the deletion kept: the rows as they were when it was deleted (the last restore's, to a moment).
      expect(await query(stack.standIn.addonConfig(forkId)!.SCALINGO_POSTGRESQL_URL!, "SELECT body FROM notes ORDER BY body")).toEqual(["before the moment", "in the backup"]);
      expect((await stack.driver("postgresql").deprovision(forkId)).status).toBe(204);
    });
  });
});

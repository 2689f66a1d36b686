import type { PostgresqlCredentials } from "@berth/addon-postgresql";
import { SecretBox, type OperationKind } from "@berth/db";
import { OPERATION_KINDS } from "@berth/operations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containersOf, dockerInspect, pgRows, type Stack, startStack, volumeExists, volumesOf, waitUntil } from "../src/index.js";

const WAIT = { timeout: 120_000, interval: 200 };
const ADDON = "postgresql";
const SMALL = "postgresql-sandbox";
const LARGER = "postgresql-starter-512";

/** Every step of every kind of operation, from the catalog: a step added to it is killed here without a word changed. */
const KILLS = (Object.keys(OPERATION_KINDS) as OperationKind[]).flatMap((kind) => OPERATION_KINDS[kind].steps.map((step) => ({ kind, step })));

/** What the resource must look like once a survivor finished the operation, beyond "the operation succeeded". */
type Outcome = { id: string; check: () => Promise<void> };

/**
 * How to bring an operation to a step while a victim worker (started with `workerEnv`) is ready to
 * die there: `run` records the operation (and whatever must exist before) and returns what to check.
 */
interface Scenario {
  readonly workerEnv?: Record<string, string>;
  run(stack: Stack): Promise<Outcome>;
}

/** Typed by kind: a kind added to the catalog does not compile until it has its scenario. */
const scenarios: { readonly [K in OperationKind]: (step: string) => Scenario } = {
  provision: (step) =>
    step === "rotate-credentials"
      ? // The victim keeps a pool of one (a worker without a pool removes pool databases it finds).
        { workerEnv: { BERTH_WARM_POOL: `${SMALL}=1` }, run: claimWarmDatabase }
      : step === "seed"
        ? { run: forkFromBackup }
        : { run: (stack) => provisionOnDemand(stack, step) },
  change_plan: () => ({ run: shrinkPlan }),
  deprovision: () => ({ run: deprovisionLive }),
  backup: () => ({ run: backUp }),
  restore: () => ({ run: restoreBackup }),
  suspend: () => ({ run: suspendLive }),
  resume: () => ({ run: resumeSuspended }),
  rotate_credentials: () => ({ run: rotateCredentials }),
  sync_users: () => ({ run: addReadOnlyUser }),
};

/**
 * A worker killed with SIGKILL as each step of each operation begins: the job comes back to
 * another worker, which finishes it, exactly once: one container, one volume, one provision
 * action, the same credentials in every callback, the data kept.
 */
describe("a worker killed at each step of each operation", () => {
  let stack: Stack;
  beforeAll(async () => {
    // A short job lock: a killed worker's job goes to the next one within seconds.
    stack = await startStack({ inProcessWorker: false, env: { BERTH_JOB_LOCK_SECONDS: "2" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("covers every step of the catalog, the warm pool's password hand-over included", () => {
    console.log(`steps killed: ${KILLS.map(({ kind, step }) => `${kind}/${step}`).join(", ")}`);
    expect(KILLS).toContainEqual({ kind: "provision", step: "rotate-credentials" });
  });

  it.each(KILLS)("$kind: killed as '$step' begins, the next worker finishes it once", async ({ kind, step }) => {
    const scenario = scenarios[kind](step);
    // The survivor loads beside the victim, and starts consuming only once the victim is dead.
    const [victim, survivor] = await Promise.all([stack.spawnWorker({ killAtStep: step, killKind: kind, env: scenario.workerEnv }), stack.spawnWorker({ held: true })]);
    try {
      const outcome = await scenario.run(stack);
      const exit = await Promise.race([victim.exited, sleepThen(WAIT.timeout, "never reached")]);
      expect(exit, `the victim worker was to die at ${kind}/${step}`).toEqual({ code: null, signal: "SIGKILL" });
      await survivor.release();
      await expect.poll(async () => (await latestOperation(stack, outcome.id)).status, WAIT).toBe("succeeded");
      expect((await latestOperation(stack, outcome.id)).attempts).toBeGreaterThanOrEqual(2);
      await outcome.check();
      if (kind !== "deprovision") {
        expect((await stack.driver(ADDON).deprovision(outcome.id)).status).toBe(204);
        await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: outcome.id } }))?.status, WAIT).toBe("deprovisioned");
        expect(await containersOf(outcome.id)).toEqual([]);
      }
    } finally {
      await survivor.stop();
    }
  });
});

/** A provision the platform asks for, built on demand (no warm pool). */
async function provisionOnDemand(stack: Stack, step: string): Promise<Outcome> {
  const response = await stack.driver(ADDON).provision({ plan: SMALL, app_id: `fault-${step}` });
  expect(response.status).toBe(202);
  const id = (response.body as { id: string }).id;
  return { id, check: () => checkProvisionedOnce(stack, id) };
}

/**
 * A provision that claims a warm pool database (the victim built it): the victim dies as it gives
 * the database the customer's own password. The survivor finishes the hand-over: the URL the
 * platform holds has the new password, and the pool's password no longer opens the database.
 */
async function claimWarmDatabase(stack: Stack): Promise<Outcome> {
  const warm = () => stack.db.resource.findFirst({ where: { addon: ADDON, plan: SMALL, status: "warm", appId: "" } });
  await waitUntil("a warm database", async () => (await warm()) !== null, { timeoutMs: WAIT.timeout });
  const pooled = (await warm())!;
  const secrets = new SecretBox(Buffer.from(stack.env.BERTH_ENCRYPTION_KEY!, "base64"));
  const poolCredentials = secrets.openJson<PostgresqlCredentials>(pooled.credentials!);

  const response = await stack.driver(ADDON).provision({ plan: SMALL, app_id: "fault-rotate-credentials" });
  expect(response.status).toBe(202);
  const id = (response.body as { id: string }).id;
  expect(id, "the provision claims the warm database").toBe(pooled.id);
  return {
    id,
    async check() {
      await checkProvisionedOnce(stack, id);
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect(resource.credentialsRotatedAt).not.toBeNull();
      expect(resource.nextCredentials).toBeNull();
      const url = new URL(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!);
      expect(decodeURIComponent(url.password)).not.toBe(poolCredentials.password);
      url.username = poolCredentials.user;
      url.password = encodeURIComponent(poolCredentials.password);
      await expect(pgRows(url.toString(), "SELECT 1")).rejects.toThrow(/password authentication failed/);
    },
  };
}

/** A fork: a new database created from another's backup; the survivor loads it once, whole. */
async function forkFromBackup(stack: Stack): Promise<Outcome> {
  const { id: source } = await databaseHolding(stack, SMALL, "forked");
  const created = await stack.driver(ADDON).request("POST", `${source}/backups`);
  const backupId = (created.body as { backup: { id: string } }).backup.id;
  await expect.poll(async () => (await stack.db.backup.findUnique({ where: { id: backupId } }))?.status, WAIT).toBe("done");
  const token = await stack.driver(ADDON).request("POST", `${source}/backups/${backupId}/fork-token`);
  expect(token.status).toBe(201);
  const forkToken = (token.body as { fork_token: string }).fork_token;
  const response = await stack.driver(ADDON).provision({ plan: SMALL, app_id: "fault-fork", options: { fork_token: forkToken } });
  expect(response.status).toBe(202);
  const id = (response.body as { id: string }).id;
  return {
    id,
    async check() {
      await checkProvisionedOnce(stack, id);
      expect(await pgRows(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!, "SELECT note FROM kept")).toEqual([{ note: "forked" }]);
      expect(await volumesOf(id)).toEqual([`berth-${id}-data`]);
      expect((await stack.driver(ADDON).deprovision(source)).status).toBe(204);
    },
  };
}

/** A plan change to a smaller plan (every step is taken, the disk check first), on a database holding a row. */
async function shrinkPlan(stack: Stack): Promise<Outcome> {
  const { id } = await databaseHolding(stack, LARGER, "written before the plan change");
  expect((await stack.driver(ADDON).changePlan(id, SMALL)).status).toBe(200);
  return {
    id,
    async check() {
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect([resource.plan, resource.status]).toEqual([SMALL, "provisioned"]);
      expect(await containersOf(id)).toEqual([`berth-${id}`]);
      const inspected = await dockerInspect(`berth-${id}`);
      expect(inspected?.HostConfig.Memory).toBe(256 * 1024 * 1024);
      expect(await pgRows(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!, "SELECT note FROM kept")).toEqual([
        { note: "written before the plan change" },
      ]);
    },
  };
}

/** A deprovision of a live database: the survivor keeps a final backup, then removes everything. */
async function deprovisionLive(stack: Stack): Promise<Outcome> {
  const id = await provisionedDatabase(stack, SMALL);
  expect((await stack.driver(ADDON).deprovision(id)).status).toBe(204);
  return {
    id,
    async check() {
      expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("deprovisioned");
      expect(await containersOf(id)).toEqual([]);
      expect(await volumeExists(`berth-${id}-data`)).toBe(false);
      // Its data was kept first, once.
      const finals = await stack.db.backup.findMany({ where: { resourceId: id, method: "final" } });
      expect(finals.map((backup) => backup.status)).toEqual(["done"]);
    },
  };
}

/** A backup of a database holding a row: the survivor stores it whole, checksummed. */
async function backUp(stack: Stack): Promise<Outcome> {
  const { id } = await databaseHolding(stack, SMALL, "backed up");
  const created = await stack.driver(ADDON).request("POST", `${id}/backups`);
  expect(created.status).toBe(202);
  const backupId = (created.body as { backup: { id: string } }).backup.id;
  return {
    id,
    async check() {
      const backup = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId } });
      expect(backup).toMatchObject({ status: "done", method: "manual" });
      expect(backup.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Number(backup.size)).toBeGreaterThan(0);
      expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("provisioned");
    },
  };
}

/**
 * A restore of a backup taken before a second row was written: the survivor finishes it (or, killed
 * before the switch, starts it over), and the database holds the backup's data only, on one volume.
 */
async function restoreBackup(stack: Stack): Promise<Outcome> {
  const { id, url } = await databaseHolding(stack, SMALL, "in the backup");
  const created = await stack.driver(ADDON).request("POST", `${id}/backups`);
  const backupId = (created.body as { backup: { id: string } }).backup.id;
  await expect.poll(async () => (await stack.db.backup.findUnique({ where: { id: backupId } }))?.status, WAIT).toBe("done");
  await pgRows(url, "INSERT INTO kept VALUES ('written after the backup')");
  const restore = await stack.driver(ADDON).request("POST", `${id}/restore`, { backup_id: backupId });
  expect(restore.status).toBe(202);
  return {
    id,
    async check() {
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect(resource.status).toBe("provisioned");
      expect(await pgRows(url, "SELECT note FROM kept")).toEqual([{ note: "in the backup" }]);
      expect(await containersOf(id)).toEqual([`berth-${id}`]);
      expect(await volumesOf(id)).toEqual([resource.volumeName]);
    },
  };
}

/** A suspension of a database holding a row: the survivor removes its container; the volume, and the row in it, stay. */
async function suspendLive(stack: Stack): Promise<Outcome> {
  const { id, url } = await databaseHolding(stack, SMALL, "kept while suspended");
  expect((await stack.driver(ADDON).request("POST", `${id}/suspend`)).status).toBe(204);
  return {
    id,
    async check() {
      expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("suspended");
      expect(await containersOf(id)).toEqual([]);
      expect(await volumeExists(`berth-${id}-data`)).toBe(true);
      await expect(pgRows(url, "SELECT 1")).rejects.toThrow();
    },
  };
}

/** A resumption of a suspended database: the survivor brings it back at the URL the platform holds, with its row, reporting nothing. */
async function resumeSuspended(stack: Stack): Promise<Outcome> {
  const { id, url } = await databaseHolding(stack, SMALL, "kept while suspended");
  expect((await stack.driver(ADDON).request("POST", `${id}/suspend`)).status).toBe(204);
  await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("suspended");
  const callsBefore = stack.standIn.calls.filter((call) => call.resourceId === id).length;
  expect((await stack.driver(ADDON).request("POST", `${id}/resume`)).status).toBe(204);
  return {
    id,
    async check() {
      expect((await stack.db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("provisioned");
      expect(await pgRows(url, "SELECT note FROM kept")).toEqual([{ note: "kept while suspended" }]);
      expect(await containersOf(id)).toEqual([`berth-${id}`]);
      expect(stack.standIn.calls.filter((call) => call.resourceId === id).length).toBe(callsBefore);
    },
  };
}

/**
 * A rotation of a database holding a row: the survivor finishes it once. The platform received one
 * new URL, which opens the database with its row; the previous one is refused; no rotation is left half done.
 */
async function rotateCredentials(stack: Stack): Promise<Outcome> {
  const { id, url } = await databaseHolding(stack, SMALL, "kept across the rotation");
  const rotated = await stack.driver(ADDON).request("POST", `${id}/credentials/rotate`);
  expect(rotated.status).toBe(202);
  return {
    id,
    async check() {
      const configs = stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config") && call.status === 200);
      const sent = [...new Set(configs.map((call) => (call.body as { config: Record<string, string> }).config.SCALINGO_POSTGRESQL_URL))];
      expect(sent).toHaveLength(2);
      expect(sent[0]).toBe(url);
      expect(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL).toBe(sent[1]);
      expect(await pgRows(sent[1]!, "SELECT note FROM kept")).toEqual([{ note: "kept across the rotation" }]);
      await expect(pgRows(url, "SELECT 1")).rejects.toThrow(/password authentication failed/);
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect([resource.status, resource.nextCredentials, resource.retiringCredentials]).toEqual(["provisioned", null, null]);
    },
  };
}

/** A read-only user added to a database holding a row: the survivor creates it; it reads the row and writes nothing. */
async function addReadOnlyUser(stack: Stack): Promise<Outcome> {
  const { id, url } = await databaseHolding(stack, SMALL, "read by another user");
  const created = await stack.driver(ADDON).request("POST", `${id}/users`, { name: "fault-reader", read_only: true });
  expect(created.status).toBe(202);
  const { password } = (created.body as { user: { password: string } }).user;
  const reader = Object.assign(new URL(url), { username: "fault-reader", password }).toString();
  return {
    id,
    async check() {
      expect(await pgRows(reader, "SELECT note FROM kept")).toEqual([{ note: "read by another user" }]);
      await expect(pgRows(reader, "INSERT INTO kept VALUES ('refused')")).rejects.toThrow(/permission denied/);
    },
  };
}

/** A provisioned database (`provisionedDatabase`) whose table `kept` holds one row, `note`. */
async function databaseHolding(stack: Stack, plan: string, note: string): Promise<{ id: string; url: string }> {
  const id = await provisionedDatabase(stack, plan);
  const url = stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!;
  await pgRows(url, `CREATE TABLE kept (note text); INSERT INTO kept VALUES ('${note}')`);
  return { id, url };
}

/**
 * A database provisioned by a helper worker, before the victim's operation. The victim is already
 * running and would take the provision's job too, but it dies only at a step of another kind.
 */
async function provisionedDatabase(stack: Stack, plan: string): Promise<string> {
  const response = await stack.driver(ADDON).provision({ plan, app_id: `fault-before-${plan}` });
  const id = (response.body as { id: string }).id;
  await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
  await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
  return id;
}

async function checkProvisionedOnce(stack: Stack, id: string): Promise<void> {
  await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
  await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
  const configCalls = stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config") && call.status === 200);
  const found = {
    containers: await containersOf(id),
    volume: await volumeExists(`berth-${id}-data`),
    provisionActions: stack.standIn.provisionActions(id),
    distinctConfigs: new Set(configCalls.map((call) => JSON.stringify(call.body))).size,
  };
  expect(found).toEqual({ containers: [`berth-${id}`], volume: true, provisionActions: 1, distinctConfigs: 1 });
  // The URL the platform holds works: no second database, no other credentials.
  expect(await pgRows(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!, "SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
}

function latestOperation(stack: Stack, id: string) {
  return stack.db.operation.findFirstOrThrow({ where: { resourceId: id }, orderBy: { seq: "desc" } });
}


function sleepThen(ms: number, value: string): Promise<string> {
  return new Promise((resolve) => setTimeout(resolve, ms, value).unref());
}

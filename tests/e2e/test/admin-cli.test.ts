import { OPERATION_KINDS, stepPercent } from "@berth/operations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBerth } from "../src/berth-cli.js";
import { startStack, type Stack } from "../src/index.js";

const WAIT = { timeout: 60_000, interval: 250 };

/** The configuration `berth` shares with the apps: the control plane and the stack's queues. */
function cliEnv(stack: Stack): Record<string, string> {
  const { BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX } = stack.env;
  return { BERTH_DATABASE_URL: BERTH_DATABASE_URL!, BERTH_REDIS_URL: BERTH_REDIS_URL!, BERTH_QUEUE_PREFIX: BERTH_QUEUE_PREFIX! };
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
    const password = new URL(stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!).password;
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
});

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ssoToken } from "@berth/protocol";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basicAuth, dockerInspect, metricSample, startStack, waitUntil, type Stack } from "../src/index.js";

const run = promisify(execFile);
const WAIT = { timeout: 120_000, interval: 250 };

/** Allocates far past a sandbox's 256 MiB: a sort with a work_mem of 1 GB keeps 20 million rows in memory. */
const OOM_QUERY = "SET work_mem = '1GB'; SELECT count(*) FROM (SELECT g, md5(g::text) FROM generate_series(1, 20000000) g ORDER BY 2) s";



/** Docker's own report of one container's events of one kind, from a moment on: what anyone watching the engine sees. */
function followDockerEvents(container: string, action: string, since: Date): { lines: string[]; stop(): void } {
  const lines: string[] = [];
  const child: ChildProcess = spawn(
    "docker",
    ["events", "--since", (since.getTime() / 1000).toFixed(3), "--filter", `container=${container}`, "--filter", `event=${action}`, "--format", "{{.TimeNano}}"],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let buffered = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split("\n");
    buffered = complete.pop()!;
    lines.push(...complete.filter(Boolean));
  });
  return { lines, stop: () => void child.kill("SIGTERM") };
}

/**
 * Containment, detected: an OOM kill or an unexpected exit of a database's process marks its
 * resource degraded with the reason, once however many workers watch, is logged, counted, shown to
 * the customer and the operators, and clears when the database answers again. Planned stops (plan
 * changes, deprovisioning) are no incidents. Two watchers run, as two workers would.
 */
describe("containment: OOM kills and unexpected exits, from Docker's events", () => {
  let stack: Stack;
  const created: string[] = [];

  beforeAll(async () => {
    stack = await startStack({ containmentWatchers: 2 });
  });
  afterAll(async () => {
    if (!stack) return;
    const driver = stack.driver("postgresql");
    for (const id of created) await driver.deprovision(id).catch(() => undefined);
    await waitUntil("test databases deprovisioned", async () => (await stack.db.resource.count({ where: { id: { in: created }, status: { not: "deprovisioned" } } })) === 0).catch(
      () => undefined,
    );
    await stack.close();
  });

  async function provision(appId: string): Promise<{ id: string; url: string; container: string }> {
    const response = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: appId });
    expect(response.status).toBe(202);
    const { id } = response.body as { id: string };
    created.push(id);
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, WAIT).toBe("provisioned");
    return { id, url: stack.standIn.addonConfig(id)!.SCALINGO_POSTGRESQL_URL!, container: `berth-${id}` };
  }

  const eventsOf = (id: string) => stack.db.containmentEvent.findMany({ where: { resourceId: id }, orderBy: { id: "asc" } });
  const statusOf = async (id: string) => stack.db.resource.findUniqueOrThrow({ where: { id }, select: { status: true, statusReason: true, plan: true } });
  /** What each watcher made of this container's events of this action. */
  const handled = (container: string, action: string) =>
    stack.containment.map((watcher) => watcher.handled.filter((event) => event.containerName === container && event.action === action).map((event) => event.outcome));

  async function metrics(): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/metrics`, { headers: { authorization: basicAuth(stack.adminCredentials()!) } });
    expect(response.status).toBe(200);
    return response.text();
  }
  const counted = async (kind: string) => metricSample(await metrics(), "berth_containment_events_total", { addon: "postgresql", kind }) ?? 0;

  async function query(url: string, sql: string): Promise<pg.QueryResult[]> {
    const client = new pg.Client({ connectionString: url });
    client.on("error", () => undefined);
    await client.connect();
    try {
      const result = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      return Array.isArray(result) ? result : [result];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  it("an OOM attack by a customer: recorded once, logged, counted, then provisioned again on the same URL", async () => {
    const { id, url, container } = await provision(`app-oom-${randomUUID().slice(0, 6)}`);
    const before = await counted("oom");
    const docker = followDockerEvents(container, "oom", new Date(Date.now() - 1000));
    try {
      // The customer's own session, with the URL the platform delivered: the kernel kills its backend.
      await expect(query(url, OOM_QUERY)).rejects.toThrow();
      await expect.poll(() => docker.lines.length, WAIT).toBeGreaterThanOrEqual(1);

      // Recorded once per Docker event, though both watchers saw each: one recorded it, the other found it recorded.
      await expect.poll(async () => (await eventsOf(id)).filter((event) => event.kind === "oom").length, WAIT).toBe(docker.lines.length);
      await waitUntil("both watchers handled the oom events", async () => handled(container, "oom").every((outcomes) => outcomes.length >= docker.lines.length));
      const outcomes = handled(container, "oom").flat();
      expect(outcomes.filter((outcome) => outcome === "recorded")).toHaveLength(docker.lines.length);
      expect(outcomes.filter((outcome) => outcome === "duplicate")).toHaveLength(docker.lines.length);
    } finally {
      docker.stop();
    }
    const [oom] = (await eventsOf(id)).filter((event) => event.kind === "oom");
    expect(oom).toMatchObject({ addon: "postgresql", containerName: container, reason: "out of memory: the plan's 256 MiB limit was reached" });

    // Counted in the API's metrics, once per event.
    const oomEvents = (await eventsOf(id)).filter((event) => event.kind === "oom").length;
    expect((await counted("oom")) - before).toBe(oomEvents);

    // One log line per event, naming the database and the reason, without secrets.
    const lines = stack.workerLog.map((line) => JSON.parse(line) as Record<string, unknown>);
    const logged = lines.filter((line) => line.msg === "containment: database degraded" && line.resourceId === id && line.kind === "oom");
    expect(logged).toHaveLength(oomEvents);
    expect(logged[0]).toMatchObject({ reason: "out of memory: the plan's 256 MiB limit was reached", containerName: container, plan: "postgresql-sandbox" });
    const password = new URL(url).password;
    expect(stack.workerLog.join("\n")).not.toContain(password);

    // PostgreSQL recovers by itself; the database answers again: provisioned, the event kept with its recovery.
    await expect.poll(async () => (await statusOf(id)).status, WAIT).toBe("provisioned");
    await expect.poll(async () => (await eventsOf(id)).every((event) => event.recoveredAt !== null), WAIT).toBe(true);
    expect((await statusOf(id)).statusReason).toBeNull();
    const [answer] = await query(url, "SELECT 42 AS answer");
    expect(answer!.rows).toEqual([{ answer: 42 }]);
  });

  it("an unexpected exit: degraded with the exit code, shown on the dashboard and the operator page; back after a plan change, and after Docker's restart", async () => {
    const { id, url, container } = await provision(`app-exit-${randomUUID().slice(0, 6)}`);
    await query(url, "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')");
    const before = await counted("exit");

    // `docker kill` with SIGKILL: Docker 20.10 takes it as a stop by hand and does not restart the
    // container, so it stays down, degraded, until something brings it back.
    await run("docker", ["kill", "--signal", "KILL", container]);
    await expect.poll(async () => statusOf(id), WAIT).toMatchObject({ status: "degraded", statusReason: "the database process exited with code 137" });
    expect(await eventsOf(id)).toMatchObject([{ kind: "exit", exitCode: 137, reason: "the database process exited with code 137", recoveredAt: null }]);

    // The customer's dashboard: status, reason, incidents.
    const timestamp = Math.floor(Date.now() / 1000);
    const sso = await fetch(
      `${stack.apiUrl}/postgresql/sso?id=${id}&timestamp=${timestamp}&token=${ssoToken(id, stack.credentials("postgresql").ssoSalt, timestamp)}`,
      { redirect: "manual" },
    );
    expect(sso.status).toBe(303);
    const cookie = sso.headers.get("set-cookie")!.split(";")[0]!;
    const dashboard = await (await fetch(`${stack.apiUrl}/dashboard/${id}`, { headers: { cookie } })).text();
    expect(dashboard).toContain('data-testid="status">degraded</span>');
    expect(dashboard).toMatch(/data-testid="status-reason"><strong>Why:<\/strong> the database process exited with code 137/);
    const incidents = dashboard.slice(dashboard.indexOf('data-testid="containment-events"'));
    expect(incidents).toContain("the database process exited with code 137");
    expect(incidents).toContain("not yet");

    // The operator page: among the degraded databases, and in the containment events.
    const admin = await (await fetch(`${stack.apiUrl}/admin?addon=postgresql`, { headers: { authorization: basicAuth(stack.adminCredentials()!) } })).text();
    const degraded = admin.slice(admin.indexOf('data-testid="degraded-resources"'), admin.indexOf('data-testid="containment-events"'));
    expect(degraded).toContain(`<tr data-resource-id="${id}">`);
    expect(degraded).toContain("the database process exited with code 137");
    const events = admin.slice(admin.indexOf('data-testid="containment-events"'));
    expect(events).toContain(`<tr data-resource-id="${id}">`);
    expect(await (await fetch(`${stack.apiUrl}/admin?status=degraded`, { headers: { authorization: basicAuth(stack.adminCredentials()!) } })).text()).toContain(
      `<code>${id}</code>`,
    );
    expect(metricSample(await metrics(), "berth_resources", { addon: "postgresql", plan: "postgresql-sandbox", status: "degraded" })).toBeGreaterThanOrEqual(1);

    // A degraded database accepts a plan change: the new container answers, provisioned, the event settled.
    expect((await stack.driver("postgresql").changePlan(id, "postgresql-starter-512")).status).toBe(200);
    await expect.poll(async () => statusOf(id), WAIT).toMatchObject({ status: "provisioned", plan: "postgresql-starter-512", statusReason: null });
    await expect.poll(async () => (await eventsOf(id))[0]?.recoveredAt ?? null, WAIT).not.toBeNull();

    // A crash: the main process killed from outside Docker (as the kernel would); the restart policy restarts it.
    const restartsBefore = await restartCount(container);
    const pid = await mainPid(container);
    process.kill(pid, "SIGKILL");
    await expect.poll(async () => (await eventsOf(id)).length, WAIT).toBe(2);
    expect((await eventsOf(id))[1]).toMatchObject({ kind: "exit", exitCode: 137, reason: "the database process exited with code 137" });
    await expect.poll(() => restartCount(container), WAIT).toBeGreaterThan(restartsBefore);
    await expect.poll(async () => (await statusOf(id)).status, WAIT).toBe("provisioned");
    await expect.poll(async () => (await eventsOf(id)).every((event) => event.recoveredAt !== null), WAIT).toBe(true);
    const [notes] = await query(url, "SELECT body FROM notes");
    expect(notes!.rows).toEqual([{ body: "kept" }]);

    expect((await counted("exit")) - before).toBe(2);
    const recordedDies = handled(container, "die").flat().filter((outcome) => outcome === "recorded");
    expect(recordedDies).toHaveLength(2);
  });

  it("a plan change and a deprovision are no incidents", async () => {
    const { id, container } = await provision(`app-planned-${randomUUID().slice(0, 6)}`);
    const driver = stack.driver("postgresql");
    expect((await driver.changePlan(id, "postgresql-starter-512")).status).toBe(200);
    await expect.poll(async () => statusOf(id), WAIT).toMatchObject({ status: "provisioned", plan: "postgresql-starter-512" });
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await statusOf(id)).status, WAIT).toBe("deprovisioned");

    // Each watcher saw both removals (the old container's for the plan change, then the last one's)
    // and everything before them, in order: the stops were handled, and ignored.
    await waitUntil("both watchers handled both removals", async () => handled(container, "destroy").every((outcomes) => outcomes.length >= 2));
    for (const outcomes of handled(container, "die")) {
      expect(outcomes.length).toBeGreaterThanOrEqual(2);
      expect(outcomes.every((outcome) => outcome === "ignored")).toBe(true);
    }
    expect(await eventsOf(id)).toEqual([]);
    expect(await dockerInspect(container)).toBeUndefined();
  });
});

/**
 * Another way to the Docker Engine the test can cut: the stack's worker talks to the engine
 * through it, the test (docker CLI) directly. Cutting ends every connection and refuses new ones.
 */
async function dockerSocketProxy(target = "/var/run/docker.sock") {
  const dir = await mkdtemp(join(tmpdir(), "berth-docker-proxy-"));
  const path = join(dir, "docker.sock");
  const open = new Set<net.Socket>();
  // Half-open both ways: Docker's exec ends its stdin with a half-close and still answers.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ path: target, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => undefined);
    }
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const listen = async () => {
    await rm(path, { force: true });
    await new Promise<void>((resolve) => server.listen(path, resolve));
  };
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of open) socket.destroy();
    await closed;
  };
  await listen();
  return {
    host: `unix://${path}`,
    cut,
    restore: listen,
    async close() {
      if (server.listening) await cut();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe("containment across a gap in Docker's events", () => {
  let proxy: Awaited<ReturnType<typeof dockerSocketProxy>>;
  let stack: Stack;
  let id: string | undefined;

  beforeAll(async () => {
    proxy = await dockerSocketProxy();
    stack = await startStack({ containmentWatchers: 2, env: { DOCKER_HOST: proxy.host } });
  });
  afterAll(async () => {
    if (stack && id) {
      await stack.driver("postgresql").deprovision(id);
      await waitUntil("database deprovisioned", async () => (await stack.db.resource.findUnique({ where: { id: id! } }))?.status === "deprovisioned").catch(
        () => undefined,
      );
    }
    await stack?.close();
    await proxy?.close();
  });

  it("subscribes again with backoff, and records a stop that happened meanwhile once (replay and resynchronisation)", async () => {
    const response = await stack.driver("postgresql").provision({ plan: "postgresql-sandbox", app_id: `app-gap-${randomUUID().slice(0, 6)}` });
    id = (response.body as { id: string }).id;
    await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: id! } }))?.status, WAIT).toBe("provisioned");
    const container = `berth-${id}`;
    const failures = () =>
      stack.workerLog.filter((line) => (JSON.parse(line) as { msg?: string }).msg === "containment: Docker's event stream failed; subscribing again").length;

    // The engine out of the worker's reach: both watchers' streams fail, and keep failing.
    const failedBefore = failures();
    await proxy.cut();
    await expect.poll(failures, WAIT).toBeGreaterThanOrEqual(failedBefore + 4);
    const resyncsBefore = stack.containment.map((watcher) => watcher.resyncs);
    // Meanwhile the database stops (and stays down: see the test above on `docker kill`).
    await run("docker", ["kill", "--signal", "KILL", container]);

    await proxy.restore();
    await waitUntil("both watchers subscribed again and resynchronised", async () =>
      stack.containment.every((watcher, index) => watcher.resyncs > resyncsBefore[index]!),
    );
    // Docker replays the stop to both; one of the four (two replays, two resynchronisations) records it.
    await waitUntil("both watchers handled the replayed stop", async () =>
      stack.containment.every((watcher) => watcher.handled.some((event) => event.containerName === container && event.action === "die")),
    );
    const events = await stack.db.containmentEvent.findMany({ where: { resourceId: id } });
    expect(events).toMatchObject([{ kind: "exit", exitCode: 137 }]);
    expect(await stack.db.resource.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "degraded",
      statusReason: expect.stringContaining("the database process exited with code 137"),
    });

    // Started again (an operator): the watchers see it start, probe, and it is provisioned.
    await run("docker", ["start", container]);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id: id! } }))?.status, WAIT).toBe("provisioned");
    expect((await stack.db.containmentEvent.findFirstOrThrow({ where: { resourceId: id } })).recoveredAt).not.toBeNull();
  });
});

async function mainPid(container: string): Promise<number> {
  const { stdout } = await run("docker", ["inspect", "-f", "{{.State.Pid}}", container]);
  const pid = Number(stdout.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`container ${container} has no main process`);
  return pid;
}

async function restartCount(container: string): Promise<number> {
  const { stdout } = await run("docker", ["inspect", "-f", "{{.RestartCount}}", container]);
  return Number(stdout.trim());
}

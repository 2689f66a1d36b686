/**
 * Berth's benchmark, against real Redis, PostgreSQL, Docker and containers.
 * Prints a table per part and writes bench-results/bench.json.
 *
 *   bash scripts/bench.sh [--runs N] [--concurrent N] [--seconds S]
 *
 * 1. accept path: POST /<addon>/resources with no worker running (accept + record + enqueue),
 *    on Berth's API in a process of its own, beside a bare Fastify route in a process of its
 *    own, loaded by the same client, as a ratio;
 * 2. end to end per engine: POST → provision callback at the platform stand-in, cold, p50/p95;
 *    then PostgreSQL from a warm pool;
 * 3. N provisions at once: time until all are provisioned, and failures;
 * 4. plan change and deprovision times; API and worker memory (RSS);
 * 5. isolation: Redis and PostgreSQL on their Unix socket directly vs through the gateway
 *    (latency, throughput with redis-benchmark and pgbench), the gateway's memory per database
 *    (bench/isolation.ts);
 * 6. backups: backup and restore throughput of a PostgreSQL database of each `--backup-sizes` MiB
 *    (default 100,1024) and the worker's peak RSS, beside `pg_dump | gzip` by hand (bench/backups.ts).
 *
 * 7. pitr: PostgreSQL's point-in-time recovery after a lost host: the recovery point (how long before
 *    the loss the last recovered write was made) and the restore time, `--pitr-trials` times (default
 *    3) after `--pitr-seconds` (default 90) of writes, on a database of `--pitr-size` MiB (default 100)
 *    (bench/point-in-time.ts).
 * 8. rotation: per engine with rotations, `--runs` credential rotations while an app opens a session
 *    every 20 ms with the URL it holds: the new URL's delay, the whole rotation with a grace period
 *    of `--rotation-grace` s (default 2), the sessions refused (bench/rotation.ts).
 * `--only accept,engines,warm,isolation,backups,pitr,rotation` runs some parts (default: all); bench.json then holds those.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { addons } from "@berth/addons";
import autocannon from "autocannon";
import { freePort } from "../src/ports.js";
import { startStack, waitUntil, type Stack } from "../src/index.js";
import { benchBackups } from "./backups.js";
import { benchIsolation } from "./isolation.js";
import { benchPointInTime } from "./point-in-time.js";
import { benchRotation } from "./rotation.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    concurrent: { type: "string", default: "20" },
    seconds: { type: "string", default: "5" },
    only: { type: "string", default: "accept,engines,warm,isolation,backups,pitr,rotation" },
    rounds: { type: "string", default: "2000" },
    requests: { type: "string", default: "50000" },
    "idle-routes": { type: "string", default: "20" },
    "backup-sizes": { type: "string", default: "100,1024" },
    "pitr-size": { type: "string", default: "100" },
    "pitr-trials": { type: "string", default: "3" },
    "pitr-seconds": { type: "string", default: "90" },
    "rotation-grace": { type: "string", default: "2" },
  },
});
const runs = Number(values.runs);
const concurrent = Number(values.concurrent);
const seconds = Number(values.seconds);
const SECTIONS = ["accept", "engines", "warm", "isolation", "backups", "pitr", "rotation"];
const only = new Set(values.only.split(",").map((part) => part.trim()).filter(Boolean));
for (const section of only) if (!SECTIONS.includes(section)) throw new Error(`--only: unknown part "${section}" (parts: ${SECTIONS.join(", ")})`);
const want = (section: string) => only.has(section);

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const ms = (value: number) => Math.round(value);
const rssMiB = async (pid: number) => ms(Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024);
const results: Record<string, unknown> = { at: new Date().toISOString(), parts: [...only], runs, concurrent, seconds };

async function load(url: string, headers: Record<string, string>, body: () => string, duration = seconds, connections = 20) {
  const result = await autocannon({
    url,
    method: "POST",
    connections,
    duration,
    headers: { "content-type": "application/json", ...headers },
    requests: [{ setupRequest: (request) => ({ ...request, body: body() }) }],
  });
  return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}

/** A TypeScript entry point in a process of its own, ready once `healthUrl` answers. */
async function startProcess(entry: string, env: Record<string, string>, healthUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL(entry, import.meta.url))], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  await waitUntil(`${entry} to answer`, async () => (await fetch(healthUrl).catch(() => undefined))?.ok === true, { timeoutMs: 30_000, intervalMs: 100 });
  return child;
}
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}

// 1. The accept path, with no worker: what the platform waits for. Both servers log warnings only.
let apiRssMiB = 0;
if (want("accept")) {
  const stack = await startStack({ inProcessWorker: false });
  const [barePort, apiPort] = [await freePort(), await freePort()];
  const bare = await startProcess("./bare-server.ts", { PORT: String(barePort) }, `http://127.0.0.1:${barePort}/health`);
  const api = await startProcess(
    "../../../apps/api/src/server.ts",
    { ...stack.env, BERTH_API_PORT: String(apiPort), LOG_LEVEL: "warn" },
    `http://127.0.0.1:${apiPort}/health`,
  );
  try {
    const { username, password } = stack.credentials("postgresql");
    const authorization = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    const bareLoad = (duration?: number, connections?: number) => load(`http://127.0.0.1:${barePort}/bare`, {}, () => "{}", duration, connections);
    const acceptLoad = (duration?: number, connections?: number) =>
      load(
        `http://127.0.0.1:${apiPort}/postgresql/resources`,
        { authorization },
        () => JSON.stringify({ plan: "postgresql-sandbox", app_id: "bench", uuid: randomUUID() }),
        duration,
        connections,
      );
    // Steady state: a second of load first, so lazy compilation and connection pools are not measured.
    await bareLoad(1);
    await acceptLoad(1);
    const bareResult = await bareLoad();
    const accept = await acceptLoad();
    // What one platform request waits for when it is alone, as provisioning requests usually are.
    const acceptAlone = await acceptLoad(seconds, 1);
    const ratio = Number((accept.rps / bareResult.rps).toFixed(3));
    apiRssMiB = await rssMiB(api.pid!);
    results.acceptPath = { berth: accept, bareFastify: bareResult, ratio, berthOneConnection: acceptAlone, apiRssMiB };
    console.log("\n1. Accept path (POST, no worker), %d s each, each server in its own process", seconds);
    console.table({
      "bare Fastify route, 20 connections": bareResult,
      "POST /postgresql/resources, 20 connections": accept,
      "POST /postgresql/resources, 1 connection": acceptAlone,
    });
    console.log("ratio: %s of the bare route's throughput; API RSS after the load: %d MiB", ratio.toFixed(2), apiRssMiB);
  } finally {
    await Promise.all([stopProcess(bare), stopProcess(api)]);
    await stack.close(); // the queued resources were never built: the harness marks them removed
  }
}

if (want("engines")) {
  const stack: Stack = await startStack({ inProcessWorker: false, workerConcurrency: 8 });
  const worker = await stack.spawnWorker();
  try {
    // 2. End to end per engine, cold, one at a time.
    const endToEnd: Record<string, { p50: number; p95: number; runs: number[] }> = {};
    for (const addon of addons.values()) {
      const driver = stack.driver(addon.id);
      const timings: number[] = [];
      for (let run = 0; run < runs; run++) {
        const started = performance.now();
        const response = await driver.provision({ plan: addon.plans[0]!.name, app_id: `bench-${run}` });
        if (response.status !== 202) throw new Error(`provision answered ${response.status}: ${JSON.stringify(response.body)}`);
        const { id } = response.body as { id: string };
        await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
        timings.push(performance.now() - started);
        await driver.deprovision(id);
      }
      endToEnd[addon.id] = { p50: ms(percentile(timings, 50)), p95: ms(percentile(timings, 95)), runs: timings.map(ms) };
    }
    results.endToEnd = endToEnd;
    console.log("\n2. POST → provision callback, %d cold runs per engine (ms)", runs);
    console.table(Object.fromEntries(Object.entries(endToEnd).map(([id, r]) => [id, { p50: r.p50, p95: r.p95 }])));

    // 3. Many at once.
    {
      const driver = stack.driver("postgresql");
      const started = performance.now();
      const ids = await Promise.all(
        Array.from({ length: concurrent }, async (_, index) => {
          const response = await driver.provision({ plan: "postgresql-sandbox", app_id: `burst-${index}` });
          return (response.body as { id: string }).id;
        }),
      );
      await waitUntil(
        `${concurrent} provisions`,
        async () => (await stack.db.resource.count({ where: { id: { in: ids }, status: { in: ["provisioned", "failed"] } } })) === concurrent,
        { timeoutMs: 600_000, intervalMs: 100 },
      );
      const elapsed = performance.now() - started;
      const failed = await stack.db.resource.count({ where: { id: { in: ids }, status: "failed" } });
      results.burst = { concurrent, allDoneMs: ms(elapsed), failures: failed };
      console.log(`\n3. ${concurrent} PostgreSQL provisions at once: all done in ${ms(elapsed)} ms, ${failed} failures`);

      // 4. Plan change and deprovision, measured on these databases.
      const changeTimings: number[] = [];
      for (const id of ids.slice(0, 5)) {
        const changeStarted = performance.now();
        await driver.changePlan(id, "postgresql-starter-512");
        await waitUntil("plan change", async () => (await stack.db.resource.findUnique({ where: { id } }))?.plan === "postgresql-starter-512", { intervalMs: 25 });
        changeTimings.push(performance.now() - changeStarted);
      }
      const deprovisionTimings: number[] = [];
      for (const id of ids) {
        const deprovisionStarted = performance.now();
        await driver.deprovision(id);
        await waitUntil("deprovision", async () => (await stack.db.resource.findUnique({ where: { id } }))?.status === "deprovisioned", { intervalMs: 25 });
        deprovisionTimings.push(performance.now() - deprovisionStarted);
      }
      results.operations = {
        planChange: { p50: ms(percentile(changeTimings, 50)), max: ms(Math.max(...changeTimings)) },
        deprovision: { p50: ms(percentile(deprovisionTimings, 50)), max: ms(Math.max(...deprovisionTimings)) },
      };
      results.memory = { workerRssMiB: await rssMiB(worker.pid), apiRssMiB };
      console.log("\n4. Operations (ms) and memory (MiB; the API's after part 1's load)");
      console.table(results.operations);
      console.table(results.memory);
    }
  } finally {
    await stack.close();
  }
}

// 2b. PostgreSQL from a warm pool: each run starts with the pool full, as a steady deployment has it.
if (want("warm")) {
  const poolSize = 2;
  const plan = "postgresql-sandbox";
  const warmStack = await startStack({ inProcessWorker: false, env: { BERTH_WARM_POOL: `${plan}=${poolSize}` } });
  const poolWorker = await warmStack.spawnWorker();
  try {
    const driver = warmStack.driver("postgresql");
    const warmCount = () => warmStack.db.resource.count({ where: { plan, status: "warm", appId: "" } });
    const timings: number[] = [];
    for (let run = 0; run < runs; run++) {
      await waitUntil("a full warm pool", async () => (await warmCount()) === poolSize, { timeoutMs: 120_000, intervalMs: 50 });
      const started = performance.now();
      const response = await driver.provision({ plan, app_id: `bench-warm-${run}` });
      const { id } = response.body as { id: string };
      await warmStack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
      timings.push(performance.now() - started);
      const resource = await warmStack.db.resource.findUniqueOrThrow({ where: { id } });
      if (resource.claimedAt === null) throw new Error(`run ${run}: ${id} was built, not claimed from the pool`);
      await driver.deprovision(id);
    }
    const warm = { p50: ms(percentile(timings, 50)), p95: ms(percentile(timings, 95)), runs: timings.map(ms), poolSize };
    results.endToEnd = { ...(results.endToEnd as Record<string, unknown> | undefined), "postgresql (warm pool)": warm };
    console.log("\n2b. PostgreSQL from a warm pool of %d, %d runs (ms)", poolSize, runs);
    console.table({ "postgresql (warm pool)": { p50: warm.p50, p95: warm.p95 } });
  } finally {
    await poolWorker.stop();
    await warmStack.close();
  }
}

// 5. Isolation: what the gateway costs.
if (want("isolation")) {
  results.isolation = await benchIsolation({ rounds: Number(values.rounds), seconds, requests: Number(values.requests), idleRoutes: Number(values["idle-routes"]) });
}

// 6. Backups: throughput and the worker's memory as the database grows.
if (want("backups")) {
  results.backups = await benchBackups({ sizesMiB: values["backup-sizes"].split(",").map(Number) });
}

// 7. Point-in-time recovery: what a lost host loses, and how long the recovery takes.
if (want("pitr")) {
  results.pitr = await benchPointInTime({ sizeMiB: Number(values["pitr-size"]), trials: Number(values["pitr-trials"]), writingSeconds: Number(values["pitr-seconds"]) });
}

// 8. Credential rotation: what an app sees while its database's password changes.
if (want("rotation")) {
  results.rotation = await benchRotation({ runs, graceSeconds: Number(values["rotation-grace"]) });
}

await mkdir("../../bench-results", { recursive: true });
await writeFile("../../bench-results/bench.json", JSON.stringify(results, null, 2));
console.log("\nwritten: bench-results/bench.json");

/**
 * The bench's isolation part: what the gateway costs. For Redis and PostgreSQL, each listening
 * only on a Unix socket in its volume, the same client directly on the socket and through the
 * gateway's TCP port (the gateway in a process of its own, as deployed):
 *   - round-trip latency of N sequential PING / SELECT 1 (p50, p99);
 *   - throughput: redis-benchmark (SET, GET) and pgbench select-only (-S);
 *   - the gateway's RSS per database: with N idle routes minus with none.
 * Its containers carry a deployment id of their own and are removed at the end.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DockerRuntime } from "@berth/worker/testing";
import type { ContainerSpec } from "@berth/addon-sdk";
import { Redis } from "ioredis";
import pg from "pg";
import { freePort } from "../src/ports.js";
import { waitUntil } from "../src/wait.js";

const run = promisify(execFile);
const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";

export interface IsolationOptions {
  /** Sequential queries per latency measurement. */
  rounds: number;
  /** Seconds of pgbench; redis-benchmark runs `requests` requests per test. */
  seconds: number;
  requests: number;
  /** Idle Redis databases for the RSS measurement. */
  idleRoutes: number;
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
}

const percentile = (samples: number[], p: number) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};
const round3 = (value: number) => Math.round(value * 1000) / 1000;

/** Times `rounds` sequential calls of `once`, after a warm-up of a tenth of them. */
async function latency(rounds: number, call: () => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < Math.ceil(rounds / 10); i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return { p50Ms: round3(percentile(samples, 50)), p99Ms: round3(percentile(samples, 99)) };
}

const rssKiB = async (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);

/** The gateway in a process of its own (`gateway-main.ts`), ready once `/health/ready` answers. */
async function startGateway(deploymentId: string): Promise<{ child: ChildProcess; url: string }> {
  const httpPort = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../../apps/worker/src/gateway-main.ts", import.meta.url))], {
    cwd: fileURLToPath(new URL("../../../apps/worker", import.meta.url)),
    env: { ...process.env, BERTH_DEPLOYMENT_ID: deploymentId, BERTH_GATEWAY_HTTP_PORT: String(httpPort), LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${httpPort}`;
  await waitUntil("the gateway to be ready", async () => (await fetch(`${url}/health/ready`).catch(() => undefined))?.ok === true, {
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  return { child, url };
}

async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await once(child, "exit");
}

/** The gateway's `berth_gateway_routes{state="listening"}`. */
async function listeningRoutes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^berth_gateway_routes\{state="listening"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

export async function benchIsolation(options: IsolationOptions): Promise<Record<string, unknown>> {
  const deploymentId = `bench-gw-${randomBytes(4).toString("hex")}`;
  const idleDeploymentId = `${deploymentId}-idle`;
  const dockerHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  const runtime = new DockerRuntime({ dockerHost, deploymentId });
  const idleRuntime = new DockerRuntime({ dockerHost, deploymentId: idleDeploymentId });
  const redisImage = process.env.BERTH_ADDON_REDIS_IMAGE ?? "berth-local/redis:7";
  const postgresImage = process.env.BERTH_ADDON_POSTGRESQL_IMAGE ?? "berth-local/postgresql:15";
  const gateways: ChildProcess[] = [];

  type BenchSpec = Omit<ContainerSpec, "memoryBytes" | "nanoCpus" | "pidsLimit" | "files" | "fileOwner">;
  async function database(on: DockerRuntime, addonId: string, spec: BenchSpec, memoryMiB: number) {
    const resourceId = randomUUID();
    const name = `berth-${on === runtime ? deploymentId : idleDeploymentId}-${resourceId.slice(0, 8)}`;
    const labels = { resourceId, addonId, plan: "bench" };
    const port = await freePort();
    await on.ensureVolume(`${name}-data`, labels, 1024);
    await on.ensureContainerRunning({
      name,
      volumeName: `${name}-data`,
      labels,
      port,
      // No files for the engine: these databases take their settings on the command line. (Both
      // images' engines run as uid 999.)
      spec: { ...noFiles, ...spec, memoryBytes: memoryMiB * 1024 * 1024, nanoCpus: 1_000_000_000, pidsLimit: 256 },
    });
    const route = (await on.listGatewayRoutes()).find((candidate) => candidate.resourceId === resourceId);
    if (!route) throw new Error(`no gateway route for ${name}`);
    return { name, port, socketPath: route.socketPath };
  }
  const noFiles = { files: [], fileOwner: { uid: 999, gid: 999 } };
  const redisSpec = {
    image: redisImage,
    command: ["redis-server", "--port", "0", "--unixsocket", "/data/redis.sock", "--unixsocketperm", "777", "--dir", "/data", "--save", "", "--appendonly", "no"],
    env: {},
    dataPath: "/data",
    socketPath: "/data/redis.sock",
    stopTimeoutSeconds: 5,
  };

  try {
    // ------------------------------------------------------------------ the two databases
    const redisDb = await database(runtime, "redis", redisSpec, 128);
    const pgData = "/var/lib/postgresql/data";
    const postgresDb = await database(
      runtime,
      "postgresql",
      {
        image: postgresImage,
        command: ["postgres", "-c", "listen_addresses=", "-c", `unix_socket_directories=${pgData}`, "-c", "max_connections=50"],
        env: { POSTGRES_PASSWORD: randomBytes(16).toString("hex") },
        dataPath: pgData,
        socketPath: `${pgData}/.s.PGSQL.5432`,
        stopTimeoutSeconds: 10,
      },
      512,
    );
    const pgSocketDir = dirname(postgresDb.socketPath);
    const gateway = await startGateway(deploymentId);
    gateways.push(gateway.child);
    await waitUntil("the gateway's two routes", async () => (await listeningRoutes(gateway.url)) === 2, { timeoutMs: 60_000 });

    const redisDirect = new Redis({ path: redisDb.socketPath, lazyConnect: true });
    const redisGateway = new Redis({ host: "127.0.0.1", port: redisDb.port, lazyConnect: true });
    const redisAnswers = async () => {
      const probe = new Redis({ path: redisDb.socketPath, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on("error", () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === "PONG";
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    };
    // The local image trusts its socket (pg_hba `local ... trust`): no password on either path.
    const pgConfig = { user: "postgres", database: "postgres" };
    const pgDirect = new pg.Client({ ...pgConfig, host: pgSocketDir, port: 5432 });
    const pgGateway = new pg.Client({ ...pgConfig, host: "127.0.0.1", port: postgresDb.port });
    await waitUntil("Redis on its socket", redisAnswers, { timeoutMs: 60_000 });
    await waitUntil("PostgreSQL on its socket", async () => {
      const probe = new pg.Client({ ...pgConfig, host: pgSocketDir, port: 5432 });
      try {
        await probe.connect();
        await probe.query("SELECT 1");
        return true;
      } catch {
        return false;
      } finally {
        await probe.end().catch(() => undefined);
      }
    }, { timeoutMs: 60_000, intervalMs: 250 });
    await Promise.all([redisDirect.connect(), redisGateway.connect(), pgDirect.connect(), pgGateway.connect()]);

    // ------------------------------------------------------------------ latency
    const latencies = {
      "redis PING": {
        direct: await latency(options.rounds, () => redisDirect.ping()),
        gateway: await latency(options.rounds, () => redisGateway.ping()),
      },
      "postgresql SELECT 1": {
        direct: await latency(options.rounds, () => pgDirect.query("SELECT 1")),
        gateway: await latency(options.rounds, () => pgGateway.query("SELECT 1")),
      },
    };
    redisDirect.disconnect();
    redisGateway.disconnect();
    await Promise.all([pgDirect.end(), pgGateway.end()]);

    // ------------------------------------------------------------------ throughput
    const redisBenchmark = async (target: string[]) => {
      const { stdout } = await run("redis-benchmark", [...target, "-c", "20", "-n", String(options.requests), "-t", "set,get", "--csv"], { timeout: 120_000 });
      // "test","rps",...: one line per test after the header
      const rps = (test: string) => Math.round(Number(new RegExp(`^"${test}","([\\d.]+)"`, "m").exec(stdout)?.[1]));
      return { setRps: rps("SET"), getRps: rps("GET") };
    };
    const pgbench = async (target: string[]) => {
      const { stdout } = await run(PGBENCH, [...target, "-U", "postgres", "-n", "-S", "-c", "8", "-j", "2", "-T", String(options.seconds), "postgres"], {
        timeout: (options.seconds + 60) * 1000,
      });
      return { tps: Math.round(Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1])) };
    };
    await run(PGBENCH, ["-h", pgSocketDir, "-p", "5432", "-U", "postgres", "-i", "-s", "1", "-q", "postgres"], { timeout: 120_000 });
    const throughput = {
      "redis-benchmark (20 clients)": {
        direct: await redisBenchmark(["-s", redisDb.socketPath]),
        gateway: await redisBenchmark(["-h", "127.0.0.1", "-p", String(redisDb.port)]),
      },
      "pgbench -S (8 clients)": {
        direct: await pgbench(["-h", pgSocketDir, "-p", "5432"]),
        gateway: await pgbench(["-h", "127.0.0.1", "-p", String(postgresDb.port)]),
      },
    };
    await stopGateway(gateway.child);

    // ------------------------------------------------------------------ RSS per route
    const idle = await startGateway(idleDeploymentId);
    gateways.push(idle.child);
    // A scrape first, and a moment: what the first requests allocate is not a route's cost.
    await listeningRoutes(idle.url);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rssNone = await rssKiB(idle.child.pid!);
    for (let i = 0; i < options.idleRoutes; i++) await database(idleRuntime, "redis", redisSpec, 32);
    await waitUntil(`${options.idleRoutes} routes`, async () => (await listeningRoutes(idle.url)) === options.idleRoutes, { timeoutMs: 120_000 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rssWith = await rssKiB(idle.child.pid!);
    await stopGateway(idle.child);
    const memory = {
      idleRoutes: options.idleRoutes,
      rssNoneMiB: round3(rssNone / 1024),
      rssWithMiB: round3(rssWith / 1024),
      perRouteKiB: Math.round((rssWith - rssNone) / options.idleRoutes),
    };

    // ------------------------------------------------------------------ report
    console.log("\n5. Isolation: each database on a Unix socket only; directly on the socket vs through the gateway's port");
    console.log("latency of %d sequential queries (ms)", options.rounds);
    console.table(
      Object.fromEntries(
        Object.entries(latencies).map(([what, { direct, gateway: via }]) => [
          what,
          { "direct p50": direct.p50Ms, "gateway p50": via.p50Ms, "direct p99": direct.p99Ms, "gateway p99": via.p99Ms, "added p50": round3(via.p50Ms - direct.p50Ms) },
        ]),
      ),
    );
    console.log("throughput (redis-benchmark -n %d per test; pgbench %d s)", options.requests, options.seconds);
    console.table({
      "redis SET (rps)": { direct: throughput["redis-benchmark (20 clients)"].direct.setRps, gateway: throughput["redis-benchmark (20 clients)"].gateway.setRps },
      "redis GET (rps)": { direct: throughput["redis-benchmark (20 clients)"].direct.getRps, gateway: throughput["redis-benchmark (20 clients)"].gateway.getRps },
      "pgbench -S (tps)": { direct: throughput["pgbench -S (8 clients)"].direct.tps, gateway: throughput["pgbench -S (8 clients)"].gateway.tps },
    });
    console.log("gateway memory: RSS %s MiB with no route, %s MiB with %d idle routes: %d KiB per database", memory.rssNoneMiB, memory.rssWithMiB, memory.idleRoutes, memory.perRouteKiB);
    return { rounds: options.rounds, latency: latencies, throughput, memory };
  } finally {
    await Promise.all(gateways.map(stopGateway));
    for (const id of [deploymentId, idleDeploymentId]) {
      const filter = `label=berth.deployment=${id}`;
      const containers = (await run("docker", ["ps", "-aq", "--filter", filter])).stdout.split("\n").filter(Boolean);
      if (containers.length > 0) await run("docker", ["rm", "-f", ...containers]);
      const volumes = (await run("docker", ["volume", "ls", "-q", "--filter", filter])).stdout.split("\n").filter(Boolean);
      if (volumes.length > 0) await run("docker", ["volume", "rm", ...volumes]);
    }
  }
}

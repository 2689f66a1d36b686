/**
 * Deploying with Docker (docker/): builds the api, worker, migrate and stand-in images on the
 * local Node base (no base image can be pulled here), runs docker/compose.yml on the real engine
 * (its own Redis, PostgreSQL, migrations, API, worker, and the trial stand-in) on ports of its
 * own, provisions a PostgreSQL database through the containerized API and worker, uses it,
 * deprovisions it, and takes the stack down leaving nothing behind.
 *
 * The platform's side is a stand-in in this process: the containerized worker calls it back.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { addons } from "@berth/addons";
import { startPlatformStandIn, type PlatformStandIn } from "@berth/platform-standin";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addonSecretsEnv } from "../src/addon-env.js";
import { ComposeProject, acquireMachineLock, composeObjects, removeComposeLeftovers, repoRoot, runFromRoot } from "../src/compose.js";
import { containersOf, dockerInspect, volumeExists } from "../src/docker.js";
import { waitUntil } from "../src/wait.js";

const PROJECT = "berth-deploy-test";
const PORTS = { redis: 6399, postgres: 5439, api: 4400, standin: 4500, gateway: 4402 } as const;
const DATABASE_PORTS = { first: 31_000, last: 31_099 };
const API_URL = `http://127.0.0.1:${PORTS.api}`;

const secret = () => randomBytes(24).toString("hex");
const credentials = new Map([...addons.keys()].map((id) => [id, { username: `berth-${id}`, password: secret(), ssoSalt: secret() }]));

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port }, () => server.close(() => resolve(true)));
  });
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  console.info(`[deploy-stack] ${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

describe("Deploying with Docker: images on the local base, the compose stack, a database provisioned through it", () => {
  let standIn: PlatformStandIn | undefined;
  let project: ComposeProject | undefined;
  let releaseLock: (() => Promise<void>) | undefined;
  const provisioned: string[] = [];

  async function tearDown(): Promise<void> {
    try {
      if (project) {
        // the stack's logs, for whoever reads a failure
        const logs = await project.compose("logs", "--no-color").catch((error: Error) => error.message);
        await mkdir(path.join(repoRoot, "test-results"), { recursive: true });
        await writeFile(path.join(repoRoot, "test-results/deploy-stack-compose.log"), logs);
        // databases a failed test did not deprovision
        for (const id of provisioned) {
          for (const container of await containersOf(id)) await runFromRoot("docker", ["rm", "-f", container]);
          if (await volumeExists(`berth-${id}-data`)) await runFromRoot("docker", ["volume", "rm", "-f", `berth-${id}-data`]);
        }
        await project.compose("down", "--volumes", "--remove-orphans", "--timeout", "60");
      }
    } finally {
      await project?.removeDir();
      project = undefined;
      await standIn?.close();
      standIn = undefined;
      await releaseLock?.();
      releaseLock = undefined;
    }
  }

  beforeAll(async () => {
    // one run of this test at a time on this machine (fixed ports and project name)
    releaseLock = await acquireMachineLock(PROJECT);
    const logsDir = path.join(repoRoot, "test-results");
    await mkdir(logsDir, { recursive: true });

    await timed("compose tool", () => runFromRoot("bash", ["docker/compose.sh", "--which"]));
    // the stack's Redis and PostgreSQL, where none can be pulled (kept when they exist)
    await timed("local Redis and PostgreSQL images", async () => {
      await runFromRoot("bash", ["docker/local-images/build.sh", "redis"]);
      await runFromRoot("bash", ["docker/local-images/build.sh", "postgresql"]);
    });
    // Kept when up to date (same sources, Dockerfiles and base): only a change rebuilds.
    await timed("images (docker/build.sh --local-base)", () =>
      runFromRoot("bash", ["docker/build.sh", "--local-base"], { BERTH_BUILD_LOG: path.join(logsDir, "docker-build.log") }),
    );

    await removeComposeLeftovers(PROJECT, { postgresPort: PORTS.postgres });
    for (const [service, port] of Object.entries(PORTS)) {
      if (!(await portIsFree(port))) throw new Error(`port ${port} (${service} of the test stack) is in use on 127.0.0.1`);
    }

    standIn = await startPlatformStandIn({
      host: "127.0.0.1",
      addons: [...addons.values()].map((addon) => ({ id: addon.id, configVars: [...addon.configVars], ...credentials.get(addon.id)! })),
    });

    const env: Record<string, string> = {
      BERTH_REDIS_IMAGE: "berth-local/redis:7",
      BERTH_POSTGRES_IMAGE: "berth-local/postgresql:15",
      BERTH_REDIS_PORT: String(PORTS.redis),
      BERTH_POSTGRES_PORT: String(PORTS.postgres),
      BERTH_REDIS_PASSWORD: secret(),
      BERTH_POSTGRES_PASSWORD: secret(),
      BERTH_DOCKER_GID: String((await stat((process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock").replace(/^unix:\/\//, ""))).gid),
      BERTH_STANDIN_PORT: String(PORTS.standin),
      BERTH_API_PORT: String(PORTS.api),
      BERTH_GATEWAY_HTTP_PORT: String(PORTS.gateway),
      BERTH_PUBLIC_URL: API_URL,
      BERTH_PLATFORM_API_URL: standIn.url,
      BERTH_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      BERTH_QUEUE_PREFIX: PROJECT,
      BERTH_PORT_RANGE: `${DATABASE_PORTS.first}-${DATABASE_PORTS.last}`,
      // the engines' images: the local ones where no registry is reachable (scripts/test.sh exports them)
      BERTH_ADDON_POSTGRESQL_IMAGE: "berth-local/postgresql:15",
      ...Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => /^BERTH_ADDON_[A-Z0-9_]+_IMAGE$/.test(entry[0]) && !!entry[1])),
      LOG_LEVEL: "info",
    };
    for (const [id, secrets] of credentials) Object.assign(env, addonSecretsEnv(id, secrets));
    project = await ComposeProject.create(PROJECT, env, { profiles: ["trial"] });

    await timed("compose up (redis, postgres, migrate, api, worker, gateway, standin)", () => project!.compose("up", "--detach", "--no-build"));
    await timed("API healthy", () =>
      waitUntil(
        `${API_URL}/health`,
        async () => {
          const response = await fetch(`${API_URL}/health`).catch(() => undefined);
          return response?.ok ?? false;
        },
        { timeoutMs: 180_000, intervalMs: 500 },
      ),
    );
  }, 30 * 60_000);

  afterAll(async () => {
    await tearDown();
  }, 5 * 60_000);

  it("keeps one build stage in both Dockerfiles, so that the builder runs it once for both images", async () => {
    const buildStage = async (file: string) => {
      const text = await readFile(path.join(repoRoot, "docker", file), "utf8");
      const start = text.indexOf("FROM ${NODE_IMAGE} AS build");
      return text.slice(start, text.indexOf("\n# ----", start));
    };
    const api = await buildStage("Dockerfile.api");
    expect(api).toContain("pnpm install --offline --frozen-lockfile");
    expect(await buildStage("Dockerfile.worker")).toBe(api);
  });

  it("ran the migrations once and runs api and worker as a non-root user, the worker with the socket's group", async () => {
    const migrate = await dockerInspect((await project!.containerOf("migrate"))!);
    expect(migrate?.State.Running).toBe(false);
    expect((migrate?.State as { ExitCode?: number } | undefined)?.ExitCode).toBe(0);

    for (const service of ["api", "worker"]) {
      const container = (await project!.containerOf(service))!;
      const inspect = (await dockerInspect(container)) as (Awaited<ReturnType<typeof dockerInspect>> & { Config: { User: string } }) | undefined;
      expect(inspect?.State.Running).toBe(true);
      expect(inspect?.Config.User).toBe("node");
      expect(inspect?.HostConfig.NetworkMode).toBe("host");
      expect((await runFromRoot("docker", ["exec", container, "id", "-u"])).trim()).toBe("1000");
    }
    const worker = (await project!.containerOf("worker"))!;
    const groups = (await runFromRoot("docker", ["exec", worker, "id", "-G"])).trim().split(" ");
    const socketGid = String((await stat("/var/run/docker.sock")).gid);
    expect(groups).toContain(socketGid);

    const health = await fetch(`${API_URL}/health`);
    expect(health.status).toBe(200);
    // the trial profile's stand-in answers the Platform API with the addon's credentials
    const { username, password } = credentials.get("postgresql")!;
    const apps = await fetch(`http://127.0.0.1:${PORTS.standin}/v1/provider/apps`, {
      headers: { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` },
    });
    expect(apps.status).toBe(200);
  });

  it("provisions a PostgreSQL database through the containerized API and worker, serves it, and deprovisions it", async () => {
    const driver = standIn!.driver("postgresql", `${API_URL}/postgresql/resources`);
    const response = await driver.provision({ plan: "postgresql-sandbox", app_id: "app-deploy-test", options: {} });
    expect(response.status).toBe(202);
    const { id } = response.body as { id: string };
    provisioned.push(id);

    await standIn!.waitForProvisioned(id, { timeoutMs: 180_000 });
    const url = standIn!.addonConfig(id)?.SCALINGO_POSTGRESQL_URL;
    expect(url).toMatch(/^postgres:\/\/u_[a-z0-9]+:[A-Za-z0-9]{32}@127\.0\.0\.1:\d+\/db_[a-z0-9]+$/);
    const port = Number(new URL(url!).port);
    expect(port).toBeGreaterThanOrEqual(DATABASE_PORTS.first);
    expect(port).toBeLessThanOrEqual(DATABASE_PORTS.last);

    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("CREATE TABLE deployments (how text)");
      await client.query("INSERT INTO deployments VALUES ('docker compose')");
      expect((await client.query("SELECT how FROM deployments")).rows).toEqual([{ how: "docker compose" }]);
    } finally {
      await client.end();
    }
    expect(await containersOf(id)).toEqual([`berth-${id}`]);

    const deprovisioned = await driver.deprovision(id);
    expect(deprovisioned.status).toBe(204);
    await expect.poll(() => containersOf(id), { timeout: 120_000, interval: 500 }).toEqual([]);
    await expect.poll(() => volumeExists(`berth-${id}-data`), { timeout: 60_000, interval: 500 }).toBe(false);
  });

  it("takes the stack down leaving no container, volume or network behind", async () => {
    await timed("compose down -v", tearDown);
    expect(await composeObjects(PROJECT)).toEqual({ containers: [], volumes: [], networks: [] });
    for (const id of provisioned) expect(await containersOf(id)).toEqual([]);
  });
});

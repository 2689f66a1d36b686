/**
 * The gateway on the real Docker Engine: Redis containers listening only on a Unix socket in
 * their volume (`--port 0`: no TCP listener, so it does not matter that containers are still on
 * the host network here), reached through the gateway's port on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import net from "node:net";
import { promisify } from "node:util";
import { createGateway, type Gateway } from "@berth/worker/gateway";
import type { GatewayConfig } from "@berth/worker/gateway/config";
import { DockerRuntime } from "@berth/worker/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/ports.js";
import { waitUntil } from "../src/wait.js";

const run = promisify(execFile);
const dockerHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const image = process.env.BERTH_ADDON_REDIS_IMAGE ?? "berth-local/redis:7";
const deploymentId = `gwtest-${randomBytes(4).toString("hex")}`;
const runtime = new DockerRuntime({ dockerHost, deploymentId });
const logger = pino({ level: process.env.BERTH_TEST_LOG_LEVEL ?? "warn" });

/** A Redis database of this test's deployment, listening only on /data/redis.sock. */
async function startRedis(port: number): Promise<{ resourceId: string; name: string }> {
  const resourceId = randomUUID();
  const name = `berth-${deploymentId}-${resourceId.slice(0, 8)}`;
  const labels = { resourceId, addonId: "redis", plan: "gateway-test" };
  await runtime.ensureVolume(`${name}-data`, labels, 64);
  await runtime.ensureContainerRunning({
    name,
    volumeName: `${name}-data`,
    labels,
    port,
    spec: {
      image,
      command: ["redis-server", "--port", "0", "--unixsocket", "/data/redis.sock", "--unixsocketperm", "777", "--dir", "/data", "--save", ""],
      env: {},
      files: [],
      fileOwner: { uid: 999, gid: 999 },
      dataPath: "/data",
      socketPath: "/data/redis.sock",
      memoryBytes: 128 * 1024 * 1024,
      nanoCpus: 500_000_000,
      pidsLimit: 64,
      stopTimeoutSeconds: 5,
    },
  });
  return { resourceId, name };
}

async function removeRedis(name: string): Promise<void> {
  await runtime.removeContainer(name);
  await runtime.removeVolume(`${name}-data`);
}

function redisVia(port: number): Redis {
  const client = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on("error", () => undefined);
  return client;
}

/** One PING through the gateway; false on any failure. */
async function pings(port: number): Promise<boolean> {
  const client = redisVia(port);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** What a client sees on a fresh connection: `refused`, or `closed` with the bytes it got before the close. */
function connectOnce(port: number, send: string): Promise<{ outcome: "refused" | "closed"; received: number }> {
  return new Promise((resolve) => {
    let received = 0;
    const socket = net.connect({ port, host: "127.0.0.1" }, () => socket.write(send));
    socket.on("data", (chunk: Buffer) => (received += chunk.length));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED") resolve({ outcome: "refused", received });
    });
    socket.on("close", () => resolve({ outcome: "closed", received }));
  });
}

async function gatewayConfig(): Promise<GatewayConfig> {
  return {
    dockerHost,
    deploymentId,
    bindAddress: "127.0.0.1",
    http: { host: "127.0.0.1", port: await freePort() },
    resyncSeconds: 2,
    drainSeconds: 2,
    logLevel: "warn",
  };
}

async function removeEverythingOfThisTest(): Promise<void> {
  const filter = `label=berth.deployment=${deploymentId}`;
  const containers = (await run("docker", ["ps", "-aq", "--filter", filter])).stdout.split("\n").filter(Boolean);
  if (containers.length > 0) await run("docker", ["rm", "-f", ...containers]);
  const volumes = (await run("docker", ["volume", "ls", "-q", "--filter", filter])).stdout.split("\n").filter(Boolean);
  if (volumes.length > 0) await run("docker", ["volume", "rm", ...volumes]);
}

describe("gateway on Docker", () => {
  let gateway: Gateway | undefined;
  let port: number;
  let database: { resourceId: string; name: string };

  beforeAll(async () => {
    port = await freePort();
    database = await startRedis(port);
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });
  afterAll(async () => {
    await gateway?.close();
    await removeEverythingOfThisTest();
  });

  it("relays a 10 MiB value intact and many connections at once; answers /health/ready and /metrics", async () => {
    gateway = createGateway(await gatewayConfig(), { logger });
    await gateway.start();
    await waitUntil("Redis through the gateway", () => pings(port), { timeoutMs: 60_000 });

    const value = randomBytes(10 * 1024 * 1024);
    const client = redisVia(port);
    await client.connect();
    try {
      expect(await client.set("big", value)).toBe("OK");
      const back = await client.getBuffer("big");
      expect(back?.length).toBe(value.length);
      expect(back?.equals(value)).toBe(true);
    } finally {
      client.disconnect();
    }

    const clients = Array.from({ length: 50 }, () => redisVia(port));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await Promise.all(clients.map((c, i) => c.set(`k${i}`, `v${i}`)));
      const values = await Promise.all(clients.map((c, i) => c.get(`k${i}`)));
      expect(values).toEqual(clients.map((_, i) => `v${i}`));
      expect(Number(/connected_clients:(\d+)/.exec(await clients[0]!.info("clients"))?.[1])).toBeGreaterThanOrEqual(50);
    } finally {
      for (const c of clients) c.disconnect();
    }

    const ready = await fetch(`${gateway.httpUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { docker: "ok", routes: "ok" } });
    expect((await fetch(`${gateway.httpUrl}/health`)).status).toBe(200);
    const metrics = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    const resource = `resource="${database.resourceId}"`;
    expect(metrics).toContain('berth_gateway_routes{state="listening"} 1');
    expect(metrics).toMatch(new RegExp(`berth_gateway_open_connections\\{${resource}\\} \\d+`));
    expect(Number(new RegExp(`berth_gateway_connections_total\\{${resource}\\} (\\d+)`).exec(metrics)?.[1])).toBeGreaterThanOrEqual(52);
    const bytes = (direction: string) => Number(new RegExp(`berth_gateway_bytes_total\\{${resource},direction="${direction}"\\} (\\d+)`).exec(metrics)?.[1]);
    expect(bytes("to_database")).toBeGreaterThan(value.length);
    expect(bytes("from_database")).toBeGreaterThan(value.length);
    expect(metrics).toContain("process_resident_memory_bytes");
  });

  it("opens a new database's port once its container starts, and closes it once the container is removed", async () => {
    gateway = createGateway(await gatewayConfig(), { logger });
    await gateway.start();
    const newPort = await freePort();
    expect((await connectOnce(newPort, "PING\r\n")).outcome).toBe("refused");

    const created = await startRedis(newPort);
    await waitUntil("the new route", () => pings(newPort), { timeoutMs: 60_000 });

    await removeRedis(created.name);
    await waitUntil("the port to close", async () => (await connectOnce(newPort, "PING\r\n")).outcome === "refused", { timeoutMs: 60_000 });
    expect(gateway.routes().map((route) => route.port)).not.toContain(newPort);
  });

  it("a gateway closed and created again serves the same database (the table comes from Docker)", async () => {
    gateway = createGateway(await gatewayConfig(), { logger });
    await gateway.start();
    await waitUntil("Redis through the gateway", () => pings(port), { timeoutMs: 60_000 });
    const client = redisVia(port);
    await client.connect();
    await client.set("survives", "a restart of the gateway");
    client.disconnect();
    await gateway.close();
    expect((await connectOnce(port, "PING\r\n")).outcome).toBe("refused");

    gateway = createGateway(await gatewayConfig(), { logger });
    await gateway.start();
    expect(gateway.routes()).toMatchObject([{ port, resourceId: database.resourceId, listening: true }]);
    const again = redisVia(port);
    await again.connect();
    try {
      expect(await again.get("survives")).toBe("a restart of the gateway");
    } finally {
      again.disconnect();
    }
  });

  it("a stopped database keeps its port: clients get a closed connection, counted, and the gateway goes on", async () => {
    gateway = createGateway(await gatewayConfig(), { logger });
    await gateway.start();
    await waitUntil("Redis through the gateway", () => pings(port), { timeoutMs: 60_000 });

    await run("docker", ["stop", database.name]);
    await waitUntil("the route to show the container stopped", async () => {
      await gateway!.resync();
      return gateway!.routes().some((route) => route.port === port && !route.running);
    }, { timeoutMs: 60_000 });
    expect(await connectOnce(port, "PING\r\n")).toEqual({ outcome: "closed", received: 0 });
    const metrics = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`berth_gateway_upstream_failures_total\\{resource="${database.resourceId}",code="[A-Z]+"\\} [1-9]`));
    expect((await fetch(`${gateway.httpUrl}/health`)).status).toBe(200);

    await run("docker", ["start", database.name]);
    await waitUntil("Redis back through the same port", () => pings(port), { timeoutMs: 60_000 });
  });
});

import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@berth/config";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadGatewayConfig, type GatewayConfig } from "../src/gateway/config.js";
import { createGateway, type Gateway, type GatewayRuntime } from "../src/gateway/gateway.js";
import type { ContainerEvent, GatewayRoute } from "../src/runtime/container-runtime.js";
import { defaultDeploymentId } from "../src/config.js";

describe("gateway configuration", () => {
  it("has the documented defaults and the worker's deployment id", () => {
    const databaseUrl = "postgresql://postgres@127.0.0.1:5433/berth";
    expect(loadGatewayConfig({ BERTH_DATABASE_URL: databaseUrl })).toEqual({
      dockerHost: "unix:///var/run/docker.sock",
      deploymentId: defaultDeploymentId(databaseUrl),
      bindAddress: "127.0.0.1",
      http: { host: "127.0.0.1", port: 4002 },
      resyncSeconds: 5,
      drainSeconds: 10,
      logLevel: "info",
    });
    expect(loadGatewayConfig({ BERTH_DEPLOYMENT_ID: "prod-1", BERTH_GATEWAY_DRAIN_SECONDS: "0" })).toMatchObject({ deploymentId: "prod-1", drainSeconds: 0 });
  });

  it("lists every problem at once", () => {
    let error: unknown;
    try {
      loadGatewayConfig({ BERTH_DATABASE_BIND_ADDRESS: "localhost", BERTH_GATEWAY_HTTP_PORT: "70000", DOCKER_HOST: "/var/run/docker.sock" });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.join("\n");
    for (const name of ["BERTH_DEPLOYMENT_ID", "BERTH_DATABASE_BIND_ADDRESS", "BERTH_GATEWAY_HTTP_PORT", "DOCKER_HOST"]) expect(issues).toContain(name);
  });
});

/** Docker as the gateway sees it: a route list and an event stream the test drives. */
class FakeRuntime implements GatewayRuntime {
  routes: GatewayRoute[] = [];
  listings = 0;
  subscriptions = 0;
  failListing = false;
  #emit: ((event: ContainerEvent) => void) | undefined;
  #fail: ((error: Error) => void) | undefined;
  async ping() {}
  async listGatewayRoutes() {
    this.listings++;
    if (this.failListing) throw new Error("Docker is down");
    return this.routes.map((route) => ({ ...route }));
  }
  watchContainerEvents(onEvent: (event: ContainerEvent) => void, signal: AbortSignal): Promise<void> {
    this.subscriptions++;
    return new Promise((resolve, reject) => {
      this.#emit = onEvent;
      this.#fail = reject;
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  event(action = "start") {
    this.#emit?.({ action, containerName: "c", resourceId: "r", at: new Date() });
  }
  breakStream() {
    this.#fail?.(new Error("stream broke"));
  }
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Connects, sends `payload`, half-closes, and collects everything until the gateway closes. */
function exchange(port: number, payload: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => socket.end(payload));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

/** Whether a connection to the port is refused (nothing listens). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.on("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** The test's "engines" are sockets of this process: the gateway is told its uid is another one. */
const notOurUid = (process.getuid?.() ?? 0) + 1;

describe("gateway relay (fake Docker, real sockets)", () => {
  let dir: string;
  let runtime: FakeRuntime;
  let gateway: Gateway | undefined;
  const engines: net.Server[] = [];

  /** An "engine" on a Unix socket: reads until the client's end, then answers `<n> bytes` and ends. */
  async function engine(name: string): Promise<string> {
    const path = join(dir, name);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      let bytes = 0;
      socket.on("data", (chunk: Buffer) => (bytes += chunk.length));
      socket.on("end", () => socket.end(`${bytes} bytes`));
      socket.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    engines.push(server);
    return path;
  }

  function config(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
    return {
      dockerHost: "unix:///nowhere",
      deploymentId: "test",
      bindAddress: "127.0.0.1",
      http: { host: "127.0.0.1", port: 0 },
      resyncSeconds: 3_600,
      drainSeconds: 5,
      logLevel: "silent",
      ...overrides,
    };
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "berth-gateway-"));
    runtime = new FakeRuntime();
  });
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    await Promise.all(engines.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    await rm(dir, { recursive: true, force: true });
  });

  it("relays both ways with half-close, follows events, and closes a removed route's port", async () => {
    const port = await freePort();
    const socketPath = await engine("a.sock");
    gateway = createGateway(config(), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid, eventDebounceMs: 10 });
    await gateway.start();
    expect(gateway.routes()).toEqual([]);

    runtime.routes = [{ resourceId: "res-a", containerName: "berth-a", port, socketPath, running: true }];
    runtime.event("start");
    await waitFor("the route", () => gateway!.routes()[0]?.listening === true);

    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    expect((await exchange(port, payload)).toString()).toBe(`${payload.length} bytes`);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => exchange(port, "x".repeat(i))));
    expect(replies.map(String)).toEqual(Array.from({ length: 50 }, (_, i) => `${i} bytes`));

    const metrics = await gateway.metrics.registry.metrics();
    expect(metrics).toContain('berth_gateway_connections_total{resource="res-a"} 51');
    expect(metrics).toContain(`berth_gateway_bytes_total{resource="res-a",direction="to_database"} ${payload.length + (49 * 50) / 2}`);
    expect(metrics).toContain('berth_gateway_routes{state="listening"} 1');

    runtime.routes = [];
    runtime.event("destroy");
    await waitFor("the port to close", () => refused(port));
    expect(gateway.routes()).toEqual([]);
    await waitFor("its series to be dropped", async () => !(await gateway!.metrics.registry.metrics()).includes('resource="res-a"'));
  });

  it("closes the client at once when the socket is gone, counts it, and goes on", async () => {
    const port = await freePort();
    runtime.routes = [{ resourceId: "res-b", containerName: "berth-b", port, socketPath: join(dir, "missing.sock"), running: false }];
    gateway = createGateway(config(), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid });
    await gateway.start();
    expect(gateway.routes()).toMatchObject([{ port, listening: true }]);
    expect((await exchange(port, "PING")).length).toBe(0);
    expect(await gateway.metrics.registry.metrics()).toContain('berth_gateway_upstream_failures_total{resource="res-b",code="ENOENT"} 1');

    // The engine comes back on the same path: the same listener serves it.
    await engine("missing.sock");
    expect((await exchange(port, "PING")).toString()).toBe("4 bytes");
  });

  it("retries a port that is taken at each resync, and keeps the table when Docker cannot be listed", async () => {
    const port = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
    runtime.routes = [{ resourceId: "res-c", containerName: "berth-c", port, socketPath: await engine("c.sock"), running: true }];
    gateway = createGateway(config(), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid });
    await gateway.start();
    expect(gateway.routes()).toMatchObject([{ port, listening: false }]);
    expect(await gateway.metrics.registry.metrics()).toContain('berth_gateway_listen_errors_total{resource="res-c",code="EADDRINUSE"} 1');

    await new Promise((resolve) => squatter.close(resolve));
    await gateway.resync();
    expect(gateway.routes()).toMatchObject([{ port, listening: true }]);

    runtime.failListing = true;
    await gateway.resync();
    expect(gateway.routes()).toMatchObject([{ port, listening: true }]);
    expect((await exchange(port, "abc")).toString()).toBe("3 bytes");
    expect(await gateway.metrics.registry.metrics()).toContain("berth_gateway_sync_errors_total 1");
  });

  it("resubscribes to events after the stream fails, and resyncs then", async () => {
    gateway = createGateway(config(), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid, eventRetry: { initialMs: 10, maxMs: 50 } });
    await gateway.start();
    const listings = runtime.listings;
    runtime.breakStream();
    await waitFor("a new subscription", () => runtime.subscriptions === 2);
    await waitFor("a resync", () => runtime.listings > listings);
    expect(await gateway.metrics.registry.metrics()).toContain("berth_gateway_event_stream_failures_total 1");
  });

  it("on close stops listening at once, and cuts a connection still open after the drain time", async () => {
    const port = await freePort();
    runtime.routes = [{ resourceId: "res-d", containerName: "berth-d", port, socketPath: await engine("d.sock"), running: true }];
    gateway = createGateway(config({ drainSeconds: 0.5 }), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid });
    await gateway.start();
    const open = net.connect({ port, host: "127.0.0.1" });
    await new Promise((resolve) => open.once("connect", resolve));
    open.on("error", () => undefined);
    await waitFor("the connection to be relayed", () => gateway!.routes()[0]?.openConnections === 1);
    const closedAt = new Promise<void>((resolve) => open.once("close", () => resolve()));
    const closing = gateway.close();
    await waitFor("the port to close", () => refused(port));
    await closing; // the connection never ends by itself: cut after the drain time

    await closedAt;
    gateway = undefined;
  });

  it("on close returns as soon as the last open connection ends, before the drain time", async () => {
    const port = await freePort();
    runtime.routes = [{ resourceId: "res-f", containerName: "berth-f", port, socketPath: await engine("f.sock"), running: true }];
    gateway = createGateway(config({ drainSeconds: 3_600 }), { runtime, logger: pino({ level: "silent" }), ownUid: notOurUid });
    await gateway.start();
    const [talker, quiet] = [net.connect({ port, host: "127.0.0.1" }), net.connect({ port, host: "127.0.0.1" })];
    await Promise.all([talker, quiet].map((socket) => new Promise((resolve) => socket.once("connect", resolve))));
    await waitFor("the connections to be relayed", () => gateway!.routes()[0]?.openConnections === 2);
    const closing = gateway.close();
    await waitFor("the port to close", () => refused(port));
    // Both still work during the drain: one finishes an exchange, the other just leaves.
    const chunks: Buffer[] = [];
    talker.on("data", (chunk: Buffer) => chunks.push(chunk));
    const reply = new Promise<string>((resolve) => talker.once("close", () => resolve(Buffer.concat(chunks).toString())));
    talker.end("bye");
    quiet.resume();
    quiet.end();
    await closing; // an hour of drain time otherwise: the test would time out
    expect((await reply).toString()).toBe("3 bytes");
    gateway = undefined;
  });

  it("refuses a route whose socket belongs to the gateway's own uid", async () => {
    const port = await freePort();
    // Made by this process, so owned by our uid: an engine running as the gateway's uid.
    runtime.routes = [{ resourceId: "res-e", containerName: "berth-e", port, socketPath: await engine("e.sock"), running: true }];
    gateway = createGateway(config(), { runtime, logger: pino({ level: "silent" }) });
    await gateway.start();
    expect(gateway.routes()).toEqual([]);
    expect(await gateway.metrics.registry.metrics()).toContain('berth_gateway_refused_routes_total{reason="socket_owned_by_gateway_uid"} 1');
  });
});

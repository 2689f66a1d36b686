/**
 * The gateway: one process per Docker host that owns every database's public port and pipes each
 * connection to that database's Unix socket, inside its volume on the host. Database containers
 * have no network of their own; this is their only data path.
 *
 * Its only state is the route table (port → socket), rebuilt from Docker: a full listing at
 * start, one shortly after each container event, and one every `resyncSeconds` as a safety net.
 * It never reads what it relays, and never logs it.
 *
 * It must not run as the engines' OS uid: PostgreSQL (`peer`) and MariaDB (`unix_socket`) take
 * the uid of the socket's peer as proof of identity, and the peer of every connection through
 * the gateway is the gateway. A route whose socket belongs to the gateway's own uid is refused.
 */
import { stat } from "node:fs/promises";
import net from "node:net";
import { pipeline } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { pino, type Logger } from "pino";
import { collectDefaultMetrics, Registry, type Counter } from "prom-client";
import { startWorkerHttpServer, type WorkerHttpServer } from "../http-server.js";
import type { ContainerRuntime, GatewayRoute } from "../runtime/container-runtime.js";
import { DockerRuntime } from "../runtime/docker-runtime.js";
import type { GatewayConfig } from "./config.js";
import { createGatewayMetrics, type GatewayMetrics } from "./metrics.js";

/** What the gateway asks of the container engine. */
export type GatewayRuntime = Pick<ContainerRuntime, "ping" | "listGatewayRoutes" | "watchContainerEvents">;

export interface GatewayOptions {
  logger?: Logger;
  /** Default: the worker's DockerRuntime on `config.dockerHost`, for `config.deploymentId`. */
  runtime?: GatewayRuntime;
  /** false: no HTTP server (`/health`, `/metrics`); the metrics are still on `gateway.metrics`. */
  http?: boolean;
  /** Pause between a container event and the resync it causes (events come in bursts). Default 100 ms. */
  eventDebounceMs?: number;
  /** Backoff between two subscriptions to Docker's events. Default 500 ms doubling up to 30 s. */
  eventRetry?: { initialMs: number; maxMs: number };
  /** The uid an engine's socket must not belong to: the process's own (tests relaying to their own sockets change it). */
  ownUid?: number;
}

interface RouteStatus extends GatewayRoute {
  /** Its port is open on the bind address. */
  readonly listening: boolean;
  readonly openConnections: number;
}

export interface Gateway {
  /** Serves HTTP, follows Docker's events and builds the table; resolves after the first listing (done or failed). */
  start(): Promise<void>;
  /** Stops listening at once, lets open connections end up to `drainSeconds`, then cuts them. */
  close(): Promise<void>;
  /** A full listing now; resolves once its result is applied. */
  resync(): Promise<void>;
  routes(): RouteStatus[];
  readonly metrics: GatewayMetrics;
  /** Where /health, /health/ready and /metrics answer (after start). */
  readonly httpUrl: string | undefined;
}

/** sun_path holds 108 bytes with its terminating NUL on Linux. */
const MAX_SOCKET_PATH_BYTES = 107;
/** TCP keepalive on client connections: a vanished client does not hold a database session forever. */
const KEEPALIVE_MS = 60_000;

interface Relay {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly resource: string;
  countedIn: number;
  countedOut: number;
  /** false once its route is removed: its resource's series are dropped, and not made again. */
  counting: boolean;
}

interface Listener {
  route: GatewayRoute;
  server: net.Server | undefined;
  readonly relays: Set<Relay>;
  /** The socket's owner was checked (not the gateway's uid) since the route (or its socket path) appeared. */
  ownerChecked: boolean;
  /** Last error code logged for this route, so a repeated failure is logged once. */
  lastUpstreamError: string | undefined;
  /** Its socket has answered once since the route appeared. */
  answered: boolean;
  lastListenError: string | undefined;
}

export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const logger = options.logger ?? pino({ level: config.logLevel, name: "berth-gateway" });
  const runtime: GatewayRuntime = options.runtime ?? new DockerRuntime({ dockerHost: config.dockerHost, deploymentId: config.deploymentId });
  const debounceMs = options.eventDebounceMs ?? 100;
  const retry = options.eventRetry ?? { initialMs: 500, maxMs: 30_000 };
  const uid = options.ownUid ?? process.getuid?.();

  const listeners = new Map<number, Listener>();
  const refusedLogged = new Map<number, string>();
  const conflictsLogged = new Set<string>();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createGatewayMetrics(registry, refreshMetrics);
  const stop = new AbortController();

  let started = false;
  let closing = false;
  let synced = false;
  let syncFailing: string | undefined;
  let http: WorkerHttpServer | undefined;
  let watching: Promise<void> | undefined;
  let periodic: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;
  let openRelays = 0;
  let onIdle: (() => void) | undefined;

  // One listing at a time; a request while one runs queues one more (never more than one).
  let running: Promise<void> = Promise.resolve();
  let pending: Promise<void> | undefined;
  function resync(): Promise<void> {
    if (pending) return pending;
    const next = running.then(() => {
      pending = undefined;
      return syncOnce();
    });
    pending = next;
    running = next;
    return next;
  }

  function scheduleResync(): void {
    if (closing || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void resync();
    }, debounceMs);
  }

  async function syncOnce(): Promise<void> {
    if (closing) return;
    let routes: GatewayRoute[];
    try {
      routes = await runtime.listGatewayRoutes();
    } catch (error) {
      metrics.syncErrors.inc();
      const message = error instanceof Error ? error.message : String(error);
      if (syncFailing !== message) logger.error({ err: error }, "gateway: listing Docker's containers failed; keeping the current routes");
      syncFailing = message;
      return;
    }
    if (syncFailing !== undefined) logger.info("gateway: listing Docker's containers works again");
    syncFailing = undefined;
    if (closing) return;

    const wanted = await acceptedRoutes(routes);
    for (const [port, listener] of listeners) {
      if (!wanted.has(port)) removeListener(port, listener, "no longer routed: its container is gone, or the route was refused");
    }
    const binding: Promise<void>[] = [];
    for (const [port, { route, ownerChecked }] of wanted) {
      let listener = listeners.get(port);
      if (!listener) {
        listener = { route, server: undefined, relays: new Set(), ownerChecked, lastUpstreamError: undefined, answered: false, lastListenError: undefined };
        listeners.set(port, listener);
        logger.info({ port, resourceId: route.resourceId, container: route.containerName, running: route.running }, "gateway: route added");
      } else if (listener.route.resourceId !== route.resourceId || listener.route.socketPath !== route.socketPath) {
        logger.info({ port, resourceId: route.resourceId, container: route.containerName, previous: listener.route.resourceId }, "gateway: route changed");
      }
      listener.route = route;
      listener.ownerChecked = ownerChecked;
      if (!listener.server) binding.push(listen(port, listener));
    }
    await Promise.all(binding);
    synced = true;
  }

  /**
   * One route per port (two containers claiming one port: the running one, else the one routed
   * already), without the refused ones; `ownerChecked` is false when the socket is not there yet.
   */
  async function acceptedRoutes(routes: GatewayRoute[]): Promise<Map<number, { route: GatewayRoute; ownerChecked: boolean }>> {
    const byPort = new Map<number, GatewayRoute>();
    for (const route of routes) {
      if (!Number.isInteger(route.port) || route.port < 1 || route.port > 65_535) continue;
      const other = byPort.get(route.port);
      if (other) {
        const key = [route.port, other.containerName, route.containerName].join(" ");
        if (!conflictsLogged.has(key)) logger.warn({ port: route.port, containers: [other.containerName, route.containerName] }, "gateway: two containers claim one port");
        conflictsLogged.add(key);
        const current = listeners.get(route.port)?.route.containerName;
        if (other.running && !route.running) continue;
        if (other.running === route.running && other.containerName === current) continue;
      }
      byPort.set(route.port, route);
    }
    const accepted = new Map<number, { route: GatewayRoute; ownerChecked: boolean }>();
    const checks = [...byPort.values()].map(async (route) => {
      if (Buffer.byteLength(route.socketPath) > MAX_SOCKET_PATH_BYTES) return { route, reason: "socket_path_too_long", ours: undefined };
      const ours = await socketOwnedByUs(route.socketPath);
      return { route, reason: ours ? "socket_owned_by_gateway_uid" : undefined, ours };
    });
    for (const { route, reason, ours } of await Promise.all(checks)) {
      if (!reason) {
        refusedLogged.delete(route.port);
        accepted.set(route.port, { route, ownerChecked: ours === false });
        continue;
      }
      metrics.refusedRoutes.inc({ reason });
      if (refusedLogged.get(route.port) !== reason) {
        logger.error({ port: route.port, resourceId: route.resourceId, socketPath: route.socketPath, reason }, "gateway: route refused");
      }
      refusedLogged.set(route.port, reason);
    }
    return accepted;
  }

  /** Whether the socket belongs to the gateway's own uid; undefined when it is not there (engine stopped or starting). */
  async function socketOwnedByUs(path: string): Promise<boolean | undefined> {
    if (uid === undefined) return false;
    try {
      return (await stat(path)).uid === uid;
    } catch {
      return undefined;
    }
  }

  function listen(port: number, listener: Listener): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true });
    server.on("connection", (client) => relay(listener, client));
    return new Promise<void>((resolve) => {
      const failed = (error: NodeJS.ErrnoException) => {
        const code = error.code ?? "unknown";
        metrics.listenErrors.inc({ resource: listener.route.resourceId, code });
        if (listener.lastListenError !== code) {
          logger.error({ port, bindAddress: config.bindAddress, resourceId: listener.route.resourceId, code }, "gateway: cannot open the database's port; retrying at each resync");
        }
        listener.lastListenError = code;
        resolve();
      };
      server.once("error", failed);
      server.listen({ port, host: config.bindAddress, exclusive: true }, () => {
        server.off("error", failed);
        // Once listening, errors are about accepting one connection (e.g. EMFILE): the server goes on.
        server.on("error", (error) => logger.error({ err: error, port }, "gateway: accept failed"));
        if (closing || listeners.get(port) !== listener) {
          server.close();
        } else {
          listener.server = server;
          if (listener.lastListenError) logger.info({ port }, "gateway: the database's port is open now");
          listener.lastListenError = undefined;
        }
        resolve();
      });
    });
  }

  function removeListener(port: number, listener: Listener, why: string): void {
    listeners.delete(port);
    listener.server?.close();
    listener.server = undefined;
    // Its engine is gone (or must not be reached): what is still open goes nowhere.
    for (const entry of listener.relays) {
      countBytes(entry);
      entry.counting = false;
      entry.client.destroy();
      entry.upstream.destroy();
    }
    logger.info({ port, resourceId: listener.route.resourceId, container: listener.route.containerName, why }, "gateway: route removed");
    const resource = listener.route.resourceId;
    if (![...listeners.values()].some((other) => other.route.resourceId === resource)) void forgetResource(resource);
  }

  /** Drops a removed database's series, so a long-running gateway does not keep every database it ever served. */
  async function forgetResource(resource: string): Promise<void> {
    const counters: Counter<string>[] = [metrics.connectionsAccepted, metrics.upstreamFailures, metrics.bytes, metrics.listenErrors];
    for (const counter of counters) {
      const { values } = await counter.get();
      for (const { labels } of values) if (labels.resource === resource) counter.remove(labels as Record<string, string>);
    }
  }

  function relay(listener: Listener, client: net.Socket): void {
    const route = listener.route;
    const resource = route.resourceId;
    metrics.connectionsAccepted.inc({ resource });
    client.on("error", (error: NodeJS.ErrnoException) => logger.debug({ port: route.port, code: error.code }, "gateway: client connection error"));
    if (closing) {
      client.destroy();
      return;
    }
    if (!listener.ownerChecked) {
      // The socket was not there at the last resync: check its owner before the first connection.
      client.pause();
      void socketOwnedByUs(route.socketPath).then((ours) => {
        if (ours === true) {
          metrics.refusedRoutes.inc({ reason: "socket_owned_by_gateway_uid" });
          logger.error({ port: route.port, resourceId: resource, socketPath: route.socketPath }, "gateway: connection refused: the socket belongs to the gateway's uid");
          client.destroy();
          return;
        }
        if (ours === false && listener.route === route) listener.ownerChecked = true;
        connectUpstream(listener, route, client);
      });
      return;
    }
    connectUpstream(listener, route, client);
  }

  function connectUpstream(listener: Listener, route: GatewayRoute, client: net.Socket): void {
    if (client.destroyed) return;
    if (closing || listeners.get(route.port) !== listener) {
      client.destroy();
      return;
    }
    const resource = route.resourceId;
    client.setNoDelay(true);
    client.setKeepAlive(true, KEEPALIVE_MS);
    const upstream = net.connect({ path: route.socketPath, allowHalfOpen: true });
    const entry: Relay = { client, upstream, resource, countedIn: 0, countedOut: 0, counting: true };
    listener.relays.add(entry);
    openRelays++;
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
      if (listener.lastUpstreamError && listener.answered) logger.info({ port: route.port, resourceId: resource }, "gateway: the database's socket answers again");
      listener.lastUpstreamError = undefined;
      listener.answered = true;
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (connected) return logger.debug({ port: route.port, code: error.code }, "gateway: database connection error");
      const code = error.code ?? "unknown";
      metrics.upstreamFailures.inc({ resource, code });
      // ENOENT/ECONNREFUSED: the engine is stopped, restarting, or not up yet (every new database
      // is probed before its socket exists: not worth a warning until it has answered once).
      // Once per route until it answers again.
      if (listener.lastUpstreamError !== code) {
        const level = listener.answered ? "warn" : "debug";
        logger[level]({ port: route.port, resourceId: resource, code }, "gateway: cannot reach the database's socket");
      }
      listener.lastUpstreamError = code;
    });
    // Both directions with backpressure. An end (FIN) is passed on and the other direction goes on
    // (half-close); an error on either side destroys both (pipeline does, and the error handlers
    // above keep it from being unhandled). A failed connect to the socket closes the client at once.
    pipeline(client, upstream, () => undefined);
    pipeline(upstream, client, () => undefined);
    client.once("close", () => {
      upstream.destroy();
      countBytes(entry);
      listener.relays.delete(entry);
      openRelays--;
      if (openRelays === 0) onIdle?.();
    });
  }

  function countBytes(entry: Relay): void {
    if (!entry.counting) return;
    const sent = entry.client.bytesRead;
    const received = entry.client.bytesWritten;
    if (sent > entry.countedIn) metrics.bytes.inc({ resource: entry.resource, direction: "to_database" }, sent - entry.countedIn);
    if (received > entry.countedOut) metrics.bytes.inc({ resource: entry.resource, direction: "from_database" }, received - entry.countedOut);
    entry.countedIn = sent;
    entry.countedOut = received;
  }

  function refreshMetrics(): void {
    let listening = 0;
    metrics.openConnections.reset();
    for (const listener of listeners.values()) {
      if (listener.server) listening++;
      metrics.openConnections.inc({ resource: listener.route.resourceId }, listener.relays.size);
      for (const entry of listener.relays) countBytes(entry);
    }
    metrics.routes.set({ state: "listening" }, listening);
    metrics.routes.set({ state: "unbound" }, listeners.size - listening);
  }

  async function watchEvents(): Promise<void> {
    let delay = retry.initialMs;
    while (!closing) {
      const subscribed = Date.now();
      try {
        await runtime.watchContainerEvents((event) => {
          logger.debug({ action: event.action, container: event.containerName }, "gateway: container event");
          scheduleResync();
        }, stop.signal);
      } catch (error) {
        if (closing) break;
        metrics.eventStreamFailures.inc();
        logger.warn({ err: error, retryInMs: delay }, "gateway: Docker's event stream failed; resubscribing");
      }
      if (closing) break;
      if (Date.now() - subscribed > 60_000) delay = retry.initialMs;
      await sleep(delay, undefined, { signal: stop.signal }).catch(() => undefined);
      delay = Math.min(delay * 2, retry.maxMs);
      scheduleResync(); // events may have been missed while unsubscribed
    }
  }

  async function closeGateway(): Promise<void> {
    closing = true;
    stop.abort();
    clearInterval(periodic);
    clearTimeout(debounce);
    await running;
    for (const listener of listeners.values()) {
      listener.server?.close();
      listener.server = undefined;
    }
    if (openRelays > 0) {
      logger.info({ connections: openRelays, drainSeconds: config.drainSeconds }, "gateway: stopped listening; letting open connections end");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (onIdle = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, config.drainSeconds * 1000))),
      ]);
      clearTimeout(timer);
      if (openRelays > 0) logger.info({ connections: openRelays }, "gateway: drain time over; cutting the connections still open");
      for (const listener of listeners.values()) {
        for (const { client, upstream } of listener.relays) {
          client.destroy();
          upstream.destroy();
        }
      }
    }
    await watching;
    await http?.close();
    logger.info("gateway stopped");
  }

  return {
    metrics,
    get httpUrl() {
      return http?.url;
    },
    resync,
    routes: () =>
      [...listeners.values()].map((listener) => ({ ...listener.route, listening: listener.server !== undefined, openConnections: listener.relays.size })),
    async start() {
      if (started) throw new Error("the gateway is started already");
      started = true;
      if (options.http !== false) {
        http = await startWorkerHttpServer({
          host: config.http.host,
          port: config.http.port,
          registry,
          logger,
          checks: {
            docker: () => runtime.ping(),
            routes: async () => {
              if (closing) throw new Error("the gateway is stopping");
              if (!synced) throw new Error("the first listing of Docker's containers has not succeeded yet");
            },
          },
        });
      }
      watching = watchEvents();
      await resync();
      periodic = setInterval(() => void resync(), config.resyncSeconds * 1000);
      logger.info(
        { http: http?.url, bindAddress: config.bindAddress, deploymentId: config.deploymentId, routes: listeners.size, synced },
        "gateway started",
      );
    },
    close() {
      closed ??= closeGateway();
      return closed;
    },
  };
}

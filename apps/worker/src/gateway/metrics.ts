import { Counter, Gauge, Registry } from "prom-client";

/** The gateway's Prometheus metrics, on a registry of their own (one per gateway). */
export interface GatewayMetrics {
  readonly registry: Registry;
  /** Routes by state: `listening`, or `unbound` (its port could not be opened; retried at each resync). */
  readonly routes: Gauge<"state">;
  /** Client connections open right now, per resource. */
  readonly openConnections: Gauge<"resource">;
  /** Client connections accepted, per resource. */
  readonly connectionsAccepted: Counter<"resource">;
  /** Connections to a database's socket that failed, per resource and errno code (`ENOENT`: the engine is not running). */
  readonly upstreamFailures: Counter<"resource" | "code">;
  /** Bytes relayed, per resource and direction; open connections are counted up to each scrape. */
  readonly bytes: Counter<"resource" | "direction">;
  /** Ports that could not be opened (`EADDRINUSE`: something else holds it), per resource and code. */
  readonly listenErrors: Counter<"resource" | "code">;
  /** Routes refused (socket owned by the gateway's own uid, path too long for a Unix socket), per reason. */
  readonly refusedRoutes: Counter<"reason">;
  /** Listings of Docker's containers that failed (the table is kept as it was). */
  readonly syncErrors: Counter;
  /** Docker event streams that ended or failed (each is resubscribed after a backoff). */
  readonly eventStreamFailures: Counter;
}

/**
 * The gauges and the bytes read the live state when Prometheus scrapes: their `collect` calls
 * `refresh`, which sets the gauges and adds the bytes of connections still open (cheap and
 * idempotent, so being called by several metrics of one scrape is fine).
 */
export function createGatewayMetrics(registry: Registry, refresh: () => void): GatewayMetrics {
  return {
    registry,
    routes: new Gauge({
      name: "berth_gateway_routes",
      help: "Routes (a database's public port) by state: listening, or unbound (port not available)",
      labelNames: ["state"] as const,
      registers: [registry],
      collect: refresh,
    }),
    openConnections: new Gauge({
      name: "berth_gateway_open_connections",
      help: "Client connections open right now",
      labelNames: ["resource"] as const,
      registers: [registry],
      collect: refresh,
    }),
    connectionsAccepted: new Counter({
      name: "berth_gateway_connections_total",
      help: "Client connections accepted",
      labelNames: ["resource"] as const,
      registers: [registry],
    }),
    upstreamFailures: new Counter({
      name: "berth_gateway_upstream_failures_total",
      help: "Connections to a database's Unix socket that failed, by errno code",
      labelNames: ["resource", "code"] as const,
      registers: [registry],
    }),
    bytes: new Counter({
      name: "berth_gateway_bytes_total",
      help: "Bytes relayed, by direction (to_database: sent by clients)",
      labelNames: ["resource", "direction"] as const,
      registers: [registry],
      collect: refresh,
    }),
    listenErrors: new Counter({
      name: "berth_gateway_listen_errors_total",
      help: "Failures to open a database's public port, by errno code",
      labelNames: ["resource", "code"] as const,
      registers: [registry],
    }),
    refusedRoutes: new Counter({
      name: "berth_gateway_refused_routes_total",
      help: "Routes the gateway refused to serve, by reason",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    syncErrors: new Counter({
      name: "berth_gateway_sync_errors_total",
      help: "Listings of the Docker containers that failed",
      registers: [registry],
    }),
    eventStreamFailures: new Counter({
      name: "berth_gateway_event_stream_failures_total",
      help: "Docker event streams that ended or failed (resubscribed after a backoff)",
      registers: [registry],
    }),
  };
}

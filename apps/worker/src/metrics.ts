import { Counter, Histogram, Registry } from "prom-client";

/** The worker's Prometheus metrics, on a registry of their own (one per worker instance). */
export interface WorkerMetrics {
  readonly registry: Registry;
  /** Seconds one attempt of an operation ran, per kind and outcome (`succeeded`, `failed`, `retrying`). */
  readonly operationDuration: Histogram<"kind" | "outcome">;
  /** Attempts of operations that ended, per kind and outcome. */
  readonly operationsFinished: Counter<"kind" | "outcome">;
  /** Errors that left the Docker runtime, per runtime operation. */
  readonly dockerErrors: Counter<"operation">;
  /** Bytes stored per backup taken (compressed and encrypted), per addon; durations are `operationDuration{kind="backup"|"restore"}`. */
  readonly backupBytes: Histogram<"addon">;
}

export function createWorkerMetrics(registry: Registry = new Registry()): WorkerMetrics {
  return {
    registry,
    operationDuration: new Histogram({
      name: "berth_operation_duration_seconds",
      help: "Duration of one attempt of an operation",
      labelNames: ["kind", "outcome"] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    operationsFinished: new Counter({
      name: "berth_operations_finished_total",
      help: "Attempts of operations that ended, by outcome",
      labelNames: ["kind", "outcome"] as const,
      registers: [registry],
    }),
    dockerErrors: new Counter({
      name: "berth_docker_errors_total",
      help: "Errors returned by the Docker Engine (through the runtime)",
      labelNames: ["operation"] as const,
      registers: [registry],
    }),
    backupBytes: new Histogram({
      name: "berth_backup_size_bytes",
      help: "Bytes stored per backup taken (compressed and encrypted)",
      labelNames: ["addon"] as const,
      buckets: [1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11],
      registers: [registry],
    }),
  };
}

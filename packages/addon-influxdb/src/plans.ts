import type { AddonPlan } from "@berth/addon-sdk";

/** Disk sizes are in MiB. */
const GiB = 1024;

/**
 * Memory, CPU and disk grow together, and so do the engine's own guards: the in-memory write
 * cache (flushed to disk when full, a write refused past it), the series a database may hold
 * (each one costs memory in the index), the buckets and concurrent queries a query may use (a
 * `GROUP BY time(1s)` over a year would otherwise try to allocate 31 million buckets).
 */
export const influxdbPlans: readonly AddonPlan[] = [
  {
    name: "influxdb-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 256 MiB of memory, half a CPU, 10,000 series, 1 GiB of disk.",
    limits: { memoryMb: 256, cpus: 0.5, pids: 128, diskMb: 1 * GiB },
    settings: { cache_max_memory_mb: 64, max_series_per_database: 10_000, max_select_buckets: 10_000, max_concurrent_queries: 10 },
  },
  {
    name: "influxdb-starter-512",
    displayName: "Starter 512M",
    price: 14.4,
    description: "Small production apps: 512 MiB of memory, one CPU, 50,000 series, 10 GiB of disk.",
    limits: { memoryMb: 512, cpus: 1, pids: 256, diskMb: 10 * GiB },
    settings: { cache_max_memory_mb: 128, max_series_per_database: 50_000, max_select_buckets: 100_000, max_concurrent_queries: 20 },
  },
  {
    name: "influxdb-business-1024",
    displayName: "Business 1G",
    price: 57.6,
    description: "Busy apps: 1 GiB of memory, two CPUs, 200,000 series, 50 GiB of disk.",
    limits: { memoryMb: 1024, cpus: 2, pids: 512, diskMb: 50 * GiB },
    settings: { cache_max_memory_mb: 256, max_series_per_database: 200_000, max_select_buckets: 1_000_000, max_concurrent_queries: 40 },
    backupRetention: { monthly: 12 },
  },
];

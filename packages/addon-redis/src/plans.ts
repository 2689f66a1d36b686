import type { AddonPlan } from "@berth/addon-sdk";

/** Disk sizes are in MiB. */
const GiB = 1024;

/**
 * `maxmemory` is what the data may use; the container gets half as much again
 * for Redis's own overhead and the AOF rewrite's fork.
 */
export const redisPlans: readonly AddonPlan[] = [
  {
    name: "redis-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 64 MiB of data, 100 clients, 1 GiB of disk.",
    limits: { memoryMb: 128, cpus: 0.25, pids: 64, diskMb: 1 * GiB },
    settings: { maxmemory_mb: 64, maxclients: 100 },
  },
  {
    name: "redis-starter-256",
    displayName: "Starter 256M",
    price: 9.6,
    description: "Caches and queues of small apps: 256 MiB of data, 500 clients, 2 GiB of disk.",
    limits: { memoryMb: 384, cpus: 0.5, pids: 64, diskMb: 2 * GiB },
    settings: { maxmemory_mb: 256, maxclients: 500 },
  },
  {
    name: "redis-business-1024",
    displayName: "Business 1G",
    price: 38.4,
    description: "Busy apps: 1 GiB of data, 2000 clients, 4 GiB of disk.",
    limits: { memoryMb: 1536, cpus: 1, pids: 128, diskMb: 4 * GiB },
    settings: { maxmemory_mb: 1024, maxclients: 2000 },
    backupRetention: { monthly: 12 },
  },
];

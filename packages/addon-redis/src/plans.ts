import type { AddonPlan } from "@berth/addon-sdk";

/**
 * `maxmemory` is what the data may use; the container gets half as much again
 * for Redis's own overhead and the AOF rewrite's fork.
 */
export const redisPlans: readonly AddonPlan[] = [
  {
    name: "redis-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 64 MiB of data, 100 clients.",
    limits: { memoryMb: 128, cpus: 0.25, pids: 64 },
    settings: { maxmemory_mb: 64, maxclients: 100 },
  },
  {
    name: "redis-starter-256",
    displayName: "Starter 256M",
    price: 9.6,
    description: "Caches and queues of small apps: 256 MiB of data, 500 clients.",
    limits: { memoryMb: 384, cpus: 0.5, pids: 64 },
    settings: { maxmemory_mb: 256, maxclients: 500 },
  },
  {
    name: "redis-business-1024",
    displayName: "Business 1G",
    price: 38.4,
    description: "Busy apps: 1 GiB of data, 2000 clients.",
    limits: { memoryMb: 1536, cpus: 1, pids: 128 },
    settings: { maxmemory_mb: 1024, maxclients: 2000 },
  },
];

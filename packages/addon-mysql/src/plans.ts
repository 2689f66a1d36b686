import type { AddonPlan } from "@berth/addon-sdk";

/** InnoDB's buffer pool takes about half of the memory; connections grow with it. */
export const mysqlPlans: readonly AddonPlan[] = [
  {
    name: "mysql-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 256 MiB of memory, half a CPU, 20 connections.",
    limits: { memoryMb: 256, cpus: 0.5, pids: 256 },
    settings: { max_connections: 20, innodb_buffer_pool_mb: 64 },
  },
  {
    name: "mysql-starter-512",
    displayName: "Starter 512M",
    price: 14.4,
    description: "Small production apps: 512 MiB of memory, one CPU, 50 connections.",
    limits: { memoryMb: 512, cpus: 1, pids: 512 },
    settings: { max_connections: 50, innodb_buffer_pool_mb: 192 },
  },
  {
    name: "mysql-business-1024",
    displayName: "Business 1G",
    price: 57.6,
    description: "Busy apps: 1 GiB of memory, two CPUs, 100 connections.",
    limits: { memoryMb: 1024, cpus: 2, pids: 1024 },
    settings: { max_connections: 100, innodb_buffer_pool_mb: 512 },
  },
];

import type { AddonPlan } from "@berth/addon-sdk";

/** Disk sizes are in MiB. */
const GiB = 1024;

/** InnoDB's buffer pool takes about half of the memory; connections grow with it. */
export const mysqlPlans: readonly AddonPlan[] = [
  {
    name: "mysql-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 256 MiB of memory, half a CPU, 20 connections, 1 GiB of disk.",
    limits: { memoryMb: 256, cpus: 0.5, pids: 256, diskMb: 1 * GiB },
    settings: { max_connections: 20, innodb_buffer_pool_mb: 64 },
  },
  {
    name: "mysql-starter-512",
    displayName: "Starter 512M",
    price: 14.4,
    description: "Small production apps: 512 MiB of memory, one CPU, 50 connections, 10 GiB of disk.",
    limits: { memoryMb: 512, cpus: 1, pids: 512, diskMb: 10 * GiB },
    settings: { max_connections: 50, innodb_buffer_pool_mb: 192 },
  },
  {
    name: "mysql-business-1024",
    displayName: "Business 1G",
    price: 57.6,
    description: "Busy apps: 1 GiB of memory, two CPUs, 100 connections, 50 GiB of disk.",
    limits: { memoryMb: 1024, cpus: 2, pids: 1024, diskMb: 50 * GiB },
    settings: { max_connections: 100, innodb_buffer_pool_mb: 512 },
    backupRetention: { monthly: 12 },
  },
];

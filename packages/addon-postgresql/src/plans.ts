import type { AddonPlan } from "@berth/addon-sdk";

const MiB = 1;
const GiB = 1024 * MiB;

/**
 * Memory, CPU and connection limits grow together; shared_buffers stays at
 * about a quarter of memory, PostgreSQL's usual starting point.
 */
export const postgresqlPlans: readonly AddonPlan[] = [
  {
    name: "postgresql-sandbox",
    displayName: "Sandbox",
    price: 0,
    description: "For trying things out: 256 MiB of memory, half a CPU, 20 connections, 1 GiB of disk.",
    limits: { memoryMb: 256 * MiB, cpus: 0.5, pids: 256, diskMb: 1 * GiB },
    settings: { max_connections: 20, shared_buffers_mb: 64 },
  },
  {
    name: "postgresql-starter-512",
    displayName: "Starter 512M",
    price: 14.4,
    description: "Small production apps: 512 MiB of memory, one CPU, 50 connections, 10 GiB of disk.",
    limits: { memoryMb: 512 * MiB, cpus: 1, pids: 512, diskMb: 10 * GiB },
    settings: { max_connections: 50, shared_buffers_mb: 128 },
  },
  {
    name: "postgresql-business-1024",
    displayName: "Business 1G",
    price: 57.6,
    description: "Busy apps: 1 GiB of memory, two CPUs, 100 connections, 50 GiB of disk.",
    limits: { memoryMb: 1024 * MiB, cpus: 2, pids: 1024, diskMb: 50 * GiB },
    settings: { max_connections: 100, shared_buffers_mb: 256 },
    backupRetention: { monthly: 12 },
  },
];

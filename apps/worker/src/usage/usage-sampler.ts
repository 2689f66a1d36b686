import type { AddonCredentials } from "@berth/addon-sdk";
import { redact } from "@berth/config";
import type { Resource } from "@berth/db";
import { USAGE_QUEUE, USAGE_SAMPLE_JOB, USAGE_SCHEDULER_ID } from "@berth/jobs";
import { statusesIn } from "@berth/operations";
import type { ConnectionOptions } from "bullmq";
import { resourceSecrets } from "../credential-secrets.js";
import type { WorkerDeps } from "../deps.js";
import { containerNameOf, volumeNameOf } from "../names.js";
import { probeHostFor } from "../readiness.js";
import { startScheduledTask, type ScheduledTask } from "../scheduled-task.js";

/** Databases sampled at once: Docker 20.10 takes about a second per stats call, most of it waiting. */
const SAMPLE_CONCURRENCY = 8;
/** One database's sample gives up after this; the others go on. */
const SAMPLE_TIMEOUT_MS = 30_000;
const DAY_MS = 24 * 3600 * 1000;

export interface UsagePass {
  /** Samples stored. */
  sampled: number;
  /** Resources whose sample failed or whose container was not running. */
  skipped: number;
  /** Samples deleted for being older than the retention. */
  deleted: number;
}

/**
 * One metering pass: a sample (client connections from the engine, memory, CPU
 * time and disk from the container runtime) of every running database, stored as one
 * UsageSample each, then the removal of samples past the retention. A database
 * that cannot be sampled is logged and skipped; the others are still sampled.
 */
export async function sampleUsageOnce(deps: WorkerDeps): Promise<UsagePass> {
  const resources = await deps.db.resource.findMany({ where: { status: { in: statusesIn("metered") } } });
  let skipped = 0;
  const samples = await mapWithConcurrency(resources, SAMPLE_CONCURRENCY, async (resource) => {
    const sample = await sampleResource(deps, resource).catch((error: unknown) => {
      deps.logger.warn(
        // Log lines never carry credentials, even when a client library puts a URL in its message.
        { resourceId: resource.id, addon: resource.addon, err: redact(messageOf(error), { secrets: resourceSecrets(deps.secrets, resource) }) },
        "usage sample failed; skipped",
      );
      return undefined;
    });
    if (!sample) skipped += 1;
    return sample;
  });
  const taken = samples.filter((sample) => sample !== undefined);
  if (taken.length > 0) await deps.db.usageSample.createMany({ data: taken });
  const { count: deleted } = await deps.db.usageSample.deleteMany({
    where: { takenAt: { lt: new Date(Date.now() - deps.usageRetentionDays * DAY_MS) } },
  });
  return { sampled: taken.length, skipped, deleted };
}

interface SampleRow {
  resourceId: string;
  takenAt: Date;
  diskBytes: bigint;
  memoryBytes: bigint;
  cpuNanos: bigint;
  connections: number;
}

async function sampleResource(deps: WorkerDeps, resource: Resource): Promise<SampleRow | undefined> {
  const addon = deps.addons.get(resource.addon);
  if (!addon) throw new Error(`addon ${resource.addon} is not installed in this worker`);
  if (resource.credentials === null || resource.port === null) throw new Error("resource has no credentials or port yet");
  const credentials = deps.secrets.openJson<AddonCredentials>(resource.credentials);
  const endpoint = { host: probeHostFor(deps.placement.bindAddress), port: resource.port, credentials };
  const signal = AbortSignal.timeout(SAMPLE_TIMEOUT_MS);
  const [usageResult, connectionsResult] = await Promise.allSettled([
    abortable(deps.runtime.usage(resource.containerName ?? containerNameOf(resource.id), resource.volumeName ?? volumeNameOf(resource.id)), signal),
    addon.connections(endpoint, signal),
  ]);
  // A plan change replaces the container, a degraded database may be restarting: its absence for a
  // moment is expected, not worth a warning.
  if ((resource.status === "changing_plan" || resource.status === "degraded") && usageResult.status === "fulfilled" && !usageResult.value) {
    return undefined;
  }
  if (usageResult.status === "rejected") throw usageResult.reason;
  if (connectionsResult.status === "rejected") throw connectionsResult.reason;
  const usage = usageResult.value;
  const connections = connectionsResult.value;
  if (!usage) throw new Error("the container is not running");
  return {
    resourceId: resource.id,
    takenAt: new Date(),
    diskBytes: BigInt(Math.round(usage.diskBytes)),
    memoryBytes: BigInt(Math.round(usage.memoryBytes)),
    cpuNanos: BigInt(Math.round(usage.cpuNanos)),
    connections: Math.max(0, connections),
  };
}

export interface UsageSamplerOptions {
  connection: ConnectionOptions;
  /** Redis key prefix of the queues; tests use their own. */
  prefix?: string;
  intervalMs: number;
}

export type UsageSampler = ScheduledTask;

/**
 * Schedules metering and takes part in it. Every worker upserts the same job
 * scheduler, so Redis holds one schedule and produces one job per interval,
 * which one worker runs: one sample per interval however many workers run.
 */
export async function startUsageSampler(deps: WorkerDeps, { connection, prefix, intervalMs }: UsageSamplerOptions): Promise<UsageSampler> {
  return startScheduledTask({
    connection,
    prefix,
    intervalMs,
    queueName: USAGE_QUEUE,
    schedulerId: USAGE_SCHEDULER_ID,
    jobName: USAGE_SAMPLE_JOB,
    logger: deps.logger,
    run: async () => {
      const pass = await sampleUsageOnce(deps);
      deps.logger.debug(pass, "usage sampled");
      return pass;
    },
  });
}

async function mapWithConcurrency<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const abort = () => reject(new Error(`no answer within ${SAMPLE_TIMEOUT_MS} ms`));
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

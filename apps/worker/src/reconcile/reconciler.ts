import { MAINTENANCE_QUEUE, RECONCILE_JOB, RECONCILE_SCHEDULER_ID, type OperationQueue } from "@berth/jobs";
import { OPERATION_KINDS } from "@berth/operations";
import type { ConnectionOptions } from "bullmq";
import type { WorkerDeps } from "../deps.js";
import { startScheduledTask, type ScheduledTask } from "../scheduled-task.js";

export interface ReconcileReport {
  /** Containers of this deployment whose resource is unknown or deprovisioned, removed. */
  removedContainers: string[];
  removedVolumes: string[];
  /** Disk images that were not mounted (a host reboot), now mounted; and the containers started then. */
  mountedDisks: string[];
  startedContainers: string[];
  /** Unfinished operations whose job was missing, failed or finished without settling them, queued again. */
  resumedOperations: string[];
}

/** An operation younger than this may still be on its way from the API to the queue. */
const DEFAULT_GRACE_MS = 60_000;

/**
 * Compares the control plane with the Docker host and mends what a crash, a lost
 * Redis or an interrupted request left: disk images not mounted (a host
 * reboot) are mounted again, orphan containers, volumes and disk images (this
 * deployment's only) are removed, and operations nobody is carrying out are
 * queued again. Everything it does is safe to repeat.
 */
export async function reconcileOnce(deps: WorkerDeps, queue: OperationQueue, { graceMs = DEFAULT_GRACE_MS } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { removedContainers: [], removedVolumes: [], mountedDisks: [], startedContainers: [], resumedOperations: [] };

  // First, so a database whose disk was not mounted at boot comes back before anything else.
  const disks = await deps.runtime.mendDisks();
  report.mountedDisks.push(...disks.mounted);
  report.startedContainers.push(...disks.started);
  for (const { volume, error } of disks.failed) deps.logger.error({ volume, err: error }, "a database's disk image could not be mounted");

  const managed = await deps.runtime.listManaged();
  // A disk image without a volume (a provision or removal interrupted between the two) belongs to
  // the resource with that volume name: judged like that resource's volume.
  const strays = disks.strayImages.length === 0
    ? []
    : await deps.db.resource.findMany({ where: { volumeName: { in: [...disks.strayImages] } }, select: { id: true, volumeName: true } });
  const strayOwner = new Map(strays.map((resource) => [resource.volumeName!, resource.id]));
  const strayVolumes = disks.strayImages.map((name) => ({ name, resourceId: strayOwner.get(name) ?? "" }));
  const ids = [...new Set([...managed.containers, ...managed.volumes, ...strayVolumes].map((object) => object.resourceId))];
  const known = await deps.db.resource.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
  const statusOf = new Map(known.map((resource) => [resource.id, resource.status]));
  const busy = new Set(
    (await deps.db.operation.findMany({ where: { resourceId: { in: ids }, status: { in: ["pending", "running"] } }, select: { resourceId: true } })).map(
      (operation) => operation.resourceId,
    ),
  );
  const isOrphan = (resourceId: string) => {
    const status = statusOf.get(resourceId);
    return (status === undefined || status === "deprovisioned") && !busy.has(resourceId);
  };
  for (const container of managed.containers.filter((object) => isOrphan(object.resourceId))) {
    await deps.runtime.removeContainer(container.name);
    report.removedContainers.push(container.name);
  }
  for (const volume of [...managed.volumes, ...strayVolumes].filter((object) => isOrphan(object.resourceId))) {
    await deps.runtime.removeVolume(volume.name);
    report.removedVolumes.push(volume.name);
  }

  const unfinished = await deps.db.operation.findMany({
    where: { status: { in: ["pending", "running"] }, createdAt: { lt: new Date(Date.now() - graceMs) } },
    orderBy: { seq: "asc" },
  });
  for (const operation of unfinished) {
    // A job waiting, delayed or running is left alone: someone will run it.
    if (await queue.resume(OPERATION_KINDS[operation.kind].job, { operationId: operation.id, resourceId: operation.resourceId })) {
      report.resumedOperations.push(operation.id);
    }
  }

  await deps.warmPool?.requestRefill();

  const lists: Record<keyof ReconcileReport, string[]> = report; // an interface has no index signature for Object.values
  const acted = Object.values(lists).reduce((sum, list) => sum + list.length, 0);
  deps.logger[acted > 0 ? "warn" : "debug"](report, "reconciliation pass");
  return report;
}

export interface ReconcilerOptions {
  connection: ConnectionOptions;
  prefix?: string;
  intervalMs: number;
  /** The producer side of the operations queue, to queue operations again. */
  queue: OperationQueue;
  graceMs?: number;
}

/** Runs a pass now (worker start), then one per interval across all workers. */
export async function startReconciler(deps: WorkerDeps, options: ReconcilerOptions): Promise<ScheduledTask> {
  await reconcileOnce(deps, options.queue, { graceMs: options.graceMs }).catch((error: unknown) =>
    deps.logger.error({ err: error }, "reconciliation at start failed"),
  );
  return startScheduledTask({
    connection: options.connection,
    prefix: options.prefix,
    intervalMs: options.intervalMs,
    queueName: MAINTENANCE_QUEUE,
    schedulerId: RECONCILE_SCHEDULER_ID,
    jobName: RECONCILE_JOB,
    logger: deps.logger,
    run: () => reconcileOnce(deps, options.queue, { graceMs: options.graceMs }),
  });
}

/**
 * How the producers (`ResourceService`, `DatabaseUserService`) record an operation: under its
 * resource's row lock, checked against what the platform may still do, then queued.
 */
import type { AddonDefinition } from "@berth/addon-sdk";
import type { OperationKind, Prisma, Resource } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import { OPERATION_KINDS, isPlatforms } from "./lifecycle.js";
import { refusals } from "./refusals.js";

/**
 * Locks the resource's row until the transaction ends, then reads it: the operations of one
 * resource are recorded one at a time, each after the ones before it are committed and seen
 * (PostgreSQL's read committed takes a new snapshot per statement, so the read after the
 * lock sees what the previous holder wrote). Null when the addon has no such resource.
 */
export async function lockResource(tx: Prisma.TransactionClient, addon: AddonDefinition, id: string): Promise<Resource | null> {
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM resources WHERE id = ${id} AND addon = ${addon.id} FOR UPDATE`;
  if (locked.length === 0) return null;
  return tx.resource.findUniqueOrThrow({ where: { id } });
}

/** A resource the platform may still act on: handed to it, not removed, and no deprovision recorded (once one is, it is gone for the platform). */
export async function acceptsPlatformRequests(tx: Prisma.TransactionClient, resource: Resource): Promise<boolean> {
  if (!isPlatforms(resource.status)) return false;
  const deprovision = await tx.operation.findFirst({
    where: { resourceId: resource.id, kind: "deprovision", status: { in: ["pending", "running", "succeeded"] } },
    select: { id: true },
  });
  return deprovision === null;
}

/** Whether the platform's last word on the resource is a suspension (recorded, running or done; a failed one does not count). */
export async function isSuspended(tx: Prisma.TransactionClient, id: string): Promise<boolean> {
  const last = await tx.operation.findFirst({
    where: { resourceId: id, kind: { in: ["suspend", "resume"] }, status: { in: ["pending", "running", "succeeded"] } },
    orderBy: { seq: "desc" },
    select: { kind: true },
  });
  return last?.kind === "suspend";
}

/**
 * Locks and reads a resource the platform may act on, refusing one that failed (an operator must
 * repair it first) or is suspended: what a change of a running database needs before it is recorded.
 */
export async function lockChangeable(tx: Prisma.TransactionClient, addon: AddonDefinition, id: string): Promise<Resource> {
  const resource = await lockResource(tx, addon, id);
  if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
  if (resource.status === "failed") throw refusals.resourceFailed(id, resource.statusReason ?? "no reason recorded");
  if (await isSuspended(tx, id)) throw refusals.resourceSuspended(id);
  return resource;
}

/** Queues a recorded operation's job; a queue that cannot be reached is the caller's `service_unavailable` (the record stays, a retry is safe). */
export async function enqueueOperation(queue: OperationQueue, kind: OperationKind, operationId: string, resourceId: string): Promise<void> {
  try {
    await queue.enqueue(OPERATION_KINDS[kind].job, { operationId, resourceId });
  } catch (error) {
    throw refusals.queueUnavailable(error);
  }
}

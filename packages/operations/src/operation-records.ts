import type { Operation, OperationKind, Prisma, PrismaClient } from "@berth/db";
import { newResourceId, transition, transitionUpdate } from "./lifecycle.js";

/**
 * The worker's writes of an operation's own status (pending → running → succeeded | failed) and
 * the resource's status that goes with them. The resource's status moves through the lifecycle
 * (`transition`), so an outcome never overwrites a status the table does not allow it to follow.
 */

/** An attempt begins: the operation is running, its error cleared, its attempts counted (an operator's retry goes on from them). */
export function beginAttempt(db: PrismaClient, operation: Operation): Promise<Operation> {
  return db.operation.update({
    where: { id: operation.id },
    data: { status: "running", startedAt: operation.startedAt ?? new Date(), attempts: { increment: 1 }, error: null },
  });
}

export async function recordStep(db: PrismaClient, operationId: string, step: string): Promise<void> {
  await db.operation.update({ where: { id: operationId }, data: { step } });
}

export async function operationSucceeded(db: PrismaClient, operationId: string): Promise<void> {
  await db.operation.update({ where: { id: operationId }, data: { status: "succeeded", finishedAt: new Date() } });
}

/** An attempt failed and another will follow: the error is kept for operators meanwhile. */
export async function attemptFailed(db: PrismaClient, operationId: string, error: string): Promise<void> {
  await db.operation.update({ where: { id: operationId }, data: { error } });
}

/**
 * The operation failed for good. A refusal (`resourceUnchanged`: declined before anything changed)
 * leaves the resource's status as the handler restored it; any other failure marks the resource
 * `failed` with the reason, in the same transaction, for an operator to repair.
 */
export async function operationFailed(
  db: PrismaClient,
  operation: Pick<Operation, "id" | "kind" | "resourceId">,
  error: string,
  { resourceUnchanged }: { resourceUnchanged: boolean },
): Promise<void> {
  const failOperation = db.operation.update({ where: { id: operation.id }, data: { status: "failed", error, finishedAt: new Date() } });
  if (resourceUnchanged) {
    await failOperation;
    return;
  }
  const reason = `${operation.kind} failed: ${error}`;
  await db.$transaction([failOperation, db.resource.updateMany(transitionUpdate(operation.resourceId, "failed", { data: { statusReason: reason } }))]);
}

/** A warm pool database to build: a resource with no app, `warming`, and its provision operation. */
export async function recordPoolBuild(tx: Prisma.TransactionClient, addonId: string, plan: string): Promise<QueuedOperation> {
  const resource = await tx.resource.create({
    data: {
      id: newResourceId(addonId),
      addon: addonId,
      appId: "",
      plan,
      status: "warming",
      operations: { create: { kind: "provision", targetPlan: plan } },
    },
    include: { operations: true },
  });
  return { operationId: resource.operations[0]!.id, resourceId: resource.id, kind: "provision" };
}

/**
 * The removal of a pool database nobody holds, if it is still in the status it was read in
 * (`from`): the API may have claimed it since. Null when it was not in `from` any more.
 */
export async function recordPoolRemoval(tx: Prisma.TransactionClient, id: string, from: "warm" | "failed"): Promise<QueuedOperation | null> {
  if (!(await transition(tx, id, "deprovisioning", { from: [from] }))) return null;
  const operation = await tx.operation.create({ data: { resourceId: id, kind: "deprovision" } });
  return { operationId: operation.id, resourceId: id, kind: "deprovision" };
}

/** An operation recorded in a transaction, to be queued once it is committed. */
export interface QueuedOperation {
  readonly operationId: string;
  readonly resourceId: string;
  readonly kind: OperationKind;
}

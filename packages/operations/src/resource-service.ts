import { randomBytes } from "node:crypto";
import { findPlan, type AddonDefinition, type AddonPlan } from "@berth/addon-sdk";
import { isUniqueViolation, type Operation, type PrismaClient, type Resource, type ResourceStatus } from "@berth/db";
import { JOB_FOR_OPERATION, type JobName, type OperationQueue } from "@berth/jobs";
import type { PlanChangeRequest, ProvisionRequest } from "@berth/protocol";
import { refusals } from "./refusals.js";

/** The status a resource shows again while a retried operation of this kind runs. */
const STATUS_WHILE_RUNNING: Record<Operation["kind"], ResourceStatus> = {
  provision: "provisioning",
  change_plan: "changing_plan",
  deprovision: "deprovisioning",
};

export type PlanChangeOutcome = { kind: "queued" | "unchanged"; plan: AddonPlan };

/**
 * The producer's side of every operation: record the intent (resource and
 * operation rows, in one transaction), then enqueue the job. The platform may
 * retry any request; each path returns the same outcome the second time.
 * Used by the API (for the platform) and by the admin CLI (for operators).
 */
export class ResourceService {
  constructor(
    private readonly db: PrismaClient,
    private readonly queue: OperationQueue,
  ) {}

  async provision(addon: AddonDefinition, request: ProvisionRequest): Promise<Resource> {
    const plan = requirePlan(addon, request.plan);
    let created: Resource & { operations: Operation[] };
    try {
      // One statement for both rows (the accept path is what the platform waits on); a
      // repeated uuid hits the unique index instead of costing every request a lookup first.
      created = await this.db.resource.create({
        data: {
          id: `${addon.id}-${randomBytes(8).toString("hex")}`,
          addon: addon.id,
          platformUuid: request.uuid ?? null,
          appId: request.app_id,
          plan: plan.name,
          options: request.options as object,
          status: "provisioning",
          operations: { create: { kind: "provision", targetPlan: plan.name } },
        },
        include: { operations: true },
      });
    } catch (error) {
      // The same uuid again, or concurrently: answer with the resource the first request made.
      if (request.uuid && isUniqueViolation(error)) {
        const existing = await this.findByPlatformUuid(addon, request.uuid);
        if (existing) return this.resumed(existing);
      }
      throw error;
    }
    const { operations, ...resource } = created;
    await this.enqueue("provision", operations[0]!.id, resource.id);
    return resource;
  }

  async changePlan(addon: AddonDefinition, id: string, request: PlanChangeRequest): Promise<PlanChangeOutcome> {
    const resource = await this.findLive(addon, id);
    const plan = requirePlan(addon, request.plan);
    if (resource.status === "failed") throw refusals.resourceFailed(id, resource.statusReason ?? "no reason recorded");
    const lastChange = await this.db.operation.findFirst({
      where: { resourceId: id, kind: "change_plan", status: { in: ["pending", "running"] } },
      orderBy: { seq: "desc" },
    });
    const intendedPlan = lastChange?.targetPlan ?? resource.plan;
    if (intendedPlan === plan.name) return { kind: "unchanged", plan };
    const operation = await this.db.operation.create({ data: { resourceId: id, kind: "change_plan", targetPlan: plan.name } });
    await this.enqueue("change-plan", operation.id, id);
    return { kind: "queued", plan };
  }

  /** The deprovision operation that removes the resource (a new one, or the one already under way), or null when it is gone already. */
  async deprovision(addon: AddonDefinition, id: string): Promise<Operation | null> {
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id } });
    if (!resource) throw refusals.resourceNotFound(id);
    const pending = await this.db.operation.findFirst({
      where: { resourceId: id, kind: "deprovision", status: { in: ["pending", "running", "succeeded"] } },
    });
    if (resource.status === "deprovisioned" || pending) {
      if (pending?.status === "pending") await this.enqueue("deprovision", pending.id, id);
      return pending; // deleting twice has the outcome of deleting once
    }
    const operation = await this.db.operation.create({ data: { resourceId: id, kind: "deprovision" } });
    await this.enqueue("deprovision", operation.id, id);
    return operation;
  }

  /**
   * An operator's retry of a failed operation: back to pending without its error,
   * its resource back to the status of that work in progress, and its job run
   * again. Only a resource's latest operation is retried: a later one has
   * superseded it (running an old provision after a deprovision would rebuild a
   * removed database). A pending operation is enqueued again (a no-op if queued).
   */
  async retry(operationId: string): Promise<Operation> {
    const operation = await this.db.operation.findUnique({ where: { id: operationId }, include: { resource: true } });
    if (!operation) throw refusals.operationNotFound(operationId);
    if (operation.status === "running" || operation.status === "succeeded") {
      throw refusals.operationNotRetryable(operationId, `it is ${operation.status}`);
    }
    const later = await this.db.operation.findFirst({
      where: { resourceId: operation.resourceId, seq: { gt: operation.seq } },
      orderBy: { seq: "asc" },
    });
    if (later) throw refusals.operationNotRetryable(operationId, `a later ${later.kind} operation (${later.id}) superseded it`);
    if (operation.resource.status === "deprovisioned") {
      throw refusals.operationNotRetryable(operationId, `resource ${operation.resourceId} is deprovisioned`);
    }
    const retried = await this.db.$transaction(async (tx) => {
      // Only from the state just read: two operators retrying at once reset it once.
      const reset = await tx.operation.updateMany({
        where: { id: operationId, status: operation.status },
        data: { status: "pending", error: null, finishedAt: null },
      });
      if (reset.count === 0) throw refusals.operationNotRetryable(operationId, "it changed meanwhile; look again");
      if (operation.resource.status === "failed") {
        await tx.resource.update({
          where: { id: operation.resourceId },
          data: { status: STATUS_WHILE_RUNNING[operation.kind], statusReason: null },
        });
      }
      return tx.operation.findUniqueOrThrow({ where: { id: operationId } });
    });
    try {
      await this.queue.rerun(JOB_FOR_OPERATION[operation.kind], { operationId, resourceId: operation.resourceId });
    } catch (error) {
      throw refusals.queueUnavailable(error);
    }
    return retried;
  }

  /** A resource the platform may still act on: not removed, nor being removed. */
  private async findLive(addon: AddonDefinition, id: string): Promise<Resource> {
    const resource = await this.db.resource.findFirst({
      where: {
        id,
        addon: addon.id,
        status: { notIn: ["deprovisioning", "deprovisioned"] },
        operations: { none: { kind: "deprovision", status: { in: ["pending", "running", "succeeded"] } } },
      },
    });
    if (!resource) throw refusals.resourceNotFound(id);
    return resource;
  }

  private findByPlatformUuid(addon: AddonDefinition, platformUuid: string): Promise<Resource | null> {
    return this.db.resource.findUnique({ where: { addon_platformUuid: { addon: addon.id, platformUuid } } });
  }

  /** A repeated provision: make sure its unfinished operations are queued (a no-op when they are). */
  private async resumed(resource: Resource): Promise<Resource> {
    const unfinished = await this.db.operation.findMany({
      where: { resourceId: resource.id, status: { in: ["pending", "running"] } },
      orderBy: { seq: "asc" },
    });
    for (const operation of unfinished) await this.enqueue(JOB_FOR_OPERATION[operation.kind], operation.id, resource.id);
    return resource;
  }

  private async enqueue(name: JobName, operationId: string, resourceId: string): Promise<void> {
    try {
      await this.queue.enqueue(name, { operationId, resourceId });
    } catch (error) {
      throw refusals.queueUnavailable(error);
    }
  }
}

function requirePlan(addon: AddonDefinition, name: string): AddonPlan {
  const plan = findPlan(addon, name);
  if (!plan) throw refusals.unknownPlan(name, addon.id, addon.plans.map((p) => p.name));
  return plan;
}

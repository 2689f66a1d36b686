import { randomBytes } from "node:crypto";
import { findPlan, type AddonDefinition, type AddonPlan } from "@berth/addon-sdk";
import { isUniqueViolation, type PrismaClient, type Resource } from "@berth/db";
import type { JobName, OperationQueue } from "@berth/jobs";
import type { PlanChangeRequest, ProvisionRequest } from "@berth/protocol";
import { apiErrors } from "./errors.js";

const OPERATION_JOB = { provision: "provision", change_plan: "change-plan", deprovision: "deprovision" } as const satisfies Record<
  string,
  JobName
>;

export type PlanChangeOutcome = { kind: "queued" | "unchanged"; plan: AddonPlan };

/**
 * The API's side of every operation: record the intent (resource and
 * operation rows, in one transaction), then enqueue the job. The platform may
 * retry any request; each path returns the same outcome the second time.
 */
export class ResourceService {
  constructor(
    private readonly db: PrismaClient,
    private readonly queue: OperationQueue,
  ) {}

  async provision(addon: AddonDefinition, request: ProvisionRequest): Promise<Resource> {
    const plan = requirePlan(addon, request.plan);
    if (request.uuid) {
      const existing = await this.findByPlatformUuid(addon, request.uuid);
      if (existing) return this.resumed(existing);
    }
    let created: { resource: Resource; operationId: string };
    try {
      created = await this.db.$transaction(async (tx) => {
        const resource = await tx.resource.create({
          data: {
            id: `${addon.id}-${randomBytes(8).toString("hex")}`,
            addon: addon.id,
            platformUuid: request.uuid ?? null,
            appId: request.app_id,
            plan: plan.name,
            options: request.options as object,
            status: "provisioning",
          },
        });
        const operation = await tx.operation.create({ data: { resourceId: resource.id, kind: "provision", targetPlan: plan.name } });
        return { resource, operationId: operation.id };
      });
    } catch (error) {
      // The same uuid sent concurrently: the other request created it; answer with that one.
      if (request.uuid && isUniqueViolation(error)) {
        const existing = await this.findByPlatformUuid(addon, request.uuid);
        if (existing) return this.resumed(existing);
      }
      throw error;
    }
    await this.enqueue("provision", created.operationId, created.resource.id);
    return created.resource;
  }

  async changePlan(addon: AddonDefinition, id: string, request: PlanChangeRequest): Promise<PlanChangeOutcome> {
    const resource = await this.findLive(addon, id);
    const plan = requirePlan(addon, request.plan);
    if (resource.status === "failed") throw apiErrors.resourceFailed(id, resource.statusReason ?? "no reason recorded");
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

  async deprovision(addon: AddonDefinition, id: string): Promise<void> {
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id } });
    if (!resource) throw apiErrors.resourceNotFound(id);
    const pending = await this.db.operation.findFirst({
      where: { resourceId: id, kind: "deprovision", status: { in: ["pending", "running", "succeeded"] } },
    });
    if (resource.status === "deprovisioned" || pending) {
      if (pending?.status === "pending") await this.enqueue("deprovision", pending.id, id);
      return; // deleting twice has the outcome of deleting once
    }
    const operation = await this.db.operation.create({ data: { resourceId: id, kind: "deprovision" } });
    await this.enqueue("deprovision", operation.id, id);
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
    if (!resource) throw apiErrors.resourceNotFound(id);
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
    for (const operation of unfinished) await this.enqueue(OPERATION_JOB[operation.kind], operation.id, resource.id);
    return resource;
  }

  private async enqueue(name: JobName, operationId: string, resourceId: string): Promise<void> {
    try {
      await this.queue.enqueue(name, { operationId, resourceId });
    } catch (error) {
      throw apiErrors.queueUnavailable(error);
    }
  }
}

function requirePlan(addon: AddonDefinition, name: string): AddonPlan {
  const plan = findPlan(addon, name);
  if (!plan) throw apiErrors.unknownPlan(name, addon.id, addon.plans.map((p) => p.name));
  return plan;
}

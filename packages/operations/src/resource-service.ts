import { randomUUID } from "node:crypto";
import { findPlan, type AddonDefinition, type AddonPlan } from "@berth/addon-sdk";
import { Prisma, isUniqueViolation, type Backup, type BackupMethod, type Operation, type PrismaClient, type Resource, type ResourceStatus } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import type { PlanChangeRequest, ProvisionRequest } from "@berth/protocol";
import { OPERATION_KINDS, RAW_COPY_FORMAT, isIn, isPlatforms, newResourceId, requireTransition } from "./lifecycle.js";
import { baseBackupFor } from "./point-in-time.js";
import { refusals } from "./refusals.js";
import { acceptsPlatformRequests, enqueueOperation, isSuspended, lockChangeable, lockResource } from "./recording.js";

/** The control plane stores UTC wall-clock times (Prisma's convention for `timestamp` columns). */
const UTC_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** A provision request, recorded: the resource (a new one, or a warm pool's database claimed for it). */
export interface AcceptedProvision {
  readonly id: string;
  readonly status: ResourceStatus;
}

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

  /**
   * Records a provision request and queues its job. One statement (the platform waits on
   * it): it claims a ready database of the plan from the warm pool when there is one,
   * else records a new resource, and records the operation. A repeated uuid hits the
   * unique index instead of costing every request a lookup first. (A claim is the lifecycle's
   * `warm` → `provisioning`, written in SQL to stay one statement; the lifecycle's tests pin the move.)
   * A fork (`seed`, named by a checked fork token: a finished backup of this addon, or a database
   * of this addon at a moment) is always built anew, its data loaded from the backup or recovered.
   */
  async provision(addon: AddonDefinition, request: ProvisionRequest, { seed }: { seed?: ForkSeed } = {}): Promise<AcceptedProvision> {
    const plan = requirePlan(addon, request.plan);
    const uuid = request.uuid ?? null;
    if (seed && "backupId" in seed) await this.requireForkable(addon, seed.backupId);
    if (seed && "resourceId" in seed) await this.requireRecoverable(addon, seed.resourceId, seed.at);
    const seedBackupId = seed && "backupId" in seed ? seed.backupId : null;
    const seedResourceId = seed && "resourceId" in seed ? seed.resourceId : null;
    const seedTime = seed && "resourceId" in seed ? seed.at.toISOString() : null;
    const forked = seed === undefined ? null : "fork";
    // The token is a capability: spent here, not kept with the resource's options.
    const { fork_token: _spent, ...kept } = request.options ?? {};
    const options = JSON.stringify(kept);
    const operationId = randomUUID();
    let accepted: AcceptedProvision | undefined;
    try {
      [accepted] = await this.db.$queryRaw<AcceptedProvision[]>`
        WITH claimed AS (
          UPDATE resources
          SET status = 'provisioning', app_id = ${request.app_id}, platform_uuid = ${uuid}, options = ${options}::jsonb,
              claimed_at = ${UTC_NOW}, updated_at = ${UTC_NOW}
          WHERE id = (
            SELECT id FROM resources WHERE addon = ${addon.id} AND plan = ${plan.name} AND status = 'warm' AND ${forked}::text IS NULL
            ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
          )
          RETURNING id
        ), created AS (
          INSERT INTO resources (id, addon, platform_uuid, app_id, plan, options, status, seed_backup_id, seed_resource_id, seed_time, created_at, updated_at)
          SELECT ${newResourceId(addon.id)}, ${addon.id}, ${uuid}, ${request.app_id}, ${plan.name},
                 ${options}::jsonb, 'provisioning'::"ResourceStatus", ${seedBackupId}, ${seedResourceId},
                 (${seedTime}::timestamptz AT TIME ZONE 'UTC'), ${UTC_NOW}, ${UTC_NOW}
          WHERE NOT EXISTS (SELECT 1 FROM claimed)
          RETURNING id
        ), accepted AS (
          SELECT id FROM claimed UNION ALL SELECT id FROM created
        ), operation AS (
          INSERT INTO operations (id, resource_id, kind, target_plan, created_at)
          SELECT ${operationId}, id, 'provision'::"OperationKind", ${plan.name}, ${UTC_NOW} FROM accepted
        )
        SELECT id, 'provisioning' AS status FROM accepted`;
    } catch (error) {
      // The same uuid again, or concurrently: answer with the resource the first request made.
      if (uuid && isUniqueViolation(error)) {
        const existing = await this.findByPlatformUuid(addon, uuid);
        if (existing) {
          await this.requireSameProvision(existing, request, plan);
          await this.resumed(existing);
          return { id: existing.id, status: existing.status };
        }
      }
      throw error;
    }
    await this.enqueue("provision", operationId, accepted!.id);
    return accepted!;
  }

  /**
   * Records a plan change and queues its job. The resource's row is locked while the
   * request is checked against it and the operation recorded, as `deprovision` does: a
   * plan change and a deprovision sent at the same moment are recorded one after the
   * other, and the later one sees the earlier (a plan change after a recorded
   * deprovision is refused as `resource_not_found`, never run on a removed database).
   */
  async changePlan(addon: AddonDefinition, id: string, request: PlanChangeRequest): Promise<PlanChangeOutcome> {
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
      const plan = requirePlan(addon, request.plan);
      if (resource.status === "failed") throw refusals.resourceFailed(id, resource.statusReason ?? "no reason recorded");
      if (await isSuspended(tx, id)) throw refusals.resourceSuspended(id);
      const lastChange = await tx.operation.findFirst({
        where: { resourceId: id, kind: "change_plan", status: { in: ["pending", "running"] } },
        orderBy: { seq: "desc" },
      });
      const intendedPlan = lastChange?.targetPlan ?? resource.plan;
      if (intendedPlan === plan.name) return { plan, operationId: null };
      const operation = await tx.operation.create({ data: { resourceId: id, kind: "change_plan", targetPlan: plan.name } });
      return { plan, operationId: operation.id };
    });
    if (recorded.operationId === null) return { kind: "unchanged", plan: recorded.plan };
    await this.enqueue("change_plan", recorded.operationId, id);
    return { kind: "queued", plan: recorded.plan };
  }

  /**
   * The deprovision operation that removes the resource (a new one, or the one already under way), or null when it is gone already.
   * Recorded under the resource's row lock, like a plan change (see `changePlan`).
   */
  async deprovision(addon: AddonDefinition, id: string): Promise<Operation | null> {
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource) throw refusals.resourceNotFound(id);
      const pending = await tx.operation.findFirst({
        where: { resourceId: id, kind: "deprovision", status: { in: ["pending", "running", "succeeded"] } },
      });
      // Deleting twice has the outcome of deleting once.
      if (resource.status === "deprovisioned" || pending) return { operation: pending, queue: pending?.status === "pending" };
      return { operation: await tx.operation.create({ data: { resourceId: id, kind: "deprovision" } }), queue: true };
    });
    if (recorded.operation && recorded.queue) await this.enqueue("deprovision", recorded.operation.id, id);
    return recorded.operation;
  }

  /**
   * Suspends a database (the platform's `POST …/suspend`, spec §2.5), in order with its other
   * operations. Suspending a suspended one (or one whose suspension is recorded) records nothing.
   */
  async suspend(addon: AddonDefinition, id: string): Promise<Operation | null> {
    return this.recordSuspension(addon, id, "suspend");
  }

  /** Resumes a suspended database (`POST …/resume`); one that is not suspended, nor going to be, records nothing. */
  async resume(addon: AddonDefinition, id: string): Promise<Operation | null> {
    return this.recordSuspension(addon, id, "resume");
  }

  private async recordSuspension(addon: AddonDefinition, id: string, kind: "suspend" | "resume"): Promise<Operation | null> {
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
      if ((await isSuspended(tx, id)) === (kind === "suspend")) return null;
      if (kind === "suspend" && resource.status === "failed") throw refusals.resourceFailed(id, resource.statusReason ?? "no reason recorded");
      return tx.operation.create({ data: { resourceId: id, kind } });
    });
    if (recorded) await this.enqueue(kind, recorded.id, id);
    return recorded;
  }

  /**
   * Rotates the database's credentials: a new password (see the worker's handler), sent to the
   * app, the previous one refused after the grace period. Queued in order with the resource's
   * other operations; each request is a rotation of its own.
   */
  async rotateCredentials(addon: AddonDefinition, id: string): Promise<Operation> {
    if (!addon.rotation) throw refusals.rotationNotSupported(addon.id);
    const recorded = await this.db.$transaction(async (tx) => {
      await lockChangeable(tx, addon, id);
      return tx.operation.create({ data: { resourceId: id, kind: "rotate_credentials" } });
    });
    await this.enqueue("rotate_credentials", recorded.id, id);
    return recorded;
  }

  /**
   * Records a backup (`scheduled`) and the operation that takes it, under the resource's row lock
   * like any operation, and queues its job. A backup is taken of a running database only; the
   * operations of a resource run one at a time, so one backup of it runs at a time.
   */
  async backup(addon: AddonDefinition, id: string, method: BackupMethod): Promise<Backup> {
    if (!addon.backup) throw refusals.backupsNotSupported(addon.id);
    const format = addon.backup.format;
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
      if (await isSuspended(tx, id)) throw refusals.resourceSuspended(id);
      if (!isIn("backupable", resource.status)) throw refusals.resourceNotBackupable(id, resource.status);
      const backup = await tx.backup.create({ data: { resourceId: id, method, format } });
      const operation = await tx.operation.create({ data: { resourceId: id, kind: "backup", backupId: backup.id } });
      return { backup, operationId: operation.id };
    });
    await this.enqueue("backup", recorded.operationId, id);
    return recorded.backup;
  }

  /**
   * Records a restore of one of the resource's finished backups into it, and queues its job. The
   * database keeps serving its current data until the restore's switch (see the worker's handler).
   */
  async restore(addon: AddonDefinition, id: string, backupId: string): Promise<Operation> {
    if (!addon.backup) throw refusals.backupsNotSupported(addon.id);
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
      if (await isSuspended(tx, id)) throw refusals.resourceSuspended(id);
      const backup = await tx.backup.findFirst({ where: { id: backupId, resourceId: id } });
      if (!backup) throw refusals.backupNotFound(id, backupId);
      if (backup.status !== "done") throw refusals.backupNotRestorable(backupId, backup.status);
      if (backup.format === RAW_COPY_FORMAT) throw refusals.rawCopyNotRestorable(backupId);
      if (!isIn("backupable", resource.status)) throw refusals.resourceNotBackupable(id, resource.status);
      return tx.operation.create({ data: { resourceId: id, kind: "restore", backupId } });
    });
    await this.enqueue("restore", recorded.id, id);
    return recorded;
  }

  /**
   * Puts the database back to a moment of the last 7 days (an engine with a continuous archive):
   * a restore operation, queued in order with the resource's others, refused at once when no
   * physical copy can reach the moment.
   */
  async restoreToMoment(addon: AddonDefinition, id: string, at: Date, now = new Date()): Promise<Operation> {
    requireArchive(addon);
    const recorded = await this.db.$transaction(async (tx) => {
      const resource = await lockResource(tx, addon, id);
      if (!resource || !(await acceptsPlatformRequests(tx, resource))) throw refusals.resourceNotFound(id);
      if (await isSuspended(tx, id)) throw refusals.resourceSuspended(id);
      if (!isIn("backupable", resource.status)) throw refusals.resourceNotBackupable(id, resource.status);
      await requireReachable(tx, id, at, now);
      return tx.operation.create({ data: { resourceId: id, kind: "restore", targetTime: at } });
    });
    await this.enqueue("restore", recorded.id, id);
    return recorded;
  }

  /** The resource's backups, newest first (a deprovisioned resource's final one included). */
  async listBackups(addon: AddonDefinition, id: string): Promise<Backup[]> {
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id } });
    if (!resource || isIn("pooled", resource.status)) throw refusals.resourceNotFound(id);
    return this.db.backup.findMany({ where: { resourceId: id }, orderBy: { createdAt: "desc" } });
  }

  /** One finished backup of the resource, for its download. */
  async finishedBackup(addon: AddonDefinition, id: string, backupId: string): Promise<Backup> {
    const backup = await this.db.backup.findFirst({ where: { id: backupId, resourceId: id, resource: { addon: addon.id } } });
    if (!backup) throw refusals.backupNotFound(id, backupId);
    if (backup.status !== "done" || backup.objectKey === null) throw refusals.backupNotRestorable(backupId, backup.status);
    return backup;
  }

  /** Sets the hour (UTC) of the resource's daily backup. */
  async setBackupHour(addon: AddonDefinition, id: string, hour: number): Promise<void> {
    if (!addon.backup) throw refusals.backupsNotSupported(addon.id);
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id } });
    if (!resource || !isPlatforms(resource.status)) throw refusals.resourceNotFound(id);
    await this.db.resource.update({ where: { id }, data: { backupHour: hour } });
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
      // A warm pool database that failed to build is built again as one (it has no app to report to).
      const pooled = operation.kind === "provision" && operation.resource.claimedAt === null && operation.resource.appId === "";
      const resumed = pooled ? "warming" : OPERATION_KINDS[operation.kind].runningStatus;
      if (operation.resource.status === "failed" && resumed !== null) {
        await requireTransition(tx, operation.resourceId, resumed, { from: ["failed"], data: { statusReason: null } });
      }
      if (operation.kind === "backup" && operation.backupId) {
        await tx.backup.update({ where: { id: operation.backupId }, data: { status: "scheduled", error: null, finishedAt: null } });
      }
      return tx.operation.findUniqueOrThrow({ where: { id: operationId } });
    });
    try {
      await this.queue.resume(OPERATION_KINDS[operation.kind].job, { operationId, resourceId: operation.resourceId }, { freshAttempts: true });
    } catch (error) {
      throw refusals.queueUnavailable(error);
    }
    return retried;
  }

  /**
   * Refuses at once a recovery of resource `id` to `at` that no physical copy can reach (for a
   * fork of a moment: a new database as `id` was then; `id` may be deleted since, its archive
   * kept with its final backup).
   */
  async requireRecoverable(addon: AddonDefinition, id: string, at: Date, now = new Date()): Promise<void> {
    requireArchive(addon);
    const resource = await this.db.resource.findFirst({ where: { id, addon: addon.id } });
    if (!resource || isIn("pooled", resource.status)) throw refusals.resourceNotFound(id);
    await requireReachable(this.db, id, at, now);
  }

  /** A fork's source: a finished backup of one of this addon's databases (a deleted one's included). */
  private async requireForkable(addon: AddonDefinition, backupId: string): Promise<void> {
    if (!addon.backup) throw refusals.backupsNotSupported(addon.id);
    const backup = await this.db.backup.findFirst({ where: { id: backupId, resource: { addon: addon.id } } });
    if (!backup) throw refusals.backupNotFound("(fork source)", backupId);
    if (backup.status !== "done") throw refusals.backupNotRestorable(backupId, backup.status);
    if (backup.format === RAW_COPY_FORMAT) throw refusals.rawCopyNotRestorable(backupId);
  }

  private findByPlatformUuid(addon: AddonDefinition, platformUuid: string): Promise<Resource | null> {
    return this.db.resource.findUnique({ where: { addon_platformUuid: { addon: addon.id, platformUuid } } });
  }

  /**
   * A uuid names one provision request (Heroku's idempotency rule): the same uuid with the
   * same plan and app answers the same resource; with others it is refused, naming what differs.
   * The plan compared is the one the resource was provisioned with (its first provision
   * operation's), not its current one: a plan change since does not make a retry a conflict.
   */
  private async requireSameProvision(resource: Resource, request: ProvisionRequest, plan: AddonPlan): Promise<void> {
    const first = await this.db.operation.findFirst({
      where: { resourceId: resource.id, kind: "provision" },
      orderBy: { seq: "asc" },
      select: { targetPlan: true },
    });
    const provisionedPlan = first?.targetPlan ?? resource.plan;
    const differences = [
      ...(provisionedPlan === plan.name ? [] : [`plan '${provisionedPlan}' (this request: '${plan.name}')`]),
      ...(resource.appId === request.app_id ? [] : [`app_id '${resource.appId}' (this request: '${request.app_id}')`]),
    ];
    if (differences.length > 0) throw refusals.idempotencyConflict(request.uuid!, resource.id, differences);
  }

  /** A repeated provision: make sure its unfinished operations are queued (a no-op when they are). */
  private async resumed(resource: Resource): Promise<void> {
    const unfinished = await this.db.operation.findMany({
      where: { resourceId: resource.id, status: { in: ["pending", "running"] } },
      orderBy: { seq: "asc" },
    });
    try {
      for (const operation of unfinished) await this.queue.resume(OPERATION_KINDS[operation.kind].job, { operationId: operation.id, resourceId: resource.id });
    } catch (error) {
      throw refusals.queueUnavailable(error);
    }
  }

  private enqueue(kind: Operation["kind"], operationId: string, resourceId: string): Promise<void> {
    return enqueueOperation(this.queue, kind, operationId, resourceId);
  }
}

function requirePlan(addon: AddonDefinition, name: string): AddonPlan {
  const plan = findPlan(addon, name);
  if (!plan) throw refusals.unknownPlan(name, addon.id, addon.plans.map((p) => p.name));
  return plan;
}

/** What a fork is made from (its fork token's subject): a backup, or a database at a moment. */
export type ForkSeed = { backupId: string } | { resourceId: string; at: Date };

/** Refuses a moment of resource `id` that no physical copy of its can reach (`baseBackupFor`). */
async function requireReachable(db: Prisma.TransactionClient, id: string, at: Date, now: Date): Promise<void> {
  const [bases, restores] = await Promise.all([
    db.baseBackup.findMany({ where: { resourceId: id } }),
    db.operation.findMany({ where: { resourceId: id, kind: "restore", status: "succeeded" }, select: { startedAt: true, createdAt: true } }),
  ]);
  const base = baseBackupFor(bases, restores.map((each) => each.startedAt ?? each.createdAt), at, now);
  if ("refused" in base) throw refusals.restoreTimeOutOfRange(id, base.refused);
}

/** Refuses a recovery to a moment of an engine that keeps no continuous archive. */
function requireArchive(addon: AddonDefinition): void {
  if (!addon.backup) throw refusals.backupsNotSupported(addon.id);
  if (!addon.backup.archive) throw refusals.pointInTimeNotSupported(addon.id);
}

import { Prisma, type PrismaClient, type ResourceStatus } from "@berth/db";
import { canTransition } from "@berth/operations";

/** What hurt a database, ready to be recorded: from a Docker event, or found when resynchronising. */
export interface Incident {
  /** Identity of what happened; every worker that sees it derives the same key. */
  readonly key: string;
  readonly resourceId: string;
  readonly containerName: string;
  readonly kind: "oom" | "exit";
  readonly exitCode?: number;
  /** The event's reason, for people. */
  readonly reason: string;
  /** What the resource's status reason becomes (the reason, or more context). */
  readonly statusReason: string;
  readonly occurredAt: Date;
  /**
   * Resource statuses in which it is recorded: `provisioned` and `degraded` for Docker's events,
   * only `provisioned` for a stop found when resynchronising (a degraded one is known already).
   */
  readonly fromStatuses: readonly ResourceStatus[];
}

export type RecordOutcome =
  /** This call wrote the event and marked the resource degraded. */
  | "recorded"
  /** Another worker (or an earlier delivery) recorded it already. */
  | "duplicate"
  /** Not an incident: the resource is not live, or an operation was stopping the container then. */
  | "ignored";

/** Key prefix of stops found by resynchronisation (their time is the container's `FinishedAt`, not an event's). */
export const RESYNC_KEY_PREFIX = "stopped/";

const UTC_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;

/** First half of the advisory lock that serialises the recordings of one resource (the second: its id's hash). */
const RECORDING_LOCK_KEY = 0x636e_746d; // "cntm"

/** A JavaScript time as the control plane stores times (UTC, `timestamp` without zone: Prisma's convention). */
function utc(date: Date): Prisma.Sql {
  return Prisma.sql`(${date.toISOString()}::timestamptz AT TIME ZONE 'UTC')`;
}

/**
 * Records an incident once and marks its resource degraded, in one statement: every worker
 * receives every Docker event and runs this; the unique event key lets one insert through, and
 * the resource is updated only by the statement whose insert went through. (A per-resource
 * advisory lock around it orders it after any other recording of the resource, for the last
 * rule below.) The statement also decides, in the same snapshot, whether it is an incident at all:
 * - the resource must be in one of `fromStatuses` (never a resource being built, changed,
 *   removed or already removed: those stops are planned);
 * - an exit is not an incident when a plan change or a deprovision of the resource ran at that
 *   moment (within `marginMs`, for clocks): they stop the container on purpose, and a worker may
 *   handle the event after the operation finished (a provision never stops a live container);
 * - an exit Docker reports is not recorded again (a duplicate) when a resynchronisation already
 *   recorded the same stop (same container, within 2 s of its `FinishedAt`).
 */
export async function recordIncident(db: PrismaClient, incident: Incident, { marginMs }: { marginMs: number }): Promise<RecordOutcome> {
  // The lifecycle's move to `degraded`, written in SQL to stay one statement with the event's insert.
  const markable = incident.fromStatuses.filter((status) => canTransition(status, "degraded"));
  if (markable.length === 0) return "ignored";
  const at = incident.occurredAt;
  const plannedStopGuard =
    incident.kind === "exit"
      ? Prisma.sql`
        AND NOT EXISTS (
          SELECT 1 FROM operations o
          WHERE o.resource_id = r.id AND o.kind IN ('change_plan', 'deprovision')
            AND o.started_at <= ${utc(new Date(at.getTime() + marginMs))}
            AND (o.status = 'running' OR o.finished_at >= ${utc(new Date(at.getTime() - marginMs))})
        )`
      : Prisma.empty;
  const resyncedGuard =
    incident.kind === "exit"
      ? Prisma.sql`
        WHERE NOT EXISTS (
          SELECT 1 FROM containment_events e
          WHERE e.container_name = ${incident.containerName} AND e.kind = 'exit' AND e.event_key <> ${incident.key}
            AND e.event_key LIKE ${`${RESYNC_KEY_PREFIX}%`}
            AND e.occurred_at BETWEEN ${utc(new Date(at.getTime() - 2000))} AND ${utc(new Date(at.getTime() + 2000))}
        )`
      : Prisma.empty;
  const [row] = await db.$transaction(async (tx) => {
    // One recording per resource at a time, each statement seeing the one before: a stop found by
    // resynchronisation and Docker's replay of its event must not both go in (their keys differ).
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${RECORDING_LOCK_KEY}::int, hashtext(${incident.resourceId}))`;
    return tx.$queryRaw<{ target: number; recorded: number }[]>`
    WITH target AS (
      SELECT r.id, r.addon FROM resources r
      WHERE r.id = ${incident.resourceId} AND r.status::text IN (${Prisma.join(markable)})
      ${plannedStopGuard}
    ), recorded AS (
      INSERT INTO containment_events (event_key, resource_id, addon, container_name, kind, exit_code, reason, occurred_at, recorded_at)
      SELECT ${incident.key}, id, addon, ${incident.containerName}, ${incident.kind}::"ContainmentEventKind",
             ${incident.exitCode ?? null}::int, ${incident.reason}, ${utc(at)}, ${UTC_NOW}
      FROM target
      ${resyncedGuard}
      ON CONFLICT (event_key) DO NOTHING
      RETURNING resource_id
    ), marked AS (
      UPDATE resources SET status = 'degraded', status_reason = ${incident.statusReason}, updated_at = ${UTC_NOW}
      FROM recorded
      WHERE resources.id = recorded.resource_id AND resources.status::text IN (${Prisma.join(markable)})
      RETURNING resources.id
    )
    SELECT (SELECT count(*) FROM target)::int AS target, (SELECT count(*) FROM recorded)::int AS recorded`;
  });
  if (!row || row.target === 0) return "ignored";
  return row.recorded > 0 ? "recorded" : "duplicate";
}

/** The lifecycle's move back from an incident (checked where the module loads), written in SQL in `markRecovered`. */
const RECOVERY = { from: "degraded", to: "provisioned" } as const satisfies { from: ResourceStatus; to: ResourceStatus };
if (!canTransition(RECOVERY.from, RECOVERY.to)) throw new Error("the resource lifecycle no longer allows degraded → provisioned");

/** The newest event of a resource so far (0 without any): a recovery is valid only if none came after it. */
export async function latestEventId(db: PrismaClient, resourceId: string): Promise<bigint> {
  const latest = await db.containmentEvent.findFirst({ where: { resourceId }, orderBy: { id: "desc" }, select: { id: true } });
  return latest?.id ?? 0n;
}

/**
 * The database answered again: `degraded` → `provisioned`, and its open events get their
 * recovery time, unless an event came after `seenUpTo` (the probe may predate it: that event's
 * own recovery decides). One statement; true when this call moved the resource back.
 */
export async function markRecovered(db: PrismaClient, resourceId: string, seenUpTo: bigint): Promise<boolean> {
  const [row] = await db.$queryRaw<{ back: number }[]>`
    WITH back AS (
      UPDATE resources SET status = ${RECOVERY.to}::"ResourceStatus", status_reason = NULL, updated_at = ${UTC_NOW}
      WHERE id = ${resourceId} AND status = ${RECOVERY.from}::"ResourceStatus"
        AND NOT EXISTS (SELECT 1 FROM containment_events e WHERE e.resource_id = ${resourceId} AND e.id > ${seenUpTo.toString()}::bigint)
      RETURNING id
    ), settled AS (
      UPDATE containment_events SET recovered_at = ${UTC_NOW}
      WHERE resource_id IN (SELECT id FROM back) AND recovered_at IS NULL
      RETURNING id
    )
    SELECT (SELECT count(*) FROM back)::int AS back, (SELECT count(*) FROM settled)::int AS settled`;
  return (row?.back ?? 0) > 0;
}

/**
 * Events left open because the resource went back to `provisioned` another way (a plan change
 * replaced the container and checked it answers): they get their recovery time too.
 */
export async function settleOpenEvents(db: PrismaClient, resourceId: string, seenUpTo: bigint): Promise<void> {
  await db.$executeRaw`
    UPDATE containment_events SET recovered_at = ${UTC_NOW}
    WHERE resource_id = ${resourceId} AND recovered_at IS NULL AND id <= ${seenUpTo.toString()}::bigint
      AND EXISTS (SELECT 1 FROM resources r WHERE r.id = ${resourceId} AND r.status = 'provisioned')`;
}

import { randomBytes } from "node:crypto";
import type { OperationKind, Prisma, ResourceStatus } from "@berth/db";
import type { JobName } from "@berth/jobs";

/**
 * The resource lifecycle, in one place: which status may follow which, what each kind of
 * operation does to it, and the steps each kind takes. Every writer of a resource's status
 * (the API and CLI through `ResourceService`, the worker's handlers, the warm pool, the
 * reconciler, containment) goes through `transition`, which refuses a move this table does not
 * allow, in the same statement that makes it.
 */
export const RESOURCE_TRANSITIONS = {
  // The warm pool: built ahead of demand, then claimed by a provision request (or removed).
  warming: ["warm", "failed", "deprovisioning"],
  warm: ["provisioning", "deprovisioning"],
  provisioning: ["provisioned", "failed", "deprovisioning"],
  provisioned: ["changing_plan", "degraded", "failed", "deprovisioning"],
  // Hurt by something unplanned (see the worker's containment/): back once it answers, or cured by a plan change.
  degraded: ["provisioned", "changing_plan", "failed", "deprovisioning"],
  changing_plan: ["provisioned", "failed", "deprovisioning"],
  deprovisioning: ["deprovisioned", "failed"],
  deprovisioned: [],
  // An operator's retry puts the resource back in the status of the work it resumes.
  failed: ["warming", "provisioning", "changing_plan", "deprovisioning"],
} as const satisfies { readonly [S in ResourceStatus]: readonly ResourceStatus[] };

/** The statuses a resource may move to `to` from (staying in `to` is always allowed: every step may be replayed). */
export function statusesBefore(to: ResourceStatus): ResourceStatus[] {
  return (Object.keys(RESOURCE_TRANSITIONS) as ResourceStatus[]).filter((from) =>
    (RESOURCE_TRANSITIONS[from] as readonly ResourceStatus[]).includes(to),
  );
}

export function canTransition(from: ResourceStatus, to: ResourceStatus): boolean {
  return from === to || (RESOURCE_TRANSITIONS[from] as readonly ResourceStatus[]).includes(to);
}

/** Named sets of statuses, so a rule such as "serving its customer" is written once. */
const STATUS_SETS = {
  /** A warm pool's database: no app yet, never shown to the platform. */
  pooled: ["warming", "warm"],
  /** Serving its customer: watched for incidents, shown with its URL. */
  live: ["provisioned", "degraded"],
  /** A running database whose usage is sampled (a plan change keeps it serving). */
  metered: ["provisioned", "degraded", "changing_plan"],
  /** The plan of a database in these may be changed. */
  planChangeable: ["provisioned", "degraded", "changing_plan"],
  /** Provisioning has nothing left to build (a replay after success, or removed meanwhile). */
  built: ["warm", "provisioned", "degraded", "changing_plan", "deprovisioning", "deprovisioned"],
  /** Removed, or being removed. */
  removed: ["deprovisioning", "deprovisioned"],
} as const satisfies Record<string, readonly ResourceStatus[]>;

export type StatusSet = keyof typeof STATUS_SETS;

/** The statuses of a named set, for queries (`where: { status: { in: statusesIn("live") } }`). */
export function statusesIn(set: StatusSet): ResourceStatus[] {
  return [...STATUS_SETS[set]];
}

export function isIn(set: StatusSet, status: ResourceStatus): boolean {
  return (STATUS_SETS[set] as readonly ResourceStatus[]).includes(status);
}

/** The platform may act on a resource in these (a pool's, or one removed or being removed, is not its to act on). */
export function isPlatforms(status: ResourceStatus): boolean {
  return !isIn("pooled", status) && !isIn("removed", status);
}

/**
 * The catalog of operation kinds: the job that carries each out, the status its resource shows
 * while it runs, and its steps in the order its handler takes them. `steps` is the path every
 * successful run takes (a step's progress percent is the share of steps before it; the fault
 * tests kill a worker at each); `offPath` are steps taken only on the way to a failure or a
 * refusal (they keep the percent reached).
 */
export const OPERATION_KINDS = {
  provision: {
    job: "provision",
    runningStatus: "provisioning",
    steps: ["credentials", "placement", "volume", "container", "bootstrap", "readiness", "rotate-credentials", "report-config", "report-provisioned"],
    offPath: ["cleanup"],
  },
  change_plan: {
    job: "change-plan",
    runningStatus: "changing_plan",
    steps: ["disk-check", "disk", "container", "readiness", "report-config"],
    offPath: [],
  },
  deprovision: {
    job: "deprovision",
    runningStatus: "deprovisioning",
    steps: ["container", "volume"],
    offPath: [],
  },
} as const satisfies {
  readonly [K in OperationKind]: { job: JobName; runningStatus: ResourceStatus; steps: readonly string[]; offPath: readonly string[] };
};

/** A step of one kind of operation: `ctx.step` takes only these, so a step is added to the catalog first. */
export type OperationStep<K extends OperationKind = OperationKind> =
  | (typeof OPERATION_KINDS)[K]["steps"][number]
  | (typeof OPERATION_KINDS)[K]["offPath"][number];

/** Progress of an operation that begins `step`: the share of its path's steps before it, or undefined for a step off the path. */
export function stepPercent(kind: OperationKind, step: string): number | undefined {
  const steps: readonly string[] = OPERATION_KINDS[kind].steps;
  const index = steps.indexOf(step);
  return index < 0 ? undefined : Math.round((index / steps.length) * 100);
}

export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";

  constructor(
    readonly resourceId: string,
    readonly from: ResourceStatus | undefined,
    readonly to: ResourceStatus,
  ) {
    super(from === undefined ? `resource ${resourceId} does not exist` : `resource ${resourceId} cannot go from ${from} to ${to}`);
  }
}

/** What `transition` writes with: the client, or a transaction's. */
export type ResourceWriter = Pick<Prisma.TransactionClient, "resource">;

export interface TransitionOptions {
  /** Narrower than the lifecycle allows: move only from these (e.g. "if it is still `warm`"). */
  readonly from?: readonly ResourceStatus[];
  /** Other columns written in the same statement. */
  readonly data?: Omit<Prisma.ResourceUpdateManyMutationInput, "status">;
}

/** The update that moves a resource to `to` only from a status allowed to precede it: for batched transactions. */
export function transitionUpdate(id: string, to: ResourceStatus, options: TransitionOptions = {}): Prisma.ResourceUpdateManyArgs {
  const allowed = [to, ...statusesBefore(to)].filter((status) => !options.from || options.from.includes(status));
  return { where: { id, status: { in: allowed } }, data: { ...options.data, status: to } };
}

/**
 * Moves a resource to `to`, in one statement that checks the move against the lifecycle (and
 * `options.from`): true when it moved (or was in `to` already), false when its status does not
 * allow it (read again by the caller if it matters why).
 */
export async function transition(db: ResourceWriter, id: string, to: ResourceStatus, options: TransitionOptions = {}): Promise<boolean> {
  const { count } = await db.resource.updateMany(transitionUpdate(id, to, options));
  return count === 1;
}

/** `transition`, for moves that must happen: a refused one is a bug or a race lost, and throws. */
export async function requireTransition(db: ResourceWriter, id: string, to: ResourceStatus, options: TransitionOptions = {}): Promise<void> {
  if (await transition(db, id, to, options)) return;
  const current = await db.resource.findUnique({ where: { id }, select: { status: true } });
  throw new IllegalTransitionError(id, current?.status, to);
}

/** A new resource's id: its addon, then 16 random hex digits (the names of its container and volume derive from it). */
export function newResourceId(addonId: string): string {
  return `${addonId}-${randomBytes(8).toString("hex")}`;
}

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
  provisioned: ["changing_plan", "restoring", "degraded", "suspending", "failed", "deprovisioning"],
  // Hurt by something unplanned (see the worker's containment/): back once it answers, or cured by a plan change.
  degraded: ["provisioned", "changing_plan", "restoring", "suspending", "failed", "deprovisioning"],
  changing_plan: ["provisioned", "failed", "deprovisioning"],
  // A restore that fails before the switch leaves the database as it was: back to provisioned.
  restoring: ["provisioned", "failed", "deprovisioning"],
  deprovisioning: ["deprovisioned", "failed"],
  deprovisioned: [],
  // An operator's retry puts the resource back in the status of the work it resumes.
  failed: ["warming", "provisioning", "changing_plan", "restoring", "suspending", "resuming", "deprovisioning"],
  // The platform's suspension (spec §2.5): the container goes, everything else stays.
  suspending: ["suspended", "failed", "deprovisioning"],
  suspended: ["resuming", "deprovisioning"],
  resuming: ["provisioned", "failed", "deprovisioning"],
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
  /** A database in these runs its container: its continuous archive is shipped (during a restore, from the one still serving). */
  archiving: ["provisioned", "degraded", "changing_plan", "restoring"],
  /** A backup may be taken of a database in these, and one restored into it. */
  backupable: ["provisioned", "degraded"],
  /** Provisioning has nothing left to build (a replay after success, or removed meanwhile). */
  built: ["warm", "provisioned", "degraded", "changing_plan", "restoring", "suspending", "suspended", "resuming", "deprovisioning", "deprovisioned"],
  /** Suspended by the platform, or on the way there or back: no plan change, backup or restore. */
  suspension: ["suspending", "suspended", "resuming"],
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
 * while it runs (null: it keeps its status, the database serving as before), and its steps in the
 * order its handler takes them. `steps` is the path every successful run takes (a step's progress
 * percent is the share of steps before it; the fault tests kill a worker at each); `offPath` are
 * steps taken only on the way to a failure or a refusal (they keep the percent reached).
 * `failsFrom`: the statuses in which the operation's final failure marks its resource `failed`,
 * for an operator to repair: the ones the operation put it in. A handler that undid what it
 * started (a refused plan change, a restore abandoned before its switch) moved the resource out
 * of them, and a backup never changes its database: those failures leave the resource's status.
 */
export const OPERATION_KINDS = {
  provision: {
    job: "provision",
    runningStatus: "provisioning",
    // `seed`: a fork's data, loaded from its backup; `rotate-credentials`: a warm pool database's new
    // password (a rotation without grace: nobody holds the pool's).
    steps: ["credentials", "placement", "volume", "container", "bootstrap", "readiness", "seed", "rotate-credentials", "report-config", "report-provisioned"],
    offPath: ["cleanup"],
    failsFrom: ["provisioning", "warming"],
  },
  change_plan: {
    job: "change-plan",
    runningStatus: "changing_plan",
    steps: ["disk-check", "disk", "container", "readiness", "report-config"],
    offPath: [],
    failsFrom: ["changing_plan"],
  },
  deprovision: {
    job: "deprovision",
    runningStatus: "deprovisioning",
    // The final backup first: nothing is removed until it is stored.
    steps: ["final-backup", "container", "volume"],
    offPath: [],
    failsFrom: ["deprovisioning"],
  },
  backup: {
    job: "backup",
    runningStatus: null,
    // The dump streamed from the database's container into the backup store; with an engine that
    // keeps a continuous archive, a physical copy (`base`) for point-in-time recovery; then the retention rule.
    steps: ["dump", "base", "prune"],
    offPath: [],
    failsFrom: [],
  },
  restore: {
    job: "restore",
    runningStatus: "restoring",
    // Verified, loaded into a new volume by a staging container, then switched to: until `switch`
    // the database serves from its old volume, untouched; after it, the old volume is removed.
    steps: ["verify", "volume", "staging", "load", "switch", "readiness", "cleanup"],
    offPath: ["abandon"],
    failsFrom: ["restoring"],
  },
  suspend: {
    job: "suspend",
    runningStatus: "suspending",
    // The container removed: connections refused, nothing runs; volume, port and credentials kept.
    steps: ["container"],
    offPath: [],
    failsFrom: ["suspending"],
  },
  resume: {
    job: "resume",
    runningStatus: "resuming",
    // The same container again (same volume, port, credentials: the platform's URL still works).
    steps: ["container", "readiness"],
    offPath: [],
    failsFrom: ["resuming"],
  },
  rotate_credentials: {
    job: "rotate-credentials",
    runningStatus: null,
    // New credentials stored, then accepted by the engine beside the current ones, then sent to
    // the app; after the grace period (the app restarts with them) the previous ones are refused.
    steps: ["credentials", "admit", "report-config", "grace", "retire"],
    offPath: [],
    failsFrom: [],
  },
  sync_users: {
    job: "sync-users",
    runningStatus: null,
    // The engine's other users made exactly the recorded ones (created, changed, removed).
    steps: ["users"],
    offPath: [],
    failsFrom: [],
  },
} as const satisfies {
  readonly [K in OperationKind]: {
    job: JobName;
    runningStatus: ResourceStatus | null;
    steps: readonly string[];
    offPath: readonly string[];
    failsFrom: readonly ResourceStatus[];
  };
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

/**
 * The format of a final backup that is a copy of the database's files (a tar of its data
 * directory), taken when its engine could not dump: downloaded, never restored through Berth.
 */
export const RAW_COPY_FORMAT = "data.tar";

/** A new resource's id: its addon, then 16 random hex digits (the names of its container and volume derive from it). */
export function newResourceId(addonId: string): string {
  return `${addonId}-${randomBytes(8).toString("hex")}`;
}

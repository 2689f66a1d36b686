import type { Prisma, PrismaClient } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import { OPERATION_KINDS, recordPoolBuild, recordPoolRemoval, type QueuedOperation } from "@berth/operations";
import type { Logger } from "pino";

/** How many ready databases of one plan to keep unassigned (`BERTH_WARM_POOL`). */
export interface WarmPoolTarget {
  readonly addonId: string;
  readonly plan: string;
  readonly size: number;
}

export interface RefillReport {
  /** Pool databases queued for building. */
  readonly building: string[];
  /** Pool databases beyond their plan's size, or that failed to build a while ago, queued for removal. */
  readonly removing: string[];
  /** Plans skipped because a pool database of theirs failed recently. */
  readonly pausedPlans: string[];
}

/** A plan whose pool database failed to build is not refilled for this long (no failure storm on a missing image). */
const FAILURE_PAUSE_MS = 10 * 60_000;

/** Serialises refills across workers: counting and adding must not interleave. */
const REFILL_LOCK_KEY = 0x6265_7274; // "bert"

/**
 * The warm pool: per configured plan, databases built ahead of demand. They are
 * resources like any other, built by the provision handler, with the status
 * `warming` then `warm` and no app. The API's accept path claims a `warm` one
 * of the requested plan in the same statement that records the request, and the
 * provision handler then gives it the customer's own password (see `provision`).
 * Refilled at worker start, after every claim, and at every reconciliation pass.
 */
export class WarmPool {
  #running: Promise<void> | undefined;
  #again = false;

  constructor(
    private readonly db: PrismaClient,
    private readonly queue: OperationQueue,
    private readonly logger: Logger,
    readonly targets: readonly WarmPoolTarget[],
  ) {}

  /** Refills now, or once more after the refill under way. Never rejects: a failed refill is logged and the next one catches up. */
  requestRefill(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.refillOnce().catch((error: unknown) => this.logger.error({ err: error }, "warm pool refill failed"));
      } while (this.#again);
      this.#running = undefined;
    })();
    return this.#running;
  }

  /** Resolves once the refill under way, if any (and the one asked for meanwhile), is done. Never rejects. */
  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  /** Brings every plan's pool to its size: queues builds for the missing, removal for the extra. */
  async refillOnce(): Promise<RefillReport> {
    const queued: QueuedOperation[] = [];
    const report: RefillReport = { building: [], removing: [], pausedPlans: [] };
    await this.db.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${REFILL_LOCK_KEY})`;
      // Ready databases of a plan no longer pooled (its size removed from the configuration) go.
      const unwanted = await tx.resource.findMany({
        where: { status: "warm", NOT: this.targets.map(({ addonId, plan }) => ({ addon: addonId, plan })) },
        select: { id: true },
      });
      for (const { id } of unwanted) await this.remove(tx, id, "warm", queued, report);
      for (const { addonId, plan, size } of this.targets) {
        const pool = await tx.resource.findMany({
          where: { addon: addonId, plan, status: { in: ["warming", "warm"] } },
          orderBy: { createdAt: "asc" },
          select: { id: true, status: true },
        });
        if (pool.length > size) {
          // Only ready ones are removed (a building one finishes first); the newest go.
          const extra = pool.filter((row) => row.status === "warm").slice(-(pool.length - size));
          for (const { id } of extra) await this.remove(tx, id, "warm", queued, report);
          continue;
        }
        // Pool databases that failed to build: kept for operators to read for a while, then removed.
        const failed = await tx.resource.findMany({
          where: { addon: addonId, plan, appId: "", claimedAt: null, status: "failed" },
          select: { id: true, updatedAt: true },
        });
        const pauseStart = Date.now() - FAILURE_PAUSE_MS;
        for (const { id } of failed.filter((row) => row.updatedAt.getTime() <= pauseStart)) await this.remove(tx, id, "failed", queued, report);
        if (pool.length === size) continue;
        if (failed.some((row) => row.updatedAt.getTime() > pauseStart)) {
          report.pausedPlans.push(plan);
          continue;
        }
        for (let index = pool.length; index < size; index++) {
          const build = await recordPoolBuild(tx, addonId, plan);
          queued.push(build);
          report.building.push(build.resourceId);
        }
      }
    });
    // After the commit: a job must never run before its operation row exists. A lost enqueue is
    // picked up by the reconciler, like any operation without a job.
    for (const { kind, operationId, resourceId } of queued) await this.queue.enqueue(OPERATION_KINDS[kind].job, { operationId, resourceId });
    if (report.building.length + report.removing.length > 0 || report.pausedPlans.length > 0) {
      this.logger[report.pausedPlans.length > 0 ? "warn" : "info"](report, "warm pool refill");
    }
    return report;
  }

  /**
   * Queues the removal of a pool database nobody holds (ready, or failed to build), if it is
   * still in the status it was read in: the API may have claimed it since (its claim locks the
   * row, and this update waits for it, then finds it no longer `warm`).
   */
  private async remove(tx: Prisma.TransactionClient, id: string, status: "warm" | "failed", queued: QueuedOperation[], report: RefillReport): Promise<void> {
    const removal = await recordPoolRemoval(tx, id, status);
    if (!removal) return;
    queued.push(removal);
    report.removing.push(id);
  }
}

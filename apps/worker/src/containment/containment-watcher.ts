import { setTimeout as sleep } from "node:timers/promises";
import { findPlan, type AddonCredentials } from "@berth/addon-sdk";
import type { Resource } from "@berth/db";
import { isIn, statusesIn } from "@berth/operations";
import type { WorkerDeps } from "../deps.js";
import { containerNameOf } from "../names.js";
import { probeHostFor } from "../readiness.js";
import type { ContainerEvent } from "../runtime/container-runtime.js";
import { RESYNC_KEY_PREFIX, latestEventId, markRecovered, recordIncident, settleOpenEvents, type Incident, type RecordOutcome } from "./incidents.js";

export interface ContainmentOptions {
  /** First pause before subscribing again after Docker's event stream failed; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** First pause before probing a degraded database; doubles up to `maxProbeIntervalMs`. */
  probeDelayMs?: number;
  maxProbeIntervalMs?: number;
  /**
   * A container stop this close to a plan change or deprovision of its resource is that
   * operation's (planned). Docker's clock against the worker's: the same host's, so small; a crash
   * right after a plan change must still count.
   */
  plannedStopMarginMs?: number;
}

/** What this worker made of one Docker event (the last ones are kept, for tests and debugging). */
interface HandledEvent {
  readonly action: string;
  readonly containerName: string;
  readonly resourceId: string;
  readonly at: Date;
  readonly outcome: RecordOutcome | "not-tracked";
}

export interface ContainmentWatcher {
  /** The last events handled, oldest first (at most 500). */
  readonly handled: readonly HandledEvent[];
  /** Resynchronisations finished (one after each subscription to Docker's events). */
  readonly resyncs: number;
  /** Stops following events and probing; resolves when what was under way has finished. */
  close(): Promise<void>;
}

const HANDLED_KEPT = 500;
/** A Docker `die` this soon after an `oom` of the same container is that OOM's end. */
const OOM_THEN_EXIT_MS = 10_000;
/** A subscription that lasted this long was healthy: the next failure starts the backoff again. */
const HEALTHY_STREAM_MS = 60_000;
const PROBE_TIMEOUT_MS = 5_000;
const RESYNC_CONCURRENCY = 8;

/**
 * Containment, detected: follows Docker's events about this deployment's containers and records
 * what nobody planned — the memory cgroup's OOM killer ending a process of a database, a database's
 * main process exiting — on its resource (`degraded`, with the reason, and a containment event),
 * with a log line. Each degraded database is probed until it answers again (Docker's restart policy
 * restarts a container whose process exited; PostgreSQL recovers by itself after a backend was
 * killed), then goes back to `provisioned`; the event stays in its history.
 *
 * Every worker runs one; each event is recorded once (see `recordIncident`). When the stream fails,
 * it subscribes again with backoff, asking Docker to replay from the last event it saw, and
 * resynchronises: a `provisioned` database whose container is not running is recorded as stopped,
 * and every `degraded` one is probed (also at start, for those a stopped worker left).
 */
export function startContainment(deps: WorkerDeps, options: ContainmentOptions = {}): ContainmentWatcher {
  const backoffMs = options.backoffMs ?? 1_000;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const probeDelayMs = options.probeDelayMs ?? 500;
  const maxProbeIntervalMs = options.maxProbeIntervalMs ?? 10_000;
  const marginMs = options.plannedStopMarginMs ?? 250;
  const logger = deps.logger.child({ component: "containment" });
  const stopping = new AbortController();
  const { signal } = stopping;
  const handled: HandledEvent[] = [];
  const recoveries = new Map<string, { wake(): void; done: Promise<void> }>();
  let queue: Promise<void> = Promise.resolve();
  let resyncs = 0;

  const note = (event: ContainerEvent, outcome: HandledEvent["outcome"]) => {
    handled.push({ action: event.action, containerName: event.containerName, resourceId: event.resourceId, at: event.at, outcome });
    if (handled.length > HANDLED_KEPT) handled.splice(0, handled.length - HANDLED_KEPT);
  };

  async function handle(event: ContainerEvent): Promise<void> {
    if (!event.resourceId || !["oom", "die", "start"].includes(event.action) || (event.action === "die" && event.exitCode === undefined)) {
      return note(event, "not-tracked");
    }
    const resource = await deps.db.resource.findUnique({ where: { id: event.resourceId } });
    if (!resource || !isIn("live", resource.status)) {
      logger.debug({ resourceId: event.resourceId, action: event.action, status: resource?.status }, "containment: event of a database that is not live; ignored");
      return note(event, "ignored");
    }
    if (event.action === "start") {
      // Restarted by Docker: probe now rather than at the next pause.
      if (resource.status === "degraded") ensureRecovery(resource.id, { now: true });
      return note(event, "not-tracked");
    }
    const incident = event.action === "oom" ? await oomIncident(resource, event) : await exitIncident(resource, event);
    const outcome = await recordIncident(deps.db, incident, { marginMs });
    note(event, outcome);
    report(resource, incident, outcome, "docker event");
  }

  function report(resource: Resource, incident: Incident, outcome: RecordOutcome, source: string) {
    const fields = {
      resourceId: resource.id,
      addon: resource.addon,
      plan: resource.plan,
      containerName: incident.containerName,
      kind: incident.kind,
      ...(incident.exitCode === undefined ? {} : { exitCode: incident.exitCode }),
      reason: incident.reason,
      occurredAt: incident.occurredAt.toISOString(),
      source,
    };
    if (outcome === "recorded") logger.warn(fields, "containment: database degraded");
    else if (outcome === "duplicate") logger.debug(fields, "containment: event already recorded (another worker, or a replay)");
    else logger.debug(fields, "containment: not an incident (a planned stop, or a database not live any more)");
    if (outcome !== "ignored") ensureRecovery(resource.id);
  }

  async function oomIncident(resource: Resource, event: ContainerEvent): Promise<Incident> {
    const reason = oomReason(deps, resource);
    return {
      key: `docker/${event.containerName}/oom/${event.at.getTime()}`,
      resourceId: resource.id,
      containerName: event.containerName,
      kind: "oom",
      reason,
      statusReason: reason,
      occurredAt: event.at,
      fromStatuses: statusesIn("live"),
    };
  }

  async function exitIncident(resource: Resource, event: ContainerEvent): Promise<Incident> {
    const reason = `the database process exited with code ${event.exitCode}`;
    // The main process killed by the OOM killer: Docker reports `oom`, then `die` (137).
    const oom = await deps.db.containmentEvent.findFirst({
      where: { containerName: event.containerName, kind: "oom", occurredAt: { gte: new Date(event.at.getTime() - OOM_THEN_EXIT_MS), lte: event.at } },
      orderBy: { occurredAt: "desc" },
    });
    return {
      key: `docker/${event.containerName}/die/${event.at.getTime()}`,
      resourceId: resource.id,
      containerName: event.containerName,
      kind: "exit",
      exitCode: event.exitCode!,
      reason,
      statusReason: oom ? `${oom.reason}; ${reason}` : reason,
      occurredAt: event.at,
      fromStatuses: statusesIn("live"),
    };
  }

  /** After a gap in the events: what Docker's state says now. */
  async function resync(): Promise<void> {
    const live = await deps.db.resource.findMany({ where: { status: { in: statusesIn("live") } } });
    for (const resource of live.filter((r) => r.status === "degraded")) ensureRecovery(resource.id);
    const provisioned = live.filter((r) => r.status === "provisioned");
    let next = 0;
    const lane = async () => {
      while (next < provisioned.length && !signal.aborted) {
        const resource = provisioned[next++]!;
        await resyncOne(resource).catch((error: unknown) =>
          logger.warn({ resourceId: resource.id, err: messageOf(error) }, "containment: could not check the container after a gap in events"),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(RESYNC_CONCURRENCY, provisioned.length) }, lane));
    resyncs += 1;
  }

  async function resyncOne(resource: Resource): Promise<void> {
    const containerName = resource.containerName ?? containerNameOf(resource.id);
    const state = await deps.runtime.inspectContainer(containerName);
    if (!state) {
      // Not ours to rebuild here (an operator's or the reconciler's matter): say so.
      logger.warn({ resourceId: resource.id, containerName }, "containment: a provisioned database has no container");
      return;
    }
    if (state.running) return;
    const exitCode = state.exitCode ?? -1;
    const occurredAt = state.finishedAt ?? new Date();
    const reason = `the database process exited with code ${exitCode}`;
    const incident: Incident = {
      key: `${RESYNC_KEY_PREFIX}${containerName}/${state.finishedAt?.getTime() ?? "never"}`,
      resourceId: resource.id,
      containerName,
      kind: "exit",
      exitCode,
      reason,
      statusReason: `${reason} (found not running after a gap in Docker's events)`,
      occurredAt,
      fromStatuses: ["provisioned"],
    };
    const outcome = await recordIncident(deps.db, incident, { marginMs });
    report(resource, incident, outcome, "resynchronisation");
  }

  /** Probes a degraded database until it answers, then moves it back to `provisioned` (one loop per resource). */
  function ensureRecovery(resourceId: string, { now = false } = {}): void {
    const existing = recoveries.get(resourceId);
    if (existing) {
      if (now) existing.wake();
      return;
    }
    let wake = new AbortController();
    let pause = now ? 0 : probeDelayMs;
    const done = (async () => {
      while (!signal.aborted) {
        await sleep(pause, undefined, { signal: AbortSignal.any([signal, wake.signal]) }).catch(() => undefined);
        if (signal.aborted) return;
        if (wake.signal.aborted) {
          wake = new AbortController();
          pause = 0;
        }
        pause = Math.min(Math.max(pause * 2, probeDelayMs), maxProbeIntervalMs);
        try {
          const seenUpTo = await latestEventId(deps.db, resourceId);
          const resource = await deps.db.resource.findUnique({ where: { id: resourceId } });
          // A plan change replaces the container and checks it answers: wait for its outcome.
          if (resource?.status === "changing_plan") continue;
          if (!resource || resource.status !== "degraded") {
            // Back another way (that plan change), or removed.
            if (resource?.status === "provisioned") await settleOpenEvents(deps.db, resourceId, seenUpTo);
            return;
          }
          if (!(await answers(resource))) continue;
          if (await markRecovered(deps.db, resourceId, seenUpTo)) {
            logger.info({ resourceId, addon: resource.addon, plan: resource.plan, degradedFor: resource.statusReason }, "containment: database answers again; provisioned");
            return;
          }
          // Another worker moved it back, or a newer event came: look again.
          pause = 0;
        } catch (error) {
          logger.debug({ resourceId, err: messageOf(error) }, "containment: recovery check failed; trying again");
        }
      }
    })().finally(() => recoveries.delete(resourceId));
    recoveries.set(resourceId, { wake: () => wake.abort(), done });
  }

  async function answers(resource: Resource): Promise<boolean> {
    const addon = deps.addons.get(resource.addon);
    if (!addon || resource.credentials === null || resource.port === null) return false;
    const credentials = deps.secrets.openJson<AddonCredentials>(resource.credentials);
    const endpoint = { host: probeHostFor(deps.placement.bindAddress), port: resource.port, credentials };
    return addon.probe(endpoint, AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)])).then(
      () => true,
      () => false,
    );
  }

  const following = (async () => {
    // Events from now on; after a failure, from the last one seen (Docker replays what it still holds).
    let cursor = new Date();
    let pause = backoffMs;
    while (!signal.aborted) {
      const openedAt = Date.now();
      const watching = deps.runtime.watchContainerEvents(
        (event) => {
          if (event.at > cursor) cursor = event.at;
          queue = queue.then(() => handle(event)).catch((error: unknown) =>
            logger.warn({ resourceId: event.resourceId, action: event.action, err: messageOf(error) }, "containment: event not handled"),
          );
        },
        signal,
        { since: cursor },
      );
      const resynchronised = resync().catch((error: unknown) => logger.warn({ err: messageOf(error) }, "containment: resynchronisation failed"));
      try {
        await watching;
      } catch (error) {
        if (Date.now() - openedAt > HEALTHY_STREAM_MS) pause = backoffMs;
        logger.warn({ err: messageOf(error), retryInMs: pause }, "containment: Docker's event stream failed; subscribing again");
      }
      await resynchronised;
      if (signal.aborted) break;
      await sleep(pause, undefined, { signal }).catch(() => undefined);
      pause = Math.min(pause * 2, maxBackoffMs);
    }
  })();

  return {
    handled,
    get resyncs() {
      return resyncs;
    },
    async close() {
      stopping.abort();
      await following;
      await queue;
      await Promise.all([...recoveries.values()].map((recovery) => recovery.done));
    },
  };
}

function oomReason(deps: WorkerDeps, resource: Resource): string {
  const addon = deps.addons.get(resource.addon);
  const plan = addon && findPlan(addon, resource.plan);
  return plan
    ? `out of memory: the plan's ${plan.limits.memoryMb} MiB limit was reached`
    : "out of memory: the container's memory limit was reached";
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import { randomBytes } from "node:crypto";
import { ResourceStatus, type PrismaClient } from "@berth/db";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { layout, securityHeaders } from "../dashboard/layout.js";
import { messageBody } from "../dashboard/dashboard-page.js";
import { QUEUE_BOARD_PATH } from "./queue-board.js";
import { operatorBody } from "./operator-page.js";
import { OVERDUE_BACKUP_SECONDS, backupAges } from "./backup-ages.js";

/** Enough for a page; the CLI lists more. */
const RESOURCES_SHOWN = 500;
const FAILED_OPERATIONS_SHOWN = 100;
const CONTAINMENT_EVENTS_SHOWN = 100;

const STATUSES = Object.values(ResourceStatus);

/**
 * `GET /admin`: every resource (filtered by `?status=` and `?addon=`), the degraded ones and the
 * latest containment events (by `?addon=`), and the failed operations, server-rendered.
 */
export async function operatorRoutes(
  scope: FastifyInstance,
  { db, addonIds, backupAddonIds }: { db: PrismaClient; addonIds: readonly string[]; backupAddonIds: readonly string[] },
): Promise<void> {
  const filtersSchema = z.object({
    status: z.enum(STATUSES).optional(),
    addon: z.enum(addonIds as [string, ...string[]]).optional(),
  });

  scope.get("/", async (request, reply) => {
    const nonce = randomBytes(16).toString("base64");
    const link = { href: QUEUE_BOARD_PATH, label: "Job queues →" };
    const parsed = filtersSchema.safeParse(request.query ?? {});
    if (!parsed.success) {
      const body = messageBody("Unknown filter", `Filter by status (${STATUSES.join(", ")}) and addon (${addonIds.join(", ")}).`);
      return reply.code(400).headers(securityHeaders(nonce)).send(layout({ title: "Unknown filter", body, nonce, section: "Operator console", link }));
    }
    const filters = parsed.data;
    const where = { ...(filters.status ? { status: filters.status } : {}), ...(filters.addon ? { addon: filters.addon } : {}) };
    const addonOnly = filters.addon ? { addon: filters.addon } : {};
    const [resources, resourceCount, failedOperations, degradedResources, containmentEvents, ages] = await Promise.all([
      db.resource.findMany({ where, orderBy: { createdAt: "desc" }, take: RESOURCES_SHOWN }),
      db.resource.count({ where }),
      db.operation.findMany({
        where: { status: "failed", ...(filters.addon ? { resource: { addon: filters.addon } } : {}) },
        include: { resource: { select: { addon: true, appId: true, status: true } } },
        orderBy: { finishedAt: "desc" },
        take: FAILED_OPERATIONS_SHOWN,
      }),
      db.resource.findMany({ where: { status: "degraded", ...addonOnly }, orderBy: { updatedAt: "desc" }, take: RESOURCES_SHOWN }),
      db.containmentEvent.findMany({
        where: addonOnly,
        include: { resource: { select: { appId: true, plan: true, status: true } } },
        orderBy: { occurredAt: "desc" },
        take: CONTAINMENT_EVENTS_SHOWN,
      }),
      backupAges(db, filters.addon ? backupAddonIds.filter((id) => id === filters.addon) : backupAddonIds),
    ]);
    const body = operatorBody({
      filters,
      statuses: STATUSES,
      addonIds,
      resources,
      resourceCount,
      failedOperations,
      degradedResources,
      containmentEvents,
      overdueBackups: ages.filter((age) => age.ageSeconds > OVERDUE_BACKUP_SECONDS).slice(0, RESOURCES_SHOWN),
      now: new Date(),
    });
    return reply.headers(securityHeaders(nonce)).send(layout({ title: "Operator console", body, nonce, section: "Operator console", link, wide: true }));
  });
}

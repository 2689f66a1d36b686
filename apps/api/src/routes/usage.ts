import { findPlan, type AddonDefinition } from "@berth/addon-sdk";
import type { PrismaClient } from "@berth/db";
import { errorResponseSchema, resourceIdParamsSchema, usageQuerySchema, usageResponseSchema, type UsageQuery } from "@berth/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ApiError, apiErrors } from "../errors.js";

const HOUR_MS = 3600 * 1000;
const DEFAULT_USAGE_WINDOW_MS = 24 * HOUR_MS;
const MAX_USAGE_WINDOW_MS = 31 * 24 * HOUR_MS;
/** 31 days at the default interval (60 s) is 44,640 samples; a shorter interval needs shorter windows. */
const MAX_USAGE_SAMPLES = 50_000;

export interface UsageRoutesOptions {
  addon: AddonDefinition;
  db: PrismaClient;
}

const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 404: errorResponseSchema };

/**
 * `GET /:id/usage?from=&to=`: the usage samples the worker took of one resource
 * (metered billing). Called by the resource routes inside their authenticated scope.
 * Resources of every status answer, deprovisioned ones too: their last period is billed.
 */
export function usageRoutes(scope: FastifyInstance, { addon, db }: UsageRoutesOptions): void {
  scope.withTypeProvider<ZodTypeProvider>().get(
    "/:id/usage",
    { schema: { params: resourceIdParamsSchema, querystring: usageQuerySchema, response: { 200: usageResponseSchema, ...errors } } },
    async (request) => {
      const { id } = request.params;
      const { from, to } = usageWindow(request.query, new Date());
      const resource = await db.resource.findFirst({ where: { id, addon: addon.id }, select: { plan: true } });
      if (!resource) throw apiErrors.resourceNotFound(id);
      const rows = await db.usageSample.findMany({
        where: { resourceId: id, takenAt: { gte: from, lte: to } },
        orderBy: { takenAt: "asc" },
        take: MAX_USAGE_SAMPLES + 1,
        select: { takenAt: true, diskBytes: true, memoryBytes: true, connections: true },
      });
      if (rows.length > MAX_USAGE_SAMPLES) {
        throw invalid(`the window holds more than ${MAX_USAGE_SAMPLES} samples; ask for a shorter one.`);
      }
      const samples = rows.map((row) => ({
        at: row.takenAt.toISOString(),
        disk_bytes: Number(row.diskBytes),
        memory_bytes: Number(row.memoryBytes),
        connections: row.connections,
      }));
      const plan = findPlan(addon, resource.plan);
      return {
        resource_id: id,
        from: from.toISOString(),
        to: to.toISOString(),
        samples,
        disk_used: samples.at(-1)?.disk_bytes ?? null,
        memory_limit_bytes: plan ? plan.limits.memoryMb * 1024 * 1024 : null,
      };
    },
  );
}

/**
 * The window asked for: `to` defaults to now, `from` to 24 h before `to`;
 * `from` must not be after `to`, and the window spans at most 31 days.
 */
export function usageWindow(query: Pick<UsageQuery, "from" | "to">, now: Date): { from: Date; to: Date } {
  const to = query.to === undefined ? now : new Date(query.to);
  const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_USAGE_WINDOW_MS) : new Date(query.from);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw invalid("from and to must be ISO 8601 dates.");
  if (from > to) throw invalid(`from (${from.toISOString()}) is after to (${to.toISOString()}).`);
  if (to.getTime() - from.getTime() > MAX_USAGE_WINDOW_MS) throw invalid("the window from..to spans more than 31 days.");
  return { from, to };
}

function invalid(message: string): ApiError {
  return new ApiError("invalid_request", 400, `Invalid querystring: ${message}`);
}

import type { AddonDefinition } from "@berth/addon-sdk";
import type { BackupStore, ForkTokens } from "@berth/backup-store";
import type { Backup, PrismaClient } from "@berth/db";
import type { ResourceService } from "@berth/operations";
import {
  backupArchiveResponseSchema,
  backupCreatedResponseSchema,
  backupListResponseSchema,
  backupParamsSchema,
  backupScheduleRequestSchema,
  backupScheduleResponseSchema,
  errorResponseSchema,
  forkTokenResponseSchema,
  resourceIdParamsSchema,
  momentForkRequestSchema,
  restoreRequestSchema,
  operationAcceptedResponseSchema,
  type BackupView,
} from "@berth/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ApiError } from "../errors.js";
import type { BackupLinks } from "./backup-links.js";

const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 404: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema };

export interface BackupRoutesOptions {
  addon: AddonDefinition;
  resources: ResourceService;
  links: BackupLinks;
  forks: ForkTokens;
}

/** A backup as the provider API shows it (Scalingo's database API's fields). */
function backupView(backup: Backup): BackupView {
  return {
    id: backup.id,
    status: backup.status,
    method: backup.method,
    size: backup.size === null ? null : Number(backup.size),
    created_at: backup.createdAt.toISOString(),
    started_at: backup.startedAt?.toISOString() ?? null,
    finished_at: backup.finishedAt?.toISOString() ?? null,
  };
}

/** `/<addon>/resources/:id/backups…`, `…/restore`, `…/backup-schedule`: inside the addon's authenticated scope. */
export function backupRoutes(scope: FastifyInstance, { addon, resources, links, forks }: BackupRoutesOptions): void {
  const app = scope.withTypeProvider<ZodTypeProvider>();

  app.get("/:id/backups", { schema: { params: resourceIdParamsSchema, response: { 200: backupListResponseSchema, ...errors } } }, async (request) => ({
    backups: (await resources.listBackups(addon, request.params.id)).map(backupView),
  }));

  app.post(
    "/:id/backups",
    { schema: { params: resourceIdParamsSchema, response: { 202: backupCreatedResponseSchema, ...errors } } },
    async (request, reply) => {
      const backup = await resources.backup(addon, request.params.id, "manual");
      return reply.code(202).send({ backup: { id: backup.id, status: backup.status } });
    },
  );

  app.get(
    "/:id/backups/:backup_id/archive",
    { schema: { params: backupParamsSchema, response: { 200: backupArchiveResponseSchema, ...errors } } },
    async (request) => {
      const backup = await resources.finishedBackup(addon, request.params.id, request.params.backup_id);
      const link = links.create(backup.id);
      return { download_url: link.url, expires_at: link.expiresAt.toISOString() };
    },
  );

  // A fork: a new database (for another app, or bringing a deleted one back) created from this backup.
  app.post(
    "/:id/backups/:backup_id/fork-token",
    { schema: { params: backupParamsSchema, response: { 201: forkTokenResponseSchema, ...errors } } },
    async (request, reply) => {
      const backup = await resources.finishedBackup(addon, request.params.id, request.params.backup_id);
      const { token, expiresAt } = forks.create(backup.id);
      return reply.code(201).send({ fork_token: token, expires_at: expiresAt.toISOString() });
    },
  );

  // A fork of a moment: a new database as this one was then (point-in-time recovery).
  app.post(
    "/:id/fork-token",
    { schema: { params: resourceIdParamsSchema, body: momentForkRequestSchema, response: { 201: forkTokenResponseSchema, ...errors } } },
    async (request, reply) => {
      const at = new Date(request.body.at);
      await resources.requireRecoverable(addon, request.params.id, at);
      const { token, expiresAt } = forks.createForMoment(request.params.id, at);
      return reply.code(201).send({ fork_token: token, expires_at: expiresAt.toISOString() });
    },
  );

  app.post(
    "/:id/restore",
    { schema: { params: resourceIdParamsSchema, body: restoreRequestSchema, response: { 202: operationAcceptedResponseSchema, ...errors } } },
    async (request, reply) => {
      const { body } = request;
      if ("at" in body) {
        const at = new Date(body.at);
        const operation = await resources.restoreToMoment(addon, request.params.id, at);
        const message = `The database is being put back to ${at.toISOString()}; it keeps its current data until the recovery is done, then restarts once on it.`;
        return reply.code(202).send({ operation_id: operation.id, message });
      }
      const operation = await resources.restore(addon, request.params.id, body.backup_id);
      const message = `The database is being restored from backup ${body.backup_id}; it keeps its current data until the backup is loaded, then restarts once on it.`;
      return reply.code(202).send({ operation_id: operation.id, message });
    },
  );

  app.put(
    "/:id/backup-schedule",
    { schema: { params: resourceIdParamsSchema, body: backupScheduleRequestSchema, response: { 200: backupScheduleResponseSchema, ...errors } } },
    async (request) => {
      await resources.setBackupHour(addon, request.params.id, request.body.hour);
      return { hour: request.body.hour };
    },
  );
}

// In the query: a token is longer than the router lets a path parameter be (100 characters).
const downloadQuerySchema = z.object({ token: z.string().min(1).max(512) });

/** `GET /backups/download?token=…`: the decrypted dump a signed link names, streamed (never held whole). */
export async function backupDownloadRoute(
  app: FastifyInstance,
  { db, store, links, addons }: { db: PrismaClient; store: BackupStore; links: BackupLinks; addons: ReadonlyMap<string, AddonDefinition> },
): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/backups/download",
    // No response schema: the 200 is the dump's bytes; refusals are the one error shape (ApiError).
    { schema: { querystring: downloadQuerySchema } },
    async (request, reply) => {
      const opened = links.open(request.query.token);
      if ("refused" in opened) {
        throw new ApiError(`download_link_${opened.refused}`, 403, opened.refused === "expired" ? "This download link has expired; ask for a new one." : "This download link is not valid.");
      }
      const backup = await db.backup.findUnique({ where: { id: opened.backupId }, include: { resource: { select: { addon: true } } } });
      if (!backup || backup.status !== "done" || !backup.objectKey || !addons.has(backup.resource.addon)) {
        throw new ApiError("backup_not_found", 404, "This backup no longer exists.");
      }
      const content = await store.open(backup.objectKey);
      const filename = `${backup.resourceId}-${backup.createdAt.toISOString().replace(/[:.]/g, "-")}.${backup.format}`;
      // Streamed as it is opened (each record checked before it is sent); a damaged one cuts the download short.
      return reply
        .header("content-type", "application/octet-stream")
        .header("content-disposition", `attachment; filename="${filename}"`)
        .header("content-length", String(backup.contentSize))
        .send(content);
    },
  );
}

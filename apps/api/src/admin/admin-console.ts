/**
 * The operator console under /admin: bull-board over every queue
 * (/admin/queues) and the operator page (/admin). Its own credentials, never an
 * addon's; changes only from its own pages (see request-guards.ts); read-only
 * by configuration. Without credentials configured there is no console: 404.
 */
import type { PrismaClient } from "@berth/db";
import type { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { sendApiError } from "../errors.js";
import { registerBasicAuth } from "../plugins/basic-auth.js";
import { registerQueueBoard } from "./queue-board.js";
import { operatorRoutes } from "./operator-routes.js";
import { crossSiteRefusal, readOnlyRefusal } from "../plugins/request-guards.js";

export interface AdminConsoleOptions {
  username: string;
  password: string;
  readOnly: boolean;
  /** Every Berth queue (`openBerthQueues`); their owner closes them. */
  queues: readonly Queue[];
}

export interface AdminConsolePluginOptions {
  /** Undefined: the console is off. */
  admin: AdminConsoleOptions | undefined;
  db: PrismaClient;
  addonIds: readonly string[];
  /** The addons with backups (their overdue backups are listed). */
  backupAddonIds: readonly string[];
  /** Berth's public URL: its origin may send changes (behind a proxy that rewrites Host). */
  publicUrl: string;
}

export async function adminConsole(app: FastifyInstance, { admin, db, addonIds, backupAddonIds, publicUrl }: AdminConsolePluginOptions): Promise<void> {
  if (!admin) {
    app.log.info("operator console off: set BERTH_ADMIN_USERNAME and BERTH_ADMIN_PASSWORD to serve it at /admin");
    return;
  }
  await app.register(
    async (scope) => {
      await registerBasicAuth(scope, {
        realm: "berth-operators",
        username: admin.username,
        password: admin.password,
        wrongCredentials: "Wrong operator credentials.",
      });
      const trustedOrigins = new Set([new URL(publicUrl).origin]);
      scope.addHook("onRequest", async (request, reply) => {
        const refusal = crossSiteRefusal(request, trustedOrigins) ?? (admin.readOnly ? readOnlyRefusal(request) : undefined);
        if (refusal) return sendApiError(reply, refusal);
      });
      scope.addHook("onSend", async (_request, reply) => {
        // Nothing here is meant to be framed: no clickjacking of bull-board's buttons.
        reply.header("x-frame-options", "DENY");
      });
      await scope.register(operatorRoutes, { db, addonIds, backupAddonIds });
      await registerQueueBoard(scope, { queues: admin.queues, readOnly: admin.readOnly });
    },
    { prefix: "/admin" },
  );
}

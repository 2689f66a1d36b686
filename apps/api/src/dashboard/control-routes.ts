import type { AddonDefinition } from "@berth/addon-sdk";
import type { PrismaClient, Resource } from "@berth/db";
import { OperationRefusal, type DatabaseUserService, type ResourceService } from "@berth/operations";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { crossSiteRefusal } from "../plugins/request-guards.js";
import type { BackupLinks } from "../routes/backup-links.js";
import { messageBody, userSecretBody } from "./dashboard-page.js";
import { dashboardPath, hasSession } from "./session.js";

export interface DashboardControlOptions {
  db: PrismaClient;
  addons: ReadonlyMap<string, AddonDefinition>;
  resources: ResourceService;
  users: DatabaseUserService;
  backupLinks: BackupLinks;
  publicUrl: string;
  /** Answers an HTML page (the dashboard's error surface). */
  page: (reply: FastifyReply, status: number, title: string, body: ReturnType<typeof messageBody>) => FastifyReply;
}

const idParams = z.object({ id: z.string().min(1) });
/** A backup, or a moment as a `datetime-local` input sends it (UTC, no offset: the form says so). */
const restoreForm = z.union([
  z.object({ backup_id: z.uuid(), confirm: z.string() }),
  z.object({ at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/).transform((local) => new Date(`${local}Z`)), confirm: z.string() }),
]);
const scheduleForm = z.object({ hour: z.coerce.number().int().min(0).max(23) });
const userForm = z.object({ name: z.string(), read_only: z.literal("on").optional() });
const userParams = z.object({ id: z.string().min(1), name: z.string().min(1).max(64) });

/** What a control answers when the database's engine does not have it. */
const MISSING = {
  backups: ["No backups", "This database has no backups here."],
  rotation: ["No rotation", "This database's password cannot be rotated here."],
  users: ["No users", "This database has no users beside the app's own here."],
} as const;

/**
 * The customer's controls on their dashboard, each the provider API's operation through the same
 * `ResourceService`: back up now, download (a redirect to a signed link), restore (the form must
 * carry the database's id typed by hand: it names what is overwritten), the daily hour, and the
 * credentials' rotation. Changes come from the dashboard's own pages only (`crossSiteRefusal`),
 * in its session.
 */
export function dashboardControlRoutes(app: FastifyInstance, options: DashboardControlOptions): void {
  const { db, addons, resources, users, backupLinks, page } = options;
  const trustedOrigins = new Set([new URL(options.publicUrl).origin]);

  /** The session's resource and addon (whose engine has backups, or rotates credentials), or an answer already sent. */
  async function sessionResource(
    request: FastifyRequest,
    reply: FastifyReply,
    needs: "backups" | "rotation" | "users" = "backups",
  ): Promise<{ resource: Resource; addon: AddonDefinition } | undefined> {
    const { id } = idParams.parse(request.params);
    if (!hasSession(request, id)) {
      page(reply, 403, "Sign in from your platform", messageBody("Sign in from your platform", "This dashboard opens through your platform's single sign-on link."));
      return undefined;
    }
    const refusal = crossSiteRefusal(request, trustedOrigins);
    if (refusal) {
      page(reply, 403, "Refused", messageBody("Refused", `This request did not come from your dashboard: ${refusal.message}`));
      return undefined;
    }
    const resource = await db.resource.findUnique({ where: { id } });
    const addon = resource && addons.get(resource.addon);
    if (!resource || !addon || !addon[needs === "backups" ? "backup" : needs]) {
      const [title, why] = MISSING[needs];
      page(reply, 404, title, messageBody(title, why));
      return undefined;
    }
    return { resource, addon };
  }

  /** Runs a change; a refusal of the operations service becomes a page saying why. */
  async function change(reply: FastifyReply, resource: Resource, run: () => Promise<unknown>, section = "backups") {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof OperationRefusal)) throw error;
      return page(reply, 409, "Not done", messageBody("Not done", error.message));
    }
    return reply.redirect(`${dashboardPath(resource.id)}#${section}`, 303);
  }

  app.post("/dashboard/:id/backups", async (request, reply) => {
    const found = await sessionResource(request, reply);
    if (!found) return reply;
    return change(reply, found.resource, () => resources.backup(found.addon, found.resource.id, "manual"));
  });

  app.get("/dashboard/:id/backups/:backupId/download", async (request, reply) => {
    const found = await sessionResource(request, reply);
    if (!found) return reply;
    const backupId = z.object({ backupId: z.uuid() }).safeParse(request.params);
    if (!backupId.success) return page(reply, 404, "Unknown backup", messageBody("Unknown backup", "No such backup of this database."));
    try {
      const backup = await resources.finishedBackup(found.addon, found.resource.id, backupId.data.backupId);
      return reply.redirect(backupLinks.create(backup.id).url, 302);
    } catch (error) {
      if (!(error instanceof OperationRefusal)) throw error;
      return page(reply, 404, "Unknown backup", messageBody("Unknown backup", error.message));
    }
  });

  app.post("/dashboard/:id/restore", async (request, reply) => {
    const found = await sessionResource(request, reply);
    if (!found) return reply;
    const form = restoreForm.safeParse(request.body);
    if (!form.success || form.data.confirm.trim() !== found.resource.id) {
      return page(reply, 400, "Not confirmed", messageBody("Not confirmed", `Type the database's id (${found.resource.id}) to confirm that its data is to be replaced.`));
    }
    const { data } = form;
    return change(reply, found.resource, () =>
      "at" in data ? resources.restoreToMoment(found.addon, found.resource.id, data.at) : resources.restore(found.addon, found.resource.id, data.backup_id),
    );
  });

  app.post("/dashboard/:id/backup-schedule", async (request, reply) => {
    const found = await sessionResource(request, reply);
    if (!found) return reply;
    const form = scheduleForm.safeParse(request.body);
    if (!form.success) return page(reply, 400, "Unknown hour", messageBody("Unknown hour", "Choose an hour from 0 to 23 (UTC)."));
    return change(reply, found.resource, () => resources.setBackupHour(found.addon, found.resource.id, form.data.hour));
  });

  app.post("/dashboard/:id/credentials/rotate", async (request, reply) => {
    const found = await sessionResource(request, reply, "rotation");
    if (!found) return reply;
    return change(reply, found.resource, () => resources.rotateCredentials(found.addon, found.resource.id), "connection");
  });

  app.post("/dashboard/:id/users", async (request, reply) => {
    const found = await sessionResource(request, reply, "users");
    if (!found) return reply;
    const form = userForm.safeParse(request.body);
    if (!form.success) return page(reply, 400, "Not created", messageBody("Not created", "Give the user a name."));
    try {
      const created = await users.create(found.addon, found.resource.id, { name: form.data.name, readOnly: form.data.read_only === "on" });
      return page(reply, 200, "User created", userSecretBody(found.resource.id, created.user.name, created.password));
    } catch (error) {
      if (!(error instanceof OperationRefusal)) throw error;
      return page(reply, 409, "Not created", messageBody("Not created", error.message));
    }
  });

  app.post("/dashboard/:id/users/:name/delete", async (request, reply) => {
    const found = await sessionResource(request, reply, "users");
    if (!found) return reply;
    const { name } = userParams.parse(request.params);
    return change(reply, found.resource, () => users.remove(found.addon, found.resource.id, name), "users");
  });
}

import { randomBytes } from "node:crypto";
import { findPlan, type AddonCredentials, type AddonDefinition } from "@berth/addon-sdk";
import type { PrismaClient, SecretBox } from "@berth/db";
import { verifySsoToken, type SsoWindow } from "@berth/protocol";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import { OperationRefusal, type DatabaseUserService, type ResourceService } from "@berth/operations";
import type { BackupLinks } from "../routes/backup-links.js";
import { dashboardControlRoutes } from "./control-routes.js";
import { dashboardBody, messageBody } from "./dashboard-page.js";
import { layout, securityHeaders } from "./layout.js";
import { dashboardPath, hasSession, startSession } from "./session.js";
import { claimSsoToken, ssoTokenExpiry } from "./sso-replay.js";

export interface DashboardOptions {
  db: PrismaClient;
  secrets: SecretBox;
  addons: ReadonlyMap<string, AddonDefinition>;
  ssoSalts: ReadonlyMap<string, string>;
  ssoWindow: SsoWindow;
  publicUrl: string;
  /** `{app_id}` is replaced. */
  platformAppUrl: string;
  sessionMaxAgeSeconds?: number;
  resources: ResourceService;
  users: DatabaseUserService;
  backupLinks: BackupLinks;
}

/** The dashboard shows the latest backups (the retention keeps about 20). */
const BACKUPS_SHOWN = 40;

/** The dashboard shows the latest incidents; the operator page and the table hold them all. */
const CONTAINMENT_EVENTS_SHOWN = 20;

const ssoFields = z.looseObject({
  id: z.string().optional(),
  resource_id: z.string().optional(),
  timestamp: z.union([z.string(), z.number()]).optional(),
  token: z.string().optional(),
  resource_token: z.string().optional(),
});

/**
 * Single sign-on (spec §2.7) and each database's dashboard. A browser surface:
 * errors are HTML pages, not JSON.
 */
export async function dashboardRoutes(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const { db, addons, ssoSalts, ssoWindow } = options;
  const secure = options.publicUrl.startsWith("https://");
  const sessionMaxAgeSeconds = options.sessionMaxAgeSeconds ?? 3600;
  await app.register(formbody); // Heroku-style SSO posts a form

  function page(reply: FastifyReply, status: number, title: string, body: ReturnType<typeof messageBody>, backLink?: string, nonce = newNonce()) {
    return reply.code(status).headers(securityHeaders(nonce)).send(layout({ title, body, nonce, backLink }));
  }

  for (const addon of addons.values()) {
    const salt = ssoSalts.get(addon.id);
    if (!salt) throw new Error(`no SSO salt configured for addon ${addon.id}`);

    // GET with a query string is Scalingo's form; a form POST is Heroku's: accept both.
    const handler = async (fields: unknown, reply: FastifyReply) => {
      const parsed = ssoFields.safeParse(fields ?? {});
      const id = parsed.data?.id ?? parsed.data?.resource_id;
      const token = parsed.data?.token ?? parsed.data?.resource_token;
      const timestamp = parsed.data?.timestamp;
      if (!id || !token || timestamp === undefined) {
        return page(reply, 400, "Incomplete link", messageBody("Incomplete link", "This sign-in link lacks its id, timestamp or token. Open the dashboard from your platform again."));
      }
      const verdict = verifySsoToken({ resourceId: id, timestamp: String(timestamp), token }, salt, ssoWindow);
      if (verdict !== "valid") {
        const why = verdict === "stale" ? "This sign-in link has expired." : "This sign-in link is not valid.";
        return page(reply, 403, "Access refused", messageBody("Access refused", `${why} Open the dashboard from your platform again.`));
      }
      const resource = await db.resource.findFirst({ where: { id, addon: addon.id }, select: { id: true } });
      if (!resource) return page(reply, 404, "Unknown database", messageBody("Unknown database", "No database with this id exists here."));
      // A link opens one session: a second use (a leaked or replayed link) is refused.
      if (!(await claimSsoToken(db, token, ssoTokenExpiry(String(timestamp), ssoWindow.maxAgeSeconds)))) {
        reply.log.warn({ addon: addon.id, resourceId: resource.id }, "SSO token already used: refused");
        return page(reply, 403, "Access refused", messageBody("Access refused", "This sign-in link has already been used. Open the dashboard from your platform again."));
      }
      startSession(reply, resource.id, { maxAgeSeconds: sessionMaxAgeSeconds, secure });
      return reply.redirect(dashboardPath(resource.id), 303);
    };
    app.get(`/${addon.id}/sso`, (request, reply) => handler(request.query, reply));
    app.post(`/${addon.id}/sso`, (request, reply) => handler(request.body, reply));
  }

  app.get<{ Params: { id: string } }>("/dashboard/:id", async (request, reply) => {
    const { id } = request.params;
    if (!hasSession(request, id)) {
      return page(reply, 403, "Sign in from your platform", messageBody("Sign in from your platform", "This dashboard opens through your platform's single sign-on link."));
    }
    const resource = await db.resource.findUnique({ where: { id } });
    const addon = resource && addons.get(resource.addon);
    if (!resource || !addon) return page(reply, 404, "Unknown database", messageBody("Unknown database", "No database with this id exists here."));
    const [operations, samples, containmentEvents, backups] = await Promise.all([
      db.operation.findMany({ where: { resourceId: id }, orderBy: { seq: "desc" } }),
      db.usageSample.findMany({ where: { resourceId: id, takenAt: { gte: new Date(Date.now() - 24 * 3600 * 1000) } }, orderBy: { takenAt: "asc" } }),
      db.containmentEvent.findMany({ where: { resourceId: id }, orderBy: { occurredAt: "desc" }, take: CONTAINMENT_EVENTS_SHOWN }),
      db.backup.findMany({ where: { resourceId: id }, orderBy: { createdAt: "desc" }, take: BACKUPS_SHOWN }),
    ]);
    const url = connectionUrl(options, addon, resource);
    const users = addon.users ? await options.users.list(addon, id).catch((error: unknown) => {
      if (error instanceof OperationRefusal) return undefined; // not built yet, or removed: no users to show
      throw error;
    }) : undefined;
    const nonce = newNonce();
    const body = dashboardBody({
      resource,
      addon,
      plan: findPlan(addon, resource.plan),
      operations,
      containmentEvents,
      backups: addon.backup ? backups : undefined,
      users,
      samples: samples.map((s) => ({
        at: s.takenAt,
        diskBytes: Number(s.diskBytes),
        memoryBytes: Number(s.memoryBytes),
        cpuNanos: s.cpuNanos === null ? null : Number(s.cpuNanos),
        connections: s.connections,
      })),
      maskedUrl: url && maskPassword(url),
      nonce,
    });
    return page(reply, 200, `${addon.name} ${resource.id}`, body, options.platformAppUrl.replace("{app_id}", encodeURIComponent(resource.appId)), nonce);
  });

  dashboardControlRoutes(app, { db, addons, resources: options.resources, users: options.users, backupLinks: options.backupLinks, publicUrl: options.publicUrl, page });

  // The password leaves the server only when the customer asks for it, never in the page.
  app.get<{ Params: { id: string } }>("/dashboard/:id/connection", async (request, reply) => {
    const { id } = request.params;
    if (!hasSession(request, id)) return reply.code(403).send({ error: "forbidden", message: "No dashboard session for this database." });
    const resource = await db.resource.findUnique({ where: { id } });
    const addon = resource && addons.get(resource.addon);
    const url = resource && addon ? connectionUrl(options, addon, resource) : undefined;
    if (!url) return reply.code(404).send({ error: "not_found", message: "This database has no connection URL yet." });
    return reply.header("cache-control", "no-store").send({ url });
  });
}

function connectionUrl(
  { secrets }: Pick<DashboardOptions, "secrets">,
  addon: AddonDefinition,
  resource: { credentials: string | null; port: number | null; publicHost: string | null; plan: string; status: string },
): string | undefined {
  const plan = findPlan(addon, resource.plan);
  if (!resource.credentials || resource.port === null || !resource.publicHost || !plan || resource.status === "deprovisioned") return undefined;
  const credentials = secrets.openJson<AddonCredentials>(resource.credentials);
  const config = addon.connectionConfig({ host: resource.publicHost, port: resource.port, credentials }, plan);
  return config[addon.urlConfigVar];
}

function maskPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "••••••••";
  return decodeURIComponent(parsed.toString());
}

function newNonce(): string {
  return randomBytes(16).toString("base64");
}

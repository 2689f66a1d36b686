/**
 * The Platform API for providers (spec §4), as far as Berth uses it. Every
 * route runs after HTTP Basic authentication has found the calling addon.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { addonConfigPatchSchema, appConfigPatchSchema, type ProviderApp, type ProviderAppList } from "@berth/protocol";
import type { StandInState } from "./state.js";
import type { StandInAddon } from "./types.js";

export interface PlatformApiContext {
  state: StandInState;
  /** The addon authenticated for this request. */
  addonOf: (request: FastifyRequest) => StandInAddon;
}

// Scalingo documents `page`/`per_page` but not their bounds (spec §4.1); these are the stand-in's choice.
const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;
/** The stand-in has no users; a reserved domain makes the address obviously fake. */
const OWNER_EMAIL = "owner@example.invalid";

const listQuerySchema = z.object({
  page: z.coerce.number().int().min(1).default(1),
  per_page: z.coerce.number().int().min(1).max(MAX_PER_PAGE).default(DEFAULT_PER_PAGE),
});

type AppParams = { Params: { app_id: string } };
type ResourceParams = { Params: { resource_id: string } };

export async function platformApiRoutes(api: FastifyInstance, { state, addonOf }: PlatformApiContext): Promise<void> {
  /** The app as a provider sees it (spec §4.3); undefined unless the app uses the addon. */
  function appView(addon: StandInAddon, appId: string): ProviderApp | undefined {
    const own = state.resourcesOfApp(appId).filter((record) => record.addonId === addon.id);
    const first = own[0];
    if (!first) return undefined;
    return {
      addon_provider_id: addon.id,
      id: appId,
      name: appId,
      owner_email: OWNER_EMAIL,
      plan: first.plan ?? "",
      config: state.appConfig(appId),
    };
  }

  api.get("/v1/provider/apps", async (request, reply) => {
    const query = listQuerySchema.safeParse(request.query);
    if (!query.success) return reply.status(400).send({ error: `invalid pagination: ${z.prettifyError(query.error)}` });
    const { page, per_page: perPage } = query.data;
    const all = state.resourcesOfAddon(addonOf(request).id);
    const totalPages = Math.max(1, Math.ceil(all.length / perPage));
    const body: ProviderAppList = {
      apps: all.slice((page - 1) * perPage, page * perPage).map((record) => ({
        addon_provider_id: record.addonId,
        app_id: record.appId ?? "",
        plan: record.plan ?? "",
      })),
      meta: {
        pagination: {
          prev_page: page > 1 ? Math.min(page - 1, totalPages) : null,
          current_page: page,
          next_page: page < totalPages ? page + 1 : null,
          total_pages: totalPages,
          total_count: all.length,
        },
      },
    };
    return body;
  });

  api.get<AppParams>("/v1/provider/apps/:app_id", async (request, reply) => {
    const app = appView(addonOf(request), request.params.app_id);
    if (!app) return appNotFound(reply);
    return { app };
  });

  api.patch<AppParams>("/v1/provider/apps/:app_id", async (request, reply) => {
    const addon = addonOf(request);
    const appId = request.params.app_id;
    if (!appView(addon, appId)) return appNotFound(reply);
    const patch = appConfigPatchSchema.safeParse(request.body);
    if (!patch.success) return unprocessable(reply, issuesByField(patch.error));
    const refused = namesOutsideManifest(addon, patch.data.config);
    if (refused.length > 0) return unprocessable(reply, { config: refused });
    // The variables of an addon belong to its resources: set them on this addon's resources of the app.
    for (const record of state.resourcesOfApp(appId)) {
      if (record.addonId === addon.id) state.setConfig(record, patch.data.config);
    }
    return { app: appView(addon, appId) };
  });

  api.patch<ResourceParams>("/v1/provider/addons/:resource_id/config", async (request, reply) => {
    const addon = addonOf(request);
    const resourceId = request.params.resource_id;
    const record = state.resourceForCall(addon.id, resourceId);
    if (!record) return addonNotFound(reply);
    const patch = addonConfigPatchSchema.safeParse(request.body);
    if (!patch.success) return unprocessable(reply, issuesByField(patch.error));
    const refused = namesOutsideManifest(addon, patch.data.config);
    if (refused.length > 0) return unprocessable(reply, { config: refused });
    state.setConfig(record, patch.data.config);
    // Undocumented answer (spec §4.5); any JSON will do.
    return { addon: { resource_id: resourceId, config: state.addonConfig(resourceId) } };
  });

  api.post<ResourceParams>("/v1/provider/addons/:resource_id/actions/provision", async (request, reply) => {
    const addon = addonOf(request);
    const resourceId = request.params.resource_id;
    if (!state.resourceForCall(addon.id, resourceId)) return addonNotFound(reply);
    // Undocumented answer (spec §4.6); repeated actions are harmless, as a retried call must be.
    return { addon: { resource_id: resourceId, status: "running" } };
  });
}

function namesOutsideManifest(addon: StandInAddon, config: Record<string, string>): string[] {
  return Object.keys(config)
    .filter((name) => !addon.configVars.includes(name))
    .map((name) => `${name} is not a config var of addon ${addon.id} (allowed: ${addon.configVars.join(", ")})`);
}

function issuesByField(error: z.ZodError): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  for (const issue of error.issues) {
    // Grouped by top-level field as the global API does (`{"errors": {"config": [...]}}`), the rest of the path in the message.
    const [field = "body", ...rest] = issue.path.map(String);
    (errors[field] ??= []).push(rest.length > 0 ? `${rest.join(".")}: ${issue.message}` : issue.message);
  }
  return errors;
}

function unprocessable(reply: FastifyReply, errors: Record<string, string[]>): FastifyReply {
  return reply.status(422).send({ errors });
}

function appNotFound(reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ resource: "app", error: "not found" });
}

function addonNotFound(reply: FastifyReply): FastifyReply {
  return reply.status(404).send({ resource: "addon", error: "not found" });
}

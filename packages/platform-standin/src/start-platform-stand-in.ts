import { EventEmitter } from "node:events";
import type { AddressInfo } from "node:net";
import fastifyBasicAuth from "@fastify/basic-auth";
import Fastify, { type FastifyError, type FastifyRequest } from "fastify";
import { ENV_VAR_NAME_PATTERN } from "@berth/protocol";
import { createCredentialCheck } from "./credentials.js";
import { createPlatformDriver } from "./driver.js";
import { FaultInjector } from "./fault-injector.js";
import { platformApiRoutes } from "./platform-api-routes.js";
import { StandInState } from "./state.js";
import type { PlatformStandIn, PlatformStandInOptions, RecordedCall, StandInAddon } from "./types.js";

const PROVISION_ACTION_PATH = /^\/v1\/provider\/addons\/[^/]+\/actions\/provision$/;
const DEFAULT_WAIT_TIMEOUT_MS = 60_000;

/**
 * Starts the in-repo stand-in for the Scalingo platform: it serves the
 * Platform API for providers (spec §4) and drives providers' endpoints
 * (spec §2), recording what it receives for tests to inspect.
 */
export async function startPlatformStandIn(options: PlatformStandInOptions): Promise<PlatformStandIn> {
  const addons = checkAddons(options.addons);
  const state = new StandInState();
  const faults = new FaultInjector();
  const calls: RecordedCall[] = [];
  // Waiters of waitForProvisioned listen here; there may be many at once.
  const events = new EventEmitter().setMaxListeners(0);
  const authenticated = new WeakMap<FastifyRequest, StandInAddon>();
  const checkCredentials = createCredentialCheck([...addons.values()]);

  const app = Fastify({ logger: options.logger ?? false });

  // The provision action has no body, and a client may still say it sends JSON: treat empty as absent, not as an error.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body.toString().trim() === "") {
      done(null, undefined);
      return;
    }
    void parseJson(request, body.toString(), done); // Fastify's own parser answers through `done`
  });

  // Spec §4.1 error bodies: `{"error": "..."}`.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error(error);
    const message =
      status === 401
        ? "unauthorized: HTTP Basic with the manifest credentials of an addon is required"
        : status >= 500
          ? "internal error of the platform stand-in"
          : error.message;
    return reply.status(status).send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: `no route ${request.method} ${pathOf(request.url)}` }));

  // onSend runs before the answer leaves, so a caller that got its answer always finds its call recorded.
  app.addHook("onSend", async (request, reply, payload) => {
    const path = pathOf(request.url);
    if (!path.startsWith("/v1/")) return payload;
    const params = (request.params ?? {}) as { resource_id?: string; app_id?: string };
    const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : undefined;
    const call: RecordedCall = {
      at: new Date(),
      method: request.method,
      path,
      ...(query ? { query } : {}),
      ...optional("addonId", authenticated.get(request)?.id),
      ...optional("resourceId", params.resource_id),
      ...optional("appId", params.app_id),
      body: request.body,
      status: reply.statusCode,
    };
    calls.push(call);
    events.emit("call", call);
    try {
      options.onCall?.(call);
    } catch (error) {
      request.log.error(error, "onCall observer failed");
    }
    return payload;
  });

  await app.register(fastifyBasicAuth, {
    validate: async (username, password, request) => {
      const addon = checkCredentials(username, password);
      if (!addon) throw new Error("invalid credentials");
      authenticated.set(request, addon);
    },
    authenticate: { realm: "Berth platform stand-in" },
  });

  await app.register(async (api) => {
    api.addHook("onRequest", api.basicAuth);
    // After authentication and body parsing, so a faulted call is recorded with its addon and body.
    api.addHook("preHandler", async (request, reply) => {
      const fault = faults.take(pathOf(request.url));
      if (!fault) return;
      if (fault.retryAfterSeconds !== undefined) reply.header("Retry-After", String(fault.retryAfterSeconds));
      // The global API's answer to rate limiting is "Retry later" (spec §4.1).
      return reply.status(fault.status).send(fault.body ?? { error: fault.status === 429 ? "Retry later" : `injected fault ${fault.status}` });
    });
    await platformApiRoutes(api, {
      state,
      addonOf: (request) => {
        const addon = authenticated.get(request);
        if (!addon) throw new Error("route reached without authentication");
        return addon;
      },
    });
  });

  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  const address = app.server.address() as AddressInfo;
  const url = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;

  const isProvisionOf = (resourceId: string) => (call: RecordedCall) =>
    call.method === "POST" && call.status === 200 && call.resourceId === resourceId && PROVISION_ACTION_PATH.test(call.path);

  let closing: Promise<void> | undefined;

  return {
    url,

    get calls() {
      return [...calls];
    },

    close() {
      closing ??= (async () => {
        events.emit("close");
        await app.close();
      })();
      return closing;
    },

    addonConfig: (resourceId) => state.addonConfig(resourceId),

    provisionActions: (resourceId) => calls.filter(isProvisionOf(resourceId)).length,

    waitForProvisioned(resourceId, { timeoutMs = DEFAULT_WAIT_TIMEOUT_MS } = {}) {
      const matches = isProvisionOf(resourceId);
      const done = calls.find(matches);
      if (done) return Promise.resolve(done);
      return new Promise<RecordedCall>((resolve, reject) => {
        const stop = () => {
          clearTimeout(timer);
          events.off("call", onCall);
          events.off("close", onClose);
        };
        const onCall = (call: RecordedCall) => {
          if (!matches(call)) return;
          stop();
          resolve(call);
        };
        const onClose = () => {
          stop();
          reject(new Error(`platform stand-in closed while waiting for POST /v1/provider/addons/${resourceId}/actions/provision`));
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(waitTimeoutMessage(resourceId, timeoutMs, calls)));
        }, timeoutMs);
        events.on("call", onCall);
        events.on("close", onClose);
      });
    },

    injectFaults: (fault) => faults.add(fault),

    driver(addonId, providerBaseUrl) {
      const addon = addons.get(addonId);
      if (!addon) throw new Error(`platform stand-in: unknown addon "${addonId}" (known: ${[...addons.keys()].join(", ")})`);
      return createPlatformDriver({
        addon,
        providerBaseUrl,
        observer: {
          provisioned: (input) => state.recordProvisioned({ addonId, ...input }),
          planChanged: (resourceId, plan, config) => state.recordPlanChanged(addonId, resourceId, plan, config),
          deprovisioned: (resourceId) => state.forget(addonId, resourceId),
        },
      });
    },
  };
}

/** Fails at start-up on a set-up mistake rather than with a puzzling 401 or 422 later. */
function checkAddons(addons: readonly StandInAddon[]): Map<string, StandInAddon> {
  const problems: string[] = [];
  const byId = new Map<string, StandInAddon>();
  const credentials = new Set<string>();
  for (const addon of addons) {
    if (addon.id === "") problems.push("an addon has an empty id");
    if (byId.has(addon.id)) problems.push(`addon "${addon.id}" is listed twice`);
    if (addon.username === "" || addon.username.includes(":")) problems.push(`addon "${addon.id}": username must be non-empty, without ':'`);
    if (addon.password === "") problems.push(`addon "${addon.id}": password must be non-empty`);
    const pair = JSON.stringify([addon.username, addon.password]);
    if (credentials.has(pair)) problems.push(`addon "${addon.id}" has the same credentials as another addon`);
    credentials.add(pair);
    if (addon.configVars.length === 0) problems.push(`addon "${addon.id}": configVars must list at least one variable`);
    for (const name of addon.configVars) {
      if (!ENV_VAR_NAME_PATTERN.test(name)) problems.push(`addon "${addon.id}": "${name}" is not a valid config var name`);
    }
    byId.set(addon.id, { ...addon, configVars: [...addon.configVars] });
  }
  if (byId.size === 0) problems.push("at least one addon is needed");
  if (problems.length > 0) throw new Error(`platform stand-in: invalid addons:\n  - ${problems.join("\n  - ")}`);
  return byId;
}

function waitTimeoutMessage(resourceId: string, timeoutMs: number, calls: readonly RecordedCall[]): string {
  const related = calls.filter((call) => call.resourceId === resourceId).map((call) => `${call.method} ${call.path} → ${call.status}`);
  return (
    `no POST /v1/provider/addons/${resourceId}/actions/provision answered 200 within ${timeoutMs} ms; ` +
    (related.length > 0 ? `calls received for this resource: ${related.join(", ")}` : "no call received for this resource")
  );
}

function pathOf(url: string): string {
  const index = url.indexOf("?");
  return index === -1 ? url : url.slice(0, index);
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

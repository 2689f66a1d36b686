import { randomUUID } from "node:crypto";
import { planChangeResponseSchema, provisionResponseSchema } from "@berth/protocol";
import type { DriverResponse, PlatformDriver, StandInAddon } from "./types.js";

/** What the platform learns from the provider's answers; the stand-in's state listens. */
export interface DriverObserver {
  provisioned(input: { resourceId: string; appId: string; plan: string; uuid?: string; config?: Record<string, string> }): void;
  planChanged(resourceId: string, plan: string, config: Record<string, string> | undefined): void;
  deprovisioned(resourceId: string): void;
}

export interface PlatformDriverOptions {
  /** The manifest credentials sent as HTTP Basic. */
  addon: Pick<StandInAddon, "username" | "password">;
  /** The manifest's `base_url`, e.g. http://127.0.0.1:3000/scalingo/resources. */
  providerBaseUrl: string;
  observer?: DriverObserver;
  /** Per call. Default 30 s: Heroku, the model of the protocol, lets providers take up to 25 s (spec §2.1). */
  timeoutMs?: number;
}

const USER_AGENT = "berth-platform-standin";

export function createPlatformDriver(options: PlatformDriverOptions): PlatformDriver {
  const { addon, observer } = options;
  const baseUrl = options.providerBaseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const authorization = `Basic ${Buffer.from(`${addon.username}:${addon.password}`, "utf8").toString("base64")}`;

  async function send(method: string, url: string, body?: unknown): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { Accept: "application/json", Authorization: authorization, "User-Agent": USER_AGENT };
    // Like the platform (spec §2.1): JSON headers on requests with a body, none on DELETE.
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, text: await response.text() };
  }

  return {
    async provision({ plan, app_id, uuid, options: planOptions }) {
      const sentUuid = uuid === undefined ? randomUUID() : uuid;
      const body = { plan, app_id, options: planOptions ?? {}, ...(sentUuid === null ? {} : { uuid: sentUuid }) };
      const response = await send("POST", baseUrl, body);
      const parsedBody = parseJson(response.text);
      if (isSuccess(response.status)) {
        // Only an answer the platform would accept (an `id`, string config values) makes the resource known.
        const answer = provisionResponseSchema.safeParse(parsedBody);
        if (answer.success) {
          observer?.provisioned({
            resourceId: answer.data.id,
            appId: app_id,
            plan,
            ...(sentUuid === null ? {} : { uuid: sentUuid }),
            ...(answer.data.config ? { config: answer.data.config } : {}),
          });
        }
      }
      return { status: response.status, body: parsedBody };
    },

    async changePlan(resourceId, plan, changeOptions = {}) {
      const body = { plan, options: changeOptions.planOptions ?? {} };
      const response = await send(changeOptions.method ?? "PUT", resourceUrl(baseUrl, resourceId), body);
      const parsedBody = parseJson(response.text);
      // 200 means done (spec §2.3); a 202 change is still under way, so the plan stays as it was.
      if (response.status === 200) {
        const answer = planChangeResponseSchema.safeParse(parsedBody);
        observer?.planChanged(resourceId, plan, answer.success ? answer.data.config : undefined);
      }
      return { status: response.status, body: parsedBody };
    },

    async request(method, path, body) {
      const response = await send(method, `${baseUrl}/${path.replace(/^\/+/, "")}`, body);
      return { status: response.status, body: parseJson(response.text) };
    },

    async suspend(resourceId): Promise<DriverResponse<string>> {
      const response = await send("POST", `${resourceUrl(baseUrl, resourceId)}/suspend`);
      return { status: response.status, body: response.text };
    },

    async resume(resourceId): Promise<DriverResponse<string>> {
      const response = await send("POST", `${resourceUrl(baseUrl, resourceId)}/resume`);
      return { status: response.status, body: response.text };
    },

    async deprovision(resourceId): Promise<DriverResponse<string>> {
      const response = await send("DELETE", resourceUrl(baseUrl, resourceId));
      // 404 and 410 mean "already gone" (spec §7.8).
      if (isSuccess(response.status) || response.status === 404 || response.status === 410) observer?.deprovisioned(resourceId);
      return { status: response.status, body: response.text };
    },
  };
}

function resourceUrl(baseUrl: string, resourceId: string): string {
  return `${baseUrl}/${encodeURIComponent(resourceId)}`;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** JSON when it parses, else the raw text (so a test sees what a misbehaving provider sent); undefined when empty. */
function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

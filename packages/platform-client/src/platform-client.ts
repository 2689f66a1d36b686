import { setTimeout as sleep } from "node:timers/promises";
import pRetry, { AbortError } from "p-retry";
import type { z } from "zod";
import { redact } from "@berth/config";
import {
  providerAppListSchema,
  providerAppResponseSchema,
  type ConfigVars,
  type ProviderApp,
  type ProviderAppList,
} from "@berth/protocol";
import { PlatformApiError, codeForStatus, isRetryableStatus } from "./platform-api-error.js";
import { readBody, summariseErrorBody } from "./response-body.js";
import { backoffDelayMs, parseRetryAfterMs } from "./retry-delay.js";

export interface RetryInfo {
  /** The attempt that just failed, counted from 1. */
  attempt: number;
  /** The HTTP status of the failed attempt; absent for network errors and timeouts. */
  status?: number;
  /** How long the client waits before the next attempt. */
  delayMs: number;
  /** Why the attempt failed (never contains the password). */
  error: string;
}

export interface PlatformClientOptions {
  /** e.g. https://api.osc-fr1.scalingo.com or http://127.0.0.1:4100 (a path prefix is kept). */
  baseUrl: string;
  /** The addon's manifest credentials, sent as HTTP Basic (spec §4.1). */
  username: string;
  password: string;
  /** Per attempt, reading the body included. Default 30 s, the value of Scalingo's own gem (spec §4.1). */
  timeoutMs?: number;
  /** Attempts after the first one. Default 5. */
  retries?: number;
  /** First backoff step. Default 250 ms; each step doubles, with jitter. */
  minRetryDelayMs?: number;
  /** Longest wait between attempts, also the cap of a server's `Retry-After`. Default 30 s. */
  maxRetryDelayMs?: number;
  /** Injectable for unit tests. */
  fetch?: typeof fetch;
  onRetry?: (info: RetryInfo) => void;
}

interface CallSpec<T> {
  method: "GET" | "PATCH" | "POST";
  path: string;
  body?: unknown;
  /** Validates (and types) a 2xx answer; undefined for answers the spec leaves undocumented. */
  schema?: z.ZodType<T>;
}

const USER_AGENT = "berth-platform-client";

/**
 * Client of the Scalingo Platform API for providers (spec §4), used by the
 * worker to report back: config vars of a resource, end of an async provision.
 */
export class PlatformClient {
  // Private fields: they stay out of util.inspect, JSON.stringify and error objects.
  readonly #baseUrl: string;
  readonly #authorization: string;
  readonly #password: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoff: { minRetryDelayMs: number; maxRetryDelayMs: number };
  readonly #fetch: typeof fetch;
  readonly #onRetry: ((info: RetryInfo) => void) | undefined;

  constructor(options: PlatformClientOptions) {
    this.#baseUrl = checkBaseUrl(options.baseUrl);
    if (options.username === "" || options.username.includes(":")) {
      // RFC 7617: the user-id of Basic auth cannot contain a colon.
      throw new TypeError("PlatformClient: username must be non-empty and contain no ':'");
    }
    if (options.password === "") throw new TypeError("PlatformClient: password must be non-empty");
    this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`, "utf8").toString("base64")}`;
    this.#password = options.password;
    this.#timeoutMs = checkNumber("timeoutMs", options.timeoutMs ?? 30_000, 1);
    this.#retries = checkNumber("retries", options.retries ?? 5, 0);
    if (!Number.isInteger(this.#retries)) throw new TypeError("PlatformClient: retries must be an integer");
    const minRetryDelayMs = checkNumber("minRetryDelayMs", options.minRetryDelayMs ?? 250, 0);
    const maxRetryDelayMs = checkNumber("maxRetryDelayMs", options.maxRetryDelayMs ?? 30_000, minRetryDelayMs);
    this.#backoff = { minRetryDelayMs, maxRetryDelayMs };
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#onRetry = options.onRetry;
  }

  /** `GET /v1/provider/apps`: the apps using this addon, one page of them (spec §4.2). */
  listApps(params: { page?: number; perPage?: number } = {}): Promise<ProviderAppList> {
    const query = new URLSearchParams();
    if (params.page !== undefined) query.set("page", String(params.page));
    if (params.perPage !== undefined) query.set("per_page", String(params.perPage));
    const search = query.size > 0 ? `?${query.toString()}` : "";
    return this.#call({ method: "GET", path: `/v1/provider/apps${search}`, schema: providerAppListSchema });
  }

  /** `GET /v1/provider/apps/:app_id` (spec §4.3). */
  async getApp(appId: string): Promise<ProviderApp> {
    const { app } = await this.#call({ method: "GET", path: appPath(appId), schema: providerAppResponseSchema });
    return app;
  }

  /** `PATCH /v1/provider/apps/:app_id`: sets config vars of the app, which restarts it (spec §4.4). */
  async patchAppConfig(appId: string, config: ConfigVars): Promise<ProviderApp> {
    const { app } = await this.#call({
      method: "PATCH",
      path: appPath(appId),
      body: { config },
      schema: providerAppResponseSchema,
    });
    return app;
  }

  /** `PATCH /v1/provider/addons/:resource_id/config`: sets the config vars of one resource (spec §4.5). */
  async patchAddonConfig(resourceId: string, config: ConfigVars): Promise<void> {
    await this.#call({ method: "PATCH", path: `${addonPath(resourceId)}/config`, body: { config } });
  }

  /** `POST /v1/provider/addons/:resource_id/actions/provision`: ends an asynchronous (202) provision (spec §4.6). */
  async markProvisioned(resourceId: string): Promise<void> {
    await this.#call({ method: "POST", path: `${addonPath(resourceId)}/actions/provision` });
  }

  async #call<T>(spec: CallSpec<T>): Promise<T> {
    let attempts = 0;
    try {
      return await pRetry(
        async (attemptNumber) => {
          attempts = attemptNumber;
          try {
            return await this.#attempt(spec);
          } catch (error) {
            // AbortError makes p-retry give up at once and rethrow the wrapped error.
            if (error instanceof PlatformApiError && !error.retryable) throw new AbortError(error);
            throw error;
          }
        },
        {
          retries: this.#retries,
          // The waits are computed below, because p-retry cannot honour Retry-After.
          minTimeout: 0,
          maxTimeout: 0,
          onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
            if (retriesLeft === 0) return;
            const delayMs = this.#delayBeforeRetry(error, attemptNumber);
            this.#notifyRetry({
              attempt: attemptNumber,
              ...(error instanceof PlatformApiError && error.status !== undefined ? { status: error.status } : {}),
              delayMs,
              error: error.message,
            });
            await sleep(delayMs);
          },
        },
      );
    } catch (error) {
      if (error instanceof PlatformApiError) throw error.withAttempts(attempts);
      throw error;
    }
  }

  async #attempt<T>(spec: CallSpec<T>): Promise<T> {
    const request = `${spec.method} ${spec.path}`;
    const headers: Record<string, string> = {
      Accept: "application/json",
      Authorization: this.#authorization,
      "User-Agent": USER_AGENT,
    };
    if (spec.body !== undefined) headers["Content-Type"] = "application/json";

    let status: number;
    let retryAfter: string | null;
    let body: unknown;
    try {
      const response = await this.#fetch(`${this.#baseUrl}${spec.path}`, {
        method: spec.method,
        headers,
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
        // A redirect could carry the credentials elsewhere; the Platform API has no reason to send one.
        redirect: "manual",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      body = await readBody(response);
    } catch (error) {
      throw this.#transportError(request, error);
    }

    if (status < 200 || status >= 300) {
      const reason = summariseErrorBody(body);
      const retryAfterMs = status === 429 || status === 503 ? parseRetryAfterMs(retryAfter) : undefined;
      throw new PlatformApiError(this.#redact(`${request} answered ${status}${reason ? `: ${reason}` : ""}`), {
        code: codeForStatus(status),
        retryable: isRetryableStatus(status),
        status,
        body,
        request,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }

    if (spec.schema === undefined) return undefined as T;
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
      throw new PlatformApiError(this.#redact(`${request} answered ${status} with an unexpected body (${issues.join("; ")})`), {
        code: "invalid_response",
        retryable: false,
        status,
        body,
        request,
      });
    }
    return parsed.data;
  }

  #transportError(request: string, error: unknown): PlatformApiError {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    const detail = timedOut ? `no answer within ${this.#timeoutMs} ms` : `network error: ${describeNetworkError(error)}`;
    return new PlatformApiError(this.#redact(`${request}: ${detail}`), {
      code: timedOut ? "timeout" : "network_error",
      retryable: true,
      request,
      cause: error,
    });
  }

  #delayBeforeRetry(error: Error, failedAttempt: number): number {
    if (error instanceof PlatformApiError && error.retryAfterMs !== undefined) {
      return Math.min(error.retryAfterMs, this.#backoff.maxRetryDelayMs);
    }
    return backoffDelayMs(failedAttempt, this.#backoff);
  }

  #notifyRetry(info: RetryInfo): void {
    try {
      this.#onRetry?.(info);
    } catch {
      // A failing observer (a logger) must not turn a retry into a failure.
    }
  }

  /** Belt and braces: nothing we build contains the password, but a server could echo it back. */
  #redact(message: string): string {
    return redact(message, { secrets: [this.#password] });
  }
}

function appPath(appId: string): string {
  return `/v1/provider/apps/${encodeURIComponent(appId)}`;
}

function addonPath(resourceId: string): string {
  return `/v1/provider/addons/${encodeURIComponent(resourceId)}`;
}

function checkBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`PlatformClient: baseUrl is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`PlatformClient: baseUrl must be http(s), got ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "") {
    // Never echo the URL back: it holds credentials.
    throw new TypeError("PlatformClient: baseUrl must not embed credentials; pass username and password");
  }
  if (url.search !== "" || url.hash !== "") throw new TypeError("PlatformClient: baseUrl must not have a query or fragment");
  return url.href.replace(/\/+$/, "");
}

function checkNumber(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) throw new TypeError(`PlatformClient: ${name} must be a number ≥ ${min}`);
  return value;
}

/** undici reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return `${error.message} (${code ? `${code}: ` : ""}${cause.message})`;
  }
  return error.message;
}

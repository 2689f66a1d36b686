/** Stable codes, so callers branch on `code` rather than on message text. */
export type PlatformApiErrorCode =
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "unprocessable_entity"
  | "rate_limited"
  | "server_error"
  | "unexpected_status"
  | "network_error"
  | "timeout"
  | "invalid_response";

export interface PlatformApiErrorInit {
  code: PlatformApiErrorCode;
  retryable: boolean;
  status?: number;
  body?: unknown;
  /** HTTP method and path, e.g. `PATCH /v1/provider/apps/app-1`: never the base URL, so no credentials can leak. */
  request: string;
  /** How many attempts were made before this error was thrown. */
  attempts?: number;
  /** The wait the server asked for with `Retry-After` (429/503), in milliseconds. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Why a Platform API call failed. `retryable: true` means a later attempt may
 * succeed (network trouble, timeout, 429, 5xx), also when this client has
 * already spent its own retry budget: the caller (a BullMQ job) then retries
 * later with its own backoff.
 */
export class PlatformApiError extends Error {
  override readonly name = "PlatformApiError";
  readonly status?: number;
  readonly code: PlatformApiErrorCode;
  readonly retryable: boolean;
  readonly body?: unknown;
  readonly request: string;
  readonly attempts: number;
  readonly retryAfterMs?: number;

  constructor(message: string, init: PlatformApiErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.retryable = init.retryable;
    this.request = init.request;
    this.attempts = init.attempts ?? 1;
    if (init.status !== undefined) this.status = init.status;
    if (init.body !== undefined) this.body = init.body;
    if (init.retryAfterMs !== undefined) this.retryAfterMs = init.retryAfterMs;
  }

  /** The same failure, once the retry loop has given up on it. */
  withAttempts(attempts: number): PlatformApiError {
    const prefix = attempts > 1 ? `gave up after ${attempts} attempts: ` : "";
    return new PlatformApiError(`${prefix}${this.message}`, {
      code: this.code,
      retryable: this.retryable,
      request: this.request,
      attempts,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.body === undefined ? {} : { body: this.body }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      ...(this.cause === undefined ? {} : { cause: this.cause }),
    });
  }
}

export function codeForStatus(status: number): PlatformApiErrorCode {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 422:
      return "unprocessable_entity";
    case 429:
      return "rate_limited";
    default:
      return status >= 500 ? "server_error" : "unexpected_status";
  }
}

/** Network errors, timeouts, 429 and 5xx are worth another try; other 4xx will fail again the same way. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

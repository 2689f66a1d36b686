import { UnrecoverableError } from "bullmq";
import { PlatformApiError } from "@berth/platform-client";

/** A failure no retry can mend (unknown plan, missing image, a database that never became ready): the job fails at once. */
export class PermanentError extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = "PermanentError";
  }
}

/**
 * A request declined as asked, with the reason (e.g. a plan whose disk the data does not fit):
 * the operation fails at once with that reason, and the resource stays as it was (not `failed`).
 */
export class RefusedError extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = "RefusedError";
  }
}

/**
 * The one place a failed attempt is classified, permanent or worth another attempt; the worker
 * passes every failure through it. Permanent: a `PermanentError` (and its kinds), and a Platform
 * API answer the client marks not retryable (401, 403, 404, 409, 422, another 4xx, a body it
 * cannot read): the same call would be answered the same, so the operation fails at once with the
 * platform's status and reason (already redacted of the client's password by the client; the
 * worker redacts the resource's credentials from every failure reason). Anything else (network
 * trouble, timeouts, 429, 5xx, Docker, the control plane) is retried with the job's backoff.
 */
export function classifyFailure(error: unknown): unknown {
  if (error instanceof PlatformApiError && !error.retryable) {
    return new PermanentError(`the platform refused the call, retrying would not help: ${error.message}`);
  }
  return error;
}

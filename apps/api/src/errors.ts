/**
 * The API's error codes and the one handler that turns any error into the
 * single body shape `{ error: <stable code>, message }`. Tests assert codes.
 */
import { isDatabaseUnavailable } from "@berth/db";
import { OperationRefusal, type RefusalCode } from "@berth/operations";
import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";

/** A refusal the API means to give: its `code` is part of the contract. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ApiError";
  }
}

export const apiErrors = {
  resourceNotFound: (id: string) => new ApiError("resource_not_found", 404, `No resource with id '${id}' exists for this addon.`),
};

/** The HTTP status of each refusal of the operations service (its code is kept as the error code). */
const REFUSAL_STATUS: Record<RefusalCode, number> = {
  unknown_plan: 422,
  resource_not_found: 404,
  resource_failed: 409,
  idempotency_conflict: 409,
  operation_not_found: 404,
  operation_not_retryable: 409,
  backups_not_supported: 422,
  backup_not_found: 404,
  backup_not_restorable: 409,
  resource_not_backupable: 409,
  resource_suspended: 409,
  rotation_not_supported: 422,
  users_not_supported: 422,
  invalid_user: 422,
  user_exists: 409,
  user_not_found: 404,
  user_protected: 409,
  point_in_time_not_supported: 422,
  restore_time_out_of_range: 422,
  service_unavailable: 503,
};

function refusalToApiError(refusal: OperationRefusal): ApiError {
  return new ApiError(refusal.code, REFUSAL_STATUS[refusal.code], refusal.message, { cause: refusal.cause ?? refusal });
}

/** Answers with the single error shape from a hook, where a nested scope's own error handler must not reshape it. */
export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.statusCode).send({ error: error.code, message: error.message });
}

/** Fastify's and plugins' own error codes, mapped to ours. */
const FRAMEWORK_CODES: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_json", message: "The request body is not valid JSON." },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: "The request body is empty but its content type is application/json." },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "Send the request body as application/json." },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: "The request body is too large." },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "invalid_request", message: "The Content-Length header does not match the body." },
  FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER: { code: "unauthorized", message: "Missing or malformed Basic authorization." },
};

const CODES_BY_STATUS: Record<number, string> = {
  400: "invalid_request",
  401: "unauthorized",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: "not_found", message: `No route ${request.method} ${request.url.split("?")[0]}.` });
  });

  app.setErrorHandler((thrown: FastifyError | ApiError | OperationRefusal, request, reply) => {
    const error = thrown instanceof OperationRefusal ? refusalToApiError(thrown) : thrown;
    if (error instanceof ApiError) {
      if (error.statusCode >= 500) request.log.error({ err: error.cause ?? error }, error.message);
      return reply.code(error.statusCode).send({ error: error.code, message: error.message });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error }, "control plane unavailable");
      return reply.code(503).send({ error: "service_unavailable", message: "Berth's control plane is unavailable for a moment; retry the request, it is safe to." });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      const details = error.validation
        .map((issue) => `${issue.instancePath.replace(/^\//, "").replaceAll("/", ".") || error.validationContext}: ${issue.message}`)
        .join("; ");
      return reply.code(400).send({ error: "invalid_request", message: `Invalid ${error.validationContext}: ${details}` });
    }
    const mapped = error.code ? FRAMEWORK_CODES[error.code] : undefined;
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, "request failed");
      const message = status === 503 ? error.message : "Internal error; it has been logged.";
      return reply.code(status).send({ error: status === 503 ? "service_unavailable" : "internal_error", message });
    }
    if (mapped) return reply.code(status).send({ error: mapped.code, message: mapped.message ?? error.message });
    return reply.code(status).send({ error: CODES_BY_STATUS[status] ?? "invalid_request", message: error.message });
  });
}

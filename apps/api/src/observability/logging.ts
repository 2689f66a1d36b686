import { REDACTED, redactUrl } from "@berth/config";
import type { FastifyRequest, FastifyServerOptions } from "fastify";

/** How the API logs; production and tests pass this to the same `createApi` (its `log` option). */
export interface ApiLogOptions {
  level: string;
  /** Where the JSON lines go (default: stdout). */
  stream?: { write(line: string): void };
}

/**
 * Fastify's own request serializer, with the URL's secrets redacted (`redactUrl`: the value of every
 * `token=`, `resource_token=` and other secret-named query parameter): every route's `incoming request` line goes through it.
 */
function requestLogValue(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: typeof request.headers["accept-version"] === "string" ? request.headers["accept-version"] : undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

export function apiLoggerOptions(options: ApiLogOptions): NonNullable<FastifyServerOptions["logger"]> {
  return {
    level: options.level,
    ...(options.stream ? { stream: options.stream } : {}),
    redact: { paths: ["req.headers.authorization"], censor: REDACTED },
    serializers: { req: requestLogValue },
  };
}

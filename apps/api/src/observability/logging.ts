import type { FastifyRequest, FastifyServerOptions } from "fastify";

/** How the API logs; production and tests pass this to the same `buildApp`. */
export interface ApiLogOptions {
  level: string;
  /** Where the JSON lines go (default: stdout). */
  stream?: { write(line: string): void };
}

/** Query parameters carrying a credential: an SSO token opens a dashboard session. */
const SECRET_QUERY_PARAMETERS = new Set(["token", "resource_token"]);

/**
 * The URL with the value of each `token=`/`resource_token=` query parameter replaced by
 * `[redacted]`, the rest byte for byte. Names are matched as the query parser reads them
 * (percent-decoded), in any case.
 */
export function redactUrlTokens(url: string): string {
  const start = url.indexOf("?");
  if (start === -1) return url;
  const pairs = url
    .slice(start + 1)
    .split("&")
    .map((pair) => {
      const equals = pair.indexOf("=");
      if (equals === -1) return pair;
      const name = pair.slice(0, equals);
      return SECRET_QUERY_PARAMETERS.has(decodeName(name).toLowerCase()) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start + 1)}${pairs.join("&")}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll("+", " "));
  } catch {
    return name;
  }
}

/** Fastify's own request serializer, with the URL's tokens redacted: every route's `incoming request` line goes through it. */
function requestLogValue(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrlTokens(request.url),
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
    redact: ["req.headers.authorization"],
    serializers: { req: requestLogValue },
  };
}

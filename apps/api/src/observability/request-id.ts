import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** An incoming `X-Request-Id` is kept when it is short and made of safe characters; otherwise a fresh id. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = "x-request-id";

export function genReqId(request: IncomingMessage): string {
  const given = request.headers[REQUEST_ID_HEADER];
  return typeof given === "string" && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
}

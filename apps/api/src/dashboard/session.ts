import type { FastifyReply, FastifyRequest } from "fastify";

const COOKIE = "berth_session";

/**
 * A dashboard session is a signed cookie naming one resource, scoped to that
 * resource's dashboard path: it opens nothing else.
 */
export function startSession(reply: FastifyReply, resourceId: string, { maxAgeSeconds, secure }: { maxAgeSeconds: number; secure: boolean }): void {
  const expiresAt = Math.floor(Date.now() / 1000) + maxAgeSeconds;
  reply.setCookie(COOKIE, `${resourceId}|${expiresAt}`, {
    signed: true,
    httpOnly: true,
    sameSite: "lax",
    secure,
    path: dashboardPath(resourceId),
    maxAge: maxAgeSeconds,
  });
}

/** True when the request carries a valid, unexpired session for exactly this resource. */
export function hasSession(request: FastifyRequest, resourceId: string): boolean {
  const cookie = request.cookies[COOKIE];
  if (!cookie) return false;
  const unsigned = request.unsignCookie(cookie);
  if (!unsigned.valid || unsigned.value === null) return false;
  const [id, expiresAt] = unsigned.value.split("|");
  return id === resourceId && Number(expiresAt) > Date.now() / 1000;
}

export function dashboardPath(resourceId: string): string {
  return `/dashboard/${encodeURIComponent(resourceId)}`;
}

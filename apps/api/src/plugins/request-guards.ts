import type { FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";

/** Methods that change nothing: a page may make a browser send them anywhere (links, images) without harm. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * CSRF defence of the browser surfaces (the operator console, the dashboard). Browsers send credentials
 * they know on their own, with requests any page makes; so a request that
 * changes something (retry, clean, promote, pause…) must show that it comes
 * from one of the console's own pages:
 *
 * - `Sec-Fetch-Site`, when the browser sends it (every current one does),
 *   must be `same-origin`: a page cannot forge it, and `same-site` would
 *   trust sibling hosts;
 * - `Origin` (else `Referer`) must be this server's host as the browser
 *   addressed it, or the configured public URL (behind a proxy that rewrites
 *   Host). Neither header: no browser sent it that way, refused too.
 *
 * No token to carry: bull-board's pages are not ours to change, and these
 * headers are set by the browser itself. Non-browser clients (curl) add an
 * `Origin` header of the console's URL.
 */
export function crossSiteRefusal(request: FastifyRequest, trustedOrigins: ReadonlySet<string>): ApiError | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const fetchSite = header(request, "sec-fetch-site");
  if (fetchSite !== undefined && fetchSite !== "same-origin") return refusal(`the browser sent it from a ${fetchSite} page`);
  // A form posted from our own pages has `Origin: null` (their no-referrer policy hides it): the browser's `Sec-Fetch-Site` says where it came from.
  const origin = header(request, "origin");
  const source = origin === "null" ? undefined : (origin ?? header(request, "referer"));
  if (source === undefined) return fetchSite === "same-origin" ? undefined : refusal("it carries neither Origin nor Referer");
  let sender: URL;
  try {
    sender = new URL(source);
  } catch {
    return refusal(`its origin "${source}" is not a URL`);
  }
  if (sender.host === request.headers.host || trustedOrigins.has(sender.origin)) return undefined;
  return refusal(`it was sent from ${sender.origin}`);
}

/** Read-only mode: operators look, nothing changes, whatever the client (bull-board also hides its buttons). */
export function readOnlyRefusal(request: FastifyRequest): ApiError | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  return new ApiError("read_only", 403, "The operator console is read-only (BERTH_ADMIN_READ_ONLY=true): it changes nothing.");
}

function refusal(why: string): ApiError {
  return new ApiError(
    "cross_site_request",
    403,
    `Refused: changes through the operator console must come from its own pages, and ${why}.`,
  );
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

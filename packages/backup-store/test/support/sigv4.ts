import { createHash, createHmac } from "node:crypto";

/**
 * An independent check of AWS Signature Version 4 on a received S3 request, written from AWS's
 * description of the algorithm (canonical request, string to sign, HMAC key chain), not from the
 * SDK: the test server recomputes the signature with the secret it knows and compares.
 */
export interface ReceivedRequest {
  method: string;
  /** The request target as received: path and query, still percent-encoded. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  body: Buffer;
}

export interface SigningSecret {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string; expected?: string; received?: string };

const ALGORITHM = "AWS4-HMAC-SHA256";
const EMPTY_SHA256 = createHash("sha256").update("").digest("hex");
export { EMPTY_SHA256 };

export function checkSignature(request: ReceivedRequest, secret: SigningSecret): SignatureCheck {
  const authorization = header(request, "authorization");
  if (!authorization?.startsWith(`${ALGORITHM} `)) return { ok: false, reason: "no AWS4-HMAC-SHA256 Authorization header" };
  const fields = new Map(
    authorization
      .slice(ALGORITHM.length + 1)
      .split(",")
      .map((part) => part.trim().split("=", 2) as [string, string]),
  );
  const credential = fields.get("Credential")?.split("/");
  const signedHeaders = fields.get("SignedHeaders");
  const received = fields.get("Signature");
  if (!credential || credential.length !== 5 || !signedHeaders || !received) return { ok: false, reason: "malformed Authorization header" };
  const [accessKeyId, date, region, service, terminator] = credential as [string, string, string, string, string];
  if (accessKeyId !== secret.accessKeyId) return { ok: false, reason: `unknown access key id ${accessKeyId}` };
  if (region !== secret.region || service !== secret.service || terminator !== "aws4_request") {
    return { ok: false, reason: `credential scope ${credential.slice(1).join("/")} is not ${secret.region}/${secret.service}` };
  }
  const amzDate = header(request, "x-amz-date");
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return { ok: false, reason: "x-amz-date missing or not the scope's date" };
  const names = signedHeaders.split(";");
  if (!names.includes("host") || [...names].sort().join(";") !== signedHeaders) return { ok: false, reason: "SignedHeaders must be sorted and include host" };

  // S3 requires the payload's hash as a header; a hex hash must be the body's.
  const payloadHash = header(request, "x-amz-content-sha256");
  if (!payloadHash) return { ok: false, reason: "no x-amz-content-sha256 header" };
  if (/^[0-9a-f]{64}$/.test(payloadHash)) {
    const actual = createHash("sha256").update(request.body).digest("hex");
    if (actual !== payloadHash) return { ok: false, reason: "x-amz-content-sha256 is not the body's SHA-256", expected: actual, received: payloadHash };
  } else if (payloadHash !== "UNSIGNED-PAYLOAD") {
    return { ok: false, reason: `payload mode ${payloadHash} is not checked by this server` };
  }

  const expected = signature(request, secret, { date, amzDate, names, payloadHash });
  if (expected !== received) return { ok: false, reason: "signature mismatch", expected, received };
  return { ok: true };
}

function signature(
  request: ReceivedRequest,
  secret: SigningSecret,
  signed: { date: string; amzDate: string; names: string[]; payloadHash: string },
): string {
  const [rawPath, rawQuery = ""] = request.url.split("?", 2) as [string, string?];
  const canonicalRequest = [
    request.method.toUpperCase(),
    canonicalUri(rawPath),
    canonicalQuery(rawQuery),
    signed.names.map((name) => `${name}:${canonicalHeaderValue(request.headers[name])}\n`).join(""),
    signed.names.join(";"),
    signed.payloadHash,
  ].join("\n");
  const scope = `${signed.date}/${secret.region}/${secret.service}/aws4_request`;
  const stringToSign = [ALGORITHM, signed.amzDate, scope, createHash("sha256").update(canonicalRequest).digest("hex")].join("\n");
  let key: Buffer = hmac(`AWS4${secret.secretAccessKey}`, signed.date);
  for (const part of [secret.region, secret.service, "aws4_request"]) key = hmac(key, part);
  return hmac(key, stringToSign).toString("hex");
}

/** S3: each path segment URI-encoded once (no normalisation, no double encoding). */
function canonicalUri(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join("/");
}

/** Parameters URI-encoded (names and values), sorted by name then value, a missing value as "". */
function canonicalQuery(rawQuery: string): string {
  if (rawQuery === "") return "";
  return rawQuery
    .split("&")
    .map((pair) => {
      const at = pair.indexOf("=");
      const [name, value] = at === -1 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
      return [uriEncode(decodeQueryPart(name)), uriEncode(decodeQueryPart(value))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

function decodeQueryPart(part: string): string {
  return decodeURIComponent(part.replaceAll("+", " "));
}

/** Every byte but the unreserved characters A-Z a-z 0-9 - . _ ~ as %XX, upper-case hex. */
function uriEncode(value: string): string {
  return [...Buffer.from(value, "utf8")]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    })
    .join("");
}

/** Trimmed, inner runs of spaces as one, several values joined by ",". */
function canonicalHeaderValue(value: string | string[] | undefined): string {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.map((one) => one.trim().replace(/\s+/g, " ")).join(",");
}

function header(request: ReceivedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : value;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data, "utf8").digest();
}

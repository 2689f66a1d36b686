/**
 * Secret redaction, the one version: every log line, error message, failure
 * reason and printed call that could carry a secret goes through `redact`
 * (text), `redactUrl` (a request URL) or `redactValue` (structured data).
 * Whatever the secret, it becomes `REDACTED`.
 */

/** What a redacted secret looks like, everywhere. */
export const REDACTED = "[redacted]";

/**
 * Known secret values shorter than this are left alone: Berth's own secrets are far longer
 * (generated passwords 32 characters, identifiers 14 or more, manifest passwords at least 16),
 * and replacing a short value ("5432", "app") would garble ordinary text.
 */
export const MIN_SECRET_LENGTH = 8;

export interface RedactOptions {
  /**
   * Secret values the caller knows (a resource's credentials, a manifest password): each
   * occurrence, as is or percent-encoded, is replaced. Empty, missing and short values are ignored.
   */
  readonly secrets?: Iterable<string | null | undefined>;
}

/**
 * `text` with its secrets replaced by `REDACTED`:
 * - the known `secrets` (as is and percent-encoded);
 * - the password of every URL's userinfo: `postgres://user:pass@host` → `postgres://user:[redacted]@host`;
 * - the value of every query parameter with a secret name (`?token=…`, `&resource_token=…`, see `isSecretName`);
 * - the credentials of an Authorization header: `Authorization: Basic …` → `Authorization: Basic [redacted]`.
 * The rest is kept byte for byte; redacting twice changes nothing more.
 */
export function redact(text: string, options: RedactOptions = {}): string {
  let out = text;
  for (const secret of knownSecrets(options.secrets)) out = out.replaceAll(secret, REDACTED);
  return out.replace(URL_PASSWORD, `$1${REDACTED}@`).replace(AUTHORIZATION, `$1${REDACTED}`).replace(QUERY_PARAMETER, redactParameter);
}

/**
 * A URL (absolute, or a request's path and query) with the value of each query parameter with a
 * secret name replaced by `REDACTED` (also an empty one) and its userinfo password hidden, the rest
 * byte for byte. Names are matched as a query parser reads them (percent-decoded, `+` as a space).
 */
export function redactUrl(url: string): string {
  const withoutPassword = url.replace(URL_PASSWORD, `$1${REDACTED}@`);
  const start = withoutPassword.indexOf("?");
  if (start === -1) return withoutPassword;
  const end = withoutPassword.indexOf("#", start);
  const query = withoutPassword.slice(start + 1, end === -1 ? undefined : end);
  const pairs = query.split("&").map((pair) => {
    const equals = pair.indexOf("=");
    if (equals === -1) return pair;
    const name = pair.slice(0, equals);
    return isSecretName(decodeName(name)) ? `${name}=${REDACTED}` : pair;
  });
  return `${withoutPassword.slice(0, start + 1)}${pairs.join("&")}${end === -1 ? "" : withoutPassword.slice(end)}`;
}

/**
 * Structured data (a logged request body, a config patch) with its secrets replaced: a string under
 * a secret name (`SCALINGO_POSTGRESQL_PASSWORD`, `api_token`; also the `value` of a `{name, value}`
 * pair) becomes `REDACTED`, every other string goes through `redact`. Other values are kept.
 */
export function redactValue(value: unknown, options: RedactOptions = {}): unknown {
  return redactNamed(value, undefined, { secrets: knownSecrets(options.secrets) });
}

/**
 * Whether a name (a query parameter, a config var, a JSON key) holds a secret: one of its words
 * (split at `_`, `-`, `.`, spaces and camelCase) is password, passwd, pwd, pass, passphrase, secret,
 * token, salt, credential(s) or apikey, or its last word is `key` after another (`API_KEY`,
 * `encryption_key`). Not secret: `tokens`, `passport`, `resource_id`, `timestamp`, `key` alone.
 */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  if (words.length > 1 && words.at(-1) === "key") return true;
  return words.some((word) => SECRET_WORDS.has(word));
}

const SECRET_WORDS = new Set(["password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "salt", "credential", "credentials", "apikey"]);

/** `scheme://user:` then the password, up to the authority's last `@` (a password with a raw `@` is hidden whole). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)(?!@)[^\s/?#]+@/gi;
/** `Authorization: Basic …`, `authorization":"Bearer …"`, `Proxy-Authorization=Digest …`: the scheme is kept. */
const AUTHORIZATION = /(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:basic|bearer|digest|token|negotiate)\s+)[^\s"',;]+/gi;
/** `?name=value` or `&name=value` in text: the value ends at `&`, `#`, whitespace, a quote or a bracket. */
const QUERY_PARAMETER = /([?&])([^=&#\s?"'<>]+)=([^&#\s"'<>()]*)/g;

function redactParameter(match: string, separator: string, name: string): string {
  return isSecretName(decodeName(name)) ? `${separator}${name}=${REDACTED}` : match;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll("+", " "));
  } catch {
    return name;
  }
}

/** The values to replace, longest first (a secret containing another is replaced whole), each also percent-encoded. */
function knownSecrets(secrets: Iterable<string | null | undefined> | undefined): string[] {
  const values = new Set<string>();
  for (const secret of secrets ?? []) {
    if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) continue;
    values.add(secret);
    values.add(encodeURIComponent(secret));
  }
  return [...values].sort((a, b) => b.length - a.length);
}

function redactNamed(value: unknown, name: string | undefined, options: { secrets: readonly string[] }): unknown {
  if (typeof value === "string") return name !== undefined && isSecretName(name) ? REDACTED : redact(value, options);
  if (Array.isArray(value)) return value.map((item) => redactNamed(item, name, options));
  if (typeof value === "object" && value !== null) {
    const record = value as Record<string, unknown>;
    // The `[{name, value}]` form of a config patch (spec §4.5): the secret's name is a sibling of its value.
    const pairName = typeof record.name === "string" ? record.name : undefined;
    return Object.fromEntries(
      Object.entries(record).map(([key, item]) => [key, redactNamed(item, key === "value" && pairName !== undefined ? pairName : key, options)]),
    );
  }
  return value;
}

import type { AddonDefinition } from "@berth/addon-sdk";
import { ENV_VAR_NAME_PATTERN } from "@berth/protocol";

/**
 * One thing wrong with a manifest. `path` says where, in the manifest's own
 * terms: `name`, `production.base_url`, `config_vars[0]`, `plans[2].name`,
 * `plans[0].options.size`, or `(root)` when the input is not an object at all.
 */
export interface ManifestProblem {
  path: string;
  /** For people: what was expected and what was found. Never contains the password or the salt. */
  message: string;
  /**
   * Absent: an error, the manifest must not be sent. `"warning"`: worth a look
   * but the manifest works (today: an installed plan the manifest does not offer).
   */
  severity?: "warning";
}

export interface ManifestCheckContext {
  /**
   * The installed addons. When given, the manifest must belong to one of them
   * (found by its `production.base_url`, `…/<addon id>/resources`) and agree
   * with its definition: the same config vars, only plans it defines.
   */
  addons?: ReadonlyMap<string, AddonDefinition>;
}

/** The manifest's password and SSO salt protect every database of the addon: at least this long. */
export const MANIFEST_SECRET_MIN_LENGTH = 16;

/** The problems that make a manifest unusable (those without `severity: "warning"`). */
export function manifestErrors(problems: readonly ManifestProblem[]): ManifestProblem[] {
  return problems.filter((problem) => problem.severity !== "warning");
}

/**
 * Checks a manifest as parsed from JSON and lists every problem, in the order
 * of the manifest's fields (an empty list: the manifest is good).
 *
 * The official tester's rules (spec §3.4) — non-blank `username`, `password`,
 * `sso_salt`, `short_description`, `description`; at least one plan and one
 * config var; URLs that parse — and stricter ones: the JSON types of every
 * field, a non-blank `name`, secrets of at least 16 characters, a valid
 * `logo_url`, absolute http(s) URLs and https in production, unique plan
 * names, non-negative prices, string → string plan options, config vars that
 * are valid environment variable names and listed once. With
 * `context.addons`, also the rules against the addon's definition.
 */
export function checkManifest(input: unknown, context: ManifestCheckContext = {}): ManifestProblem[] {
  const problems = new Problems();
  if (!isJsonObject(input)) {
    problems.error("(root)", `expected a JSON object (the manifest), found ${describe(input)}`);
    return problems.list;
  }
  const manifest = input;

  nonBlankString(problems, "name", manifest.name, "the addon's display name");
  nonBlankString(problems, "username", manifest.username, "the Basic-auth user of the platform");
  secretString(problems, "password", manifest.password, "the Basic-auth password of the platform");
  secretString(problems, "sso_salt", manifest.sso_salt, "the secret that signs single sign-on tokens");
  logoUrl(problems, manifest.logo_url);
  nonBlankString(problems, "short_description", manifest.short_description, "a one-sentence summary");
  nonBlankString(problems, "description", manifest.description, "the Markdown description");
  if (manifest.log_drain !== undefined && typeof manifest.log_drain !== "boolean") {
    problems.error("log_drain", `expected true or false, found ${describe(manifest.log_drain)}`);
  }
  const configVars = checkConfigVars(problems, manifest.config_vars);
  const production = checkEndpoints(problems, "production", manifest.production, true);
  const test = checkEndpoints(problems, "test", manifest.test, false);
  const plans = checkPlans(problems, manifest.plans);

  if (context.addons) {
    checkAgainstAddons(problems, context.addons, { manifest, configVars, production, test, plans });
  }
  return inFieldOrder(problems.list);
}

const FIELD_ORDER = [
  "name",
  "username",
  "password",
  "sso_salt",
  "logo_url",
  "short_description",
  "description",
  "log_drain",
  "config_vars",
  "production",
  "test",
  "plans",
];

/** Problems grouped by top-level field, in the manifest's order; within a field, in the order found. */
function inFieldOrder(problems: ManifestProblem[]): ManifestProblem[] {
  const rank = (problem: ManifestProblem) => FIELD_ORDER.indexOf(/^[a-z_]+/.exec(problem.path)?.[0] ?? "");
  return problems.map((problem, index) => ({ problem, index, rank: rank(problem) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .map(({ problem }) => problem);
}

class Problems {
  readonly list: ManifestProblem[] = [];

  error(path: string, message: string): void {
    this.list.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.list.push({ path, message, severity: "warning" });
  }
}

// ---------------------------------------------------------------- strings

function nonBlankString(problems: Problems, path: string, value: unknown, meaning: string): value is string {
  if (typeof value !== "string") {
    problems.error(path, `expected a non-empty string (${meaning}), found ${describe(value)}`);
    return false;
  }
  if (value.trim() === "") {
    problems.error(path, `can't be blank: expected ${meaning}, found ${describe(value)}`);
    return false;
  }
  return true;
}

function secretString(problems: Problems, path: string, value: unknown, meaning: string): void {
  if (typeof value !== "string") {
    problems.error(path, `expected a non-empty string (${meaning}), found ${describe(value, { secret: true })}`);
  } else if (value.trim() === "") {
    problems.error(path, `can't be blank: expected ${meaning}, found ${describe(value, { secret: true })}`);
  } else if (value.length < MANIFEST_SECRET_MIN_LENGTH) {
    problems.error(
      path,
      `is too short: expected at least ${MANIFEST_SECRET_MIN_LENGTH} characters (${meaning}, e.g. from openssl rand -hex 24), found ${value.length}`,
    );
  }
}

function logoUrl(problems: Problems, value: unknown): void {
  if (value === undefined) return;
  const expected = "the http(s) URL of a 100x100 logo, or no logo_url field";
  if (typeof value !== "string") {
    problems.error("logo_url", `expected ${expected}, found ${describe(value)}`);
    return;
  }
  // Scalingo's own example uses a protocol-relative URL (`//cdn.example.com/logo.png`).
  const url = parseUrl(value.startsWith("//") ? `https:${value}` : value);
  if (!url) problems.error("logo_url", `is not a valid URL: expected ${expected}, found ${describe(value)}`);
  else if (!isHttp(url)) problems.error("logo_url", `expected ${expected}, found the ${url.protocol} URL ${describe(value)}`);
}

// ---------------------------------------------------------------- config vars

/** The config vars that are strings, with their index; undefined when `config_vars` is not an array. */
function checkConfigVars(problems: Problems, value: unknown): Array<{ index: number; name: string }> | undefined {
  const meaning = "the names of the environment variables the addon sets on apps";
  if (!Array.isArray(value)) {
    problems.error("config_vars", `expected an array of strings (${meaning}), found ${describe(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    problems.error("config_vars", `should have at least one element environment variable: expected ${meaning}, found an empty array`);
    return [];
  }
  const names: Array<{ index: number; name: string }> = [];
  const seen = new Map<string, number>();
  value.forEach((name: unknown, index) => {
    const path = `config_vars[${index}]`;
    if (typeof name !== "string") {
      problems.error(path, `expected an environment variable name (a string), found ${describe(name)}`);
      return;
    }
    names.push({ index, name });
    if (!ENV_VAR_NAME_PATTERN.test(name)) {
      const upper = name.toUpperCase();
      const hint = upper !== name && ENV_VAR_NAME_PATTERN.test(upper) ? ` (did you mean "${upper}"?)` : "";
      problems.error(
        path,
        `is not a valid environment variable name: expected upper-case letters, digits and _, not starting with a digit (${ENV_VAR_NAME_PATTERN}), found ${describe(name)}${hint}`,
      );
    }
    const first = seen.get(name);
    if (first !== undefined) problems.error(path, `${describe(name)} is listed twice: also at config_vars[${first}]`);
    else seen.set(name, index);
  });
  return names;
}

// ---------------------------------------------------------------- URLs

interface Endpoints {
  base_url?: URL;
  sso_url?: URL;
}

const ENDPOINT_MEANING = {
  base_url: "the URL of the provider endpoints (…/<addon>/resources)",
  sso_url: "the single sign-on URL (…/<addon>/sso)",
} as const;

const HTTPS_REASON = {
  base_url: "the platform sends the addon's Basic-auth credentials to it",
  sso_url: "customers' browsers are sent to it with a sign-on token",
} as const;

function checkEndpoints(problems: Problems, section: "production" | "test", value: unknown, https: boolean): Endpoints {
  if (!isJsonObject(value)) {
    problems.error(section, `expected an object with base_url and sso_url, found ${describe(value)}`);
    return {};
  }
  const out: Endpoints = {};
  for (const key of ["base_url", "sso_url"] as const) {
    const path = `${section}.${key}`;
    const raw = value[key];
    const expected = `${https ? "an https" : "an absolute http(s)"} URL, ${ENDPOINT_MEANING[key]}`;
    if (typeof raw !== "string" || raw.trim() === "") {
      problems.error(path, `expected ${expected}, found ${describe(raw)}`);
      continue;
    }
    const url = parseUrl(raw);
    if (!url) {
      problems.error(path, `is not a valid URL: expected ${expected}, found ${describe(raw)}`);
      continue;
    }
    out[key] = url;
    if (!isHttp(url)) {
      problems.error(path, `expected ${expected}, found the ${url.protocol} URL ${describe(raw)}`);
    } else if (https && url.protocol !== "https:") {
      problems.error(path, `must use https (${HTTPS_REASON[key]}): expected https://…, found ${describe(raw)}`);
    }
  }
  return out;
}

// ---------------------------------------------------------------- plans

/** The plans whose name is a string, with their index; undefined when `plans` is not an array. */
function checkPlans(problems: Problems, value: unknown): Array<{ index: number; name: string }> | undefined {
  if (!Array.isArray(value)) {
    problems.error("plans", `expected an array of plans ({name, display_name, price, description, options?}), found ${describe(value)}`);
    return undefined;
  }
  if (value.length === 0) {
    problems.error("plans", "should have at least one element plan: expected the plans customers can choose, found an empty array");
    return [];
  }
  const names: Array<{ index: number; name: string }> = [];
  const seen = new Map<string, number>();
  value.forEach((plan: unknown, index) => {
    const path = `plans[${index}]`;
    if (!isJsonObject(plan)) {
      problems.error(path, `expected a plan object ({name, display_name, price, description, options?}), found ${describe(plan)}`);
      return;
    }
    if (nonBlankString(problems, `${path}.name`, plan.name, "the plan's canonical name, sent by the platform as `plan`")) {
      names.push({ index, name: plan.name });
      const first = seen.get(plan.name);
      if (first !== undefined) {
        problems.error(`${path}.name`, `${describe(plan.name)} is defined twice: plan names must be unique, also at plans[${first}].name`);
      } else {
        seen.set(plan.name, index);
      }
    }
    nonBlankString(problems, `${path}.display_name`, plan.display_name, "the name customers see");
    const price: unknown = plan.price;
    if (typeof price !== "number" || !Number.isFinite(price) || price < 0) {
      problems.error(`${path}.price`, `expected a non-negative number (euros for 30 days), found ${describe(price)}`);
    }
    nonBlankString(problems, `${path}.description`, plan.description, "the plan's Markdown description");
    checkPlanOptions(problems, `${path}.options`, plan.options);
  });
  return names;
}

function checkPlanOptions(problems: Problems, path: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (!isJsonObject(value)) {
    problems.error(path, `expected an object of string values (sent as \`options\` with provision and plan change), found ${describe(value)}`);
    return;
  }
  for (const [key, option] of Object.entries(value)) {
    if (typeof option !== "string") {
      problems.error(propertyPath(path, key), `expected a string (plan options are a string → string map), found ${describe(option)}`);
    }
  }
}

// ---------------------------------------------------------------- against the installed addons

interface CheckedManifest {
  manifest: Record<string, unknown>;
  configVars: Array<{ index: number; name: string }> | undefined;
  production: Endpoints;
  test: Endpoints;
  plans: Array<{ index: number; name: string }> | undefined;
}

function checkAgainstAddons(
  problems: Problems,
  addons: ReadonlyMap<string, AddonDefinition>,
  { manifest, configVars, production, test, plans }: CheckedManifest,
): void {
  const installed = list([...addons.keys()]);
  const expectedPath = "a path ending in /<addon>/resources";
  if (!production.base_url) {
    problems.error(
      "production.base_url",
      `cannot identify the addon without a valid production.base_url (expected ${expectedPath}, <addon> one of ${installed}), so config_vars and plans were not compared with an addon's definition`,
    );
    return;
  }
  const match = /\/([^/]+)\/resources$/.exec(production.base_url.pathname.replace(/\/+$/, ""));
  const addon = match?.[1] === undefined ? undefined : addons.get(match[1]);
  if (!addon) {
    const found = match?.[1] === undefined
      ? `the path ${describe(production.base_url.pathname)}`
      : `the addon "${match[1]}", which is not installed`;
    problems.error(
      "production.base_url",
      `does not lead to an installed addon: expected ${expectedPath}, <addon> one of ${installed}; found ${found}. config_vars and plans were not compared with an addon's definition`,
    );
    return;
  }

  // The other URLs must lead to the same addon (its routes, its credentials, its salt).
  const expectedPaths = [
    ["production.sso_url", production.sso_url, `/${addon.id}/sso`],
    ["test.base_url", test.base_url, `/${addon.id}/resources`],
    ["test.sso_url", test.sso_url, `/${addon.id}/sso`],
  ] as const;
  for (const [path, url, suffix] of expectedPaths) {
    if (url && !url.pathname.replace(/\/+$/, "").endsWith(suffix)) {
      problems.error(path, `does not lead to the ${addon.id} addon (identified by production.base_url): expected a path ending in ${suffix}, found ${describe(url.pathname)}`);
    }
  }

  if (manifest.log_drain === true) {
    problems.error("log_drain", "expected false: Berth's provision responses carry no log_drain_url, found true");
  }

  if (configVars) {
    const expected = new Set(addon.configVars);
    const found = new Set(configVars.map(({ name }) => name));
    for (const { index, name } of configVars) {
      if (!expected.has(name)) {
        problems.error(`config_vars[${index}]`, `${describe(name)} is not set by the ${addon.id} addon: expected exactly ${list(addon.configVars)}`);
      }
    }
    const missing = addon.configVars.filter((name) => !found.has(name));
    if (missing.length > 0) {
      problems.error(
        "config_vars",
        `misses ${list(missing)}, set by the ${addon.id} addon (the platform refuses config vars the manifest does not list): expected exactly ${list(addon.configVars)}, found ${list([...found])}`,
      );
    }
  }

  if (plans) {
    const defined = new Set(addon.plans.map((plan) => plan.name));
    const offered = new Set(plans.map(({ name }) => name));
    for (const { index, name } of plans) {
      if (!defined.has(name)) {
        problems.error(`plans[${index}].name`, `${describe(name)} is not a plan of the ${addon.id} addon: expected one of ${list([...defined])}`);
      }
    }
    const notOffered = addon.plans.map((plan) => plan.name).filter((name) => !offered.has(name));
    if (notOffered.length > 0 && plans.length > 0) {
      problems.warn(
        "plans",
        `the ${addon.id} addon's plan${notOffered.length > 1 ? "s" : ""} ${list(notOffered)} ${notOffered.length > 1 ? "are" : "is"} not offered: customers cannot choose ${notOffered.length > 1 ? "them" : "it"}`,
      );
    }
  }
}

// ---------------------------------------------------------------- helpers

function isJsonObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function isHttp(url: URL): boolean {
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
}

function propertyPath(parent: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "(none)" : names.join(", ");
}

/** A value as a message shows it: type and, unless secret, content (shortened). */
function describe(value: unknown, { secret = false } = {}): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (typeof value === "string") {
    if (secret) return value === "" ? "an empty string" : `a string of ${value.length} characters`;
    const shown = value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}… (${value.length} characters)` : JSON.stringify(value);
    return shown;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return `${value} (not a JSON number)`;
    return secret ? "a number" : `the number ${value}`;
  }
  if (typeof value === "boolean") return `the boolean ${value}`;
  if (Array.isArray(value)) return value.length === 0 ? "an empty array" : `an array of ${value.length} element${value.length > 1 ? "s" : ""}`;
  if (isJsonObject(value)) return "an object";
  const kind = typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  return `a ${kind} value, which JSON cannot hold`;
}

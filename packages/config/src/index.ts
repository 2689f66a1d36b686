/**
 * Configuration helpers shared by the apps. Each app declares its own zod
 * schema from these pieces and parses `process.env` once, in its main.
 */
import { z } from "zod";

export { MIN_SECRET_LENGTH, REDACTED, isSecretName, redact, redactUrl, redactValue, type RedactOptions } from "./redaction.js";

export type EnvSource = Readonly<Record<string, string | undefined>>;

export const redisUrl = z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" });
export const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgresql:// URL" });
export const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" });
export const port = z.coerce.number().int().min(0).max(65_535);

/** What every Berth process needs: the queue, the control plane, a log level. Apps `.extend()` it. */
export const serviceEnvSchema = z.object({
  BERTH_REDIS_URL: redisUrl,
  BERTH_DATABASE_URL: postgresUrl,
  BERTH_QUEUE_PREFIX: z.string().min(1).default("berth"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The public base URL of Berth's API, e.g. https://berth.example.com: manifests and dashboard links are built on it. */
export const publicUrl = httpUrl.transform((value) => value.replace(/\/+$/, "")).default("http://127.0.0.1:4000");

/** 32 bytes, base64 encoded (e.g. `openssl rand -base64 32`). */
export const encryptionKey = z
  .string()
  .transform((value) => Buffer.from(value, "base64"))
  .refine((key) => key.length === 32, "must be 32 bytes encoded in base64 (openssl rand -base64 32)");

/** A comma-separated list of base64 keys, e.g. the keys replaced by a rotation. */
export const encryptionKeyList = z
  .string()
  .default("")
  .transform((value) => value.split(",").map((part) => part.trim()).filter(Boolean))
  .pipe(z.array(encryptionKey));

/** "20000-29999" → { first, last }. */
export const portRange = z
  .string()
  .regex(/^\d+-\d+$/, "must look like 20000-29999")
  .transform((value) => {
    const [first, last] = value.split("-").map(Number) as [number, number];
    return { first, last };
  })
  .refine(({ first, last }) => first >= 1024 && last <= 65_535 && first <= last, "must be within 1024-65535, low-high");

/** The per-addon settings read from the environment. */
export type AddonEnvSetting = "USERNAME" | "PASSWORD" | "SSO_SALT" | "LOGO_URL" | "IMAGE";

/**
 * The one naming rule of an addon's environment variables: the id upper-cased, `-` as `_`
 * (`postgresql` → `BERTH_ADDON_POSTGRESQL_`, `my-engine` → `BERTH_ADDON_MY_ENGINE_`). Shell scripts
 * do not derive it: they read it from the registry's `list` (packages/addons/src/cli.ts, docker/lib/addons.sh).
 */
export function addonEnvPrefix(addonId: string): string {
  return `BERTH_ADDON_${addonId.toUpperCase().replaceAll("-", "_")}_`;
}

/** One of an addon's environment variables: `addonEnvName("my-engine", "USERNAME")` → `BERTH_ADDON_MY_ENGINE_USERNAME`. */
export function addonEnvName(addonId: string, setting: AddonEnvSetting): string {
  return `${addonEnvPrefix(addonId)}${setting}`;
}

export interface AddonCredentialsConfig {
  username: string;
  password: string;
}

/** Each installed addon's manifest credentials (platform → provider Basic auth, and back). */
export function readAddonCredentials(
  env: EnvSource,
  addonIds: Iterable<string>,
  issues: string[],
): Map<string, AddonCredentialsConfig> {
  const out = new Map<string, AddonCredentialsConfig>();
  for (const id of addonIds) {
    const [usernameName, passwordName] = [addonEnvName(id, "USERNAME"), addonEnvName(id, "PASSWORD")];
    const username = env[usernameName];
    const password = env[passwordName];
    if (!username) issues.push(`${usernameName} is required (the manifest username of the ${id} addon)`);
    if (!password) issues.push(`${passwordName} is required (the manifest password of the ${id} addon)`);
    else if (password.length < 16) issues.push(`${passwordName} must be at least 16 characters`);
    if (username && password) out.set(id, { username, password });
  }
  return out;
}

/** Each installed addon's manifest `sso_salt`: the platform signs single sign-on tokens with it. */
export function readAddonSsoSalts(env: EnvSource, addonIds: Iterable<string>, issues: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const id of addonIds) {
    const name = addonEnvName(id, "SSO_SALT");
    const salt = env[name];
    if (!salt) issues.push(`${name} is required (the manifest sso_salt of the ${id} addon)`);
    else if (salt.length < 16) issues.push(`${name} must be at least 16 characters`);
    else out.set(id, salt);
  }
  return out;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n  - ${issues.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Parses `env` with `schema`, turning every zod issue into one readable line naming the variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: EnvSource, issues: string[] = []): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return result.data as z.infer<S>;
}
export * from "./addon-selection.js";

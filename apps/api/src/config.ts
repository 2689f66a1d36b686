import type { AddonDefinition } from "@berth/addon-sdk";
import { backupBackendFromEnv, backupStoreEnvSchema, type BackupBackendConfig } from "@berth/backup-store";
import {
  encryptionKey,
  encryptionKeyList,
  parseEnv,
  port,
  publicUrl,
  readAddonCredentials,
  readAddonSsoSalts,
  selectAddons,
  serviceEnvSchema,
  type AddonCredentialsConfig,
  type EnvSource,
} from "@berth/config";
import { z } from "zod";

/** `NAME=` counts as unset, as it does for the images and the other optional settings. */
function unsetIfEmpty<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === "" ? undefined : value), schema);
}

const apiEnvSchema = serviceEnvSchema.extend({
  BERTH_API_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_API_PORT: port.default(4000),
  BERTH_PUBLIC_URL: publicUrl,
  BERTH_ENCRYPTION_KEY: encryptionKey,
  BERTH_ENCRYPTION_PREVIOUS_KEYS: encryptionKeyList,
  BERTH_SSO_MAX_AGE_SECONDS: z.coerce.number().int().min(10).max(86_400).default(300),
  BERTH_SSO_FUTURE_SKEW_SECONDS: z.coerce.number().int().min(0).max(3_600).default(60),
  BERTH_PLATFORM_APP_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, "must be an http(s) URL, {app_id} is replaced by the app's id")
    .default("https://dashboard.scalingo.com/apps/osc-fr1/{app_id}"),
  // The operator console's own credentials, never an addon's: both set, or neither (console off).
  BERTH_ADMIN_USERNAME: unsetIfEmpty(z.string().regex(/^[^:]+$/, "must contain no ':'").optional()),
  BERTH_ADMIN_PASSWORD: unsetIfEmpty(z.string().min(16, "must be at least 16 characters").optional()),
  BERTH_ADMIN_READ_ONLY: z.stringbool({ error: "must be true or false" }).default(false),
  ...backupStoreEnvSchema.shape,
});

/** `BERTH_ADMIN_USERNAME` and `BERTH_ADMIN_PASSWORD` go together. */
function readAdminConsole(env: EnvSource, issues: string[]): void {
  const username = env.BERTH_ADMIN_USERNAME;
  const password = env.BERTH_ADMIN_PASSWORD;
  if (username && !password) issues.push("BERTH_ADMIN_PASSWORD is required when BERTH_ADMIN_USERNAME is set (the operator console's password)");
  if (password && !username) issues.push("BERTH_ADMIN_USERNAME is required when BERTH_ADMIN_PASSWORD is set (the operator console's user)");
}

interface AdminConsoleConfig {
  username: string;
  password: string;
  /** Operators may look but not act: bull-board hides its buttons and the API refuses every change. */
  readOnly: boolean;
}

export interface ApiConfig {
  redisUrl: string;
  databaseUrl: string;
  queuePrefix: string;
  host: string;
  port: number;
  logLevel: string;
  /** The enabled addons (`BERTH_ADDONS`, by default those whose credentials are configured); the API serves these only. */
  enabledAddons: ReadonlyMap<string, AddonDefinition>;
  /** Installed addons left off, with the reason: logged at start. */
  addonsLeftOff: readonly { id: string; reason: string }[];
  /** Each addon's manifest credentials: the platform authenticates with them. */
  addonCredentials: Map<string, AddonCredentialsConfig>;
  /** Each addon's manifest sso_salt. */
  ssoSalts: Map<string, string>;
  publicUrl: string;
  encryptionKey: Buffer;
  previousEncryptionKeys: Buffer[];
  sso: { maxAgeSeconds: number; futureSkewSeconds: number };
  /** Link back to the app on the platform; `{app_id}` is replaced. */
  platformAppUrl: string;
  /** The operator console (`/admin`); undefined when no operator credentials are configured: it is off. */
  admin: AdminConsoleConfig | undefined;
  /** Where backups are stored (downloads are streamed from there). */
  backups: BackupBackendConfig;
}

export function loadApiConfig(env: EnvSource, addons: ReadonlyMap<string, AddonDefinition>): ApiConfig {
  const issues: string[] = [];
  const selection = selectAddons(env, addons, issues);
  const addonCredentials = readAddonCredentials(env, selection.enabled.keys(), issues);
  const ssoSalts = readAddonSsoSalts(env, selection.enabled.keys(), issues);
  readAdminConsole(env, issues);
  const parsed = parseEnv(apiEnvSchema, env, issues);
  return {
    redisUrl: parsed.BERTH_REDIS_URL,
    databaseUrl: parsed.BERTH_DATABASE_URL,
    queuePrefix: parsed.BERTH_QUEUE_PREFIX,
    host: parsed.BERTH_API_HOST,
    port: parsed.BERTH_API_PORT,
    logLevel: parsed.LOG_LEVEL,
    enabledAddons: selection.enabled,
    addonsLeftOff: selection.leftOff,
    addonCredentials,
    ssoSalts,
    publicUrl: parsed.BERTH_PUBLIC_URL,
    encryptionKey: parsed.BERTH_ENCRYPTION_KEY,
    previousEncryptionKeys: parsed.BERTH_ENCRYPTION_PREVIOUS_KEYS,
    sso: { maxAgeSeconds: parsed.BERTH_SSO_MAX_AGE_SECONDS, futureSkewSeconds: parsed.BERTH_SSO_FUTURE_SKEW_SECONDS },
    platformAppUrl: parsed.BERTH_PLATFORM_APP_URL,
    admin:
      parsed.BERTH_ADMIN_USERNAME && parsed.BERTH_ADMIN_PASSWORD
        ? { username: parsed.BERTH_ADMIN_USERNAME, password: parsed.BERTH_ADMIN_PASSWORD, readOnly: parsed.BERTH_ADMIN_READ_ONLY }
        : undefined,
    backups: backupBackendFromEnv(parsed),
  };
}

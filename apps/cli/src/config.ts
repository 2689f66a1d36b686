/**
 * The CLI reads the same environment as the apps, with the same helpers, but
 * each command asks only for the part it needs: `berth manifest print redis`
 * must not require the database URL, nor the PostgreSQL addon's secrets.
 * Each part is validated once, on first use, and a problem throws a
 * `ConfigError` that names every variable at fault.
 */
import { backupBackendFromEnv, backupStoreEnvSchema, type BackupStoreConfig } from "@berth/backup-store";
import {
  addonEnvName,
  encryptionKey,
  encryptionKeyList,
  httpUrl,
  parseEnv,
  publicUrl,
  readAddonCredentials,
  readAddonSsoSalts,
  serviceEnvSchema,
  type EnvSource,
} from "@berth/config";
import type { ManifestDeployment } from "@berth/manifest";
import { z } from "zod";

/** What `berth manifest print <addon>` needs: the deployment settings `buildManifest` takes (env names in the README). */
type ManifestSettings = ManifestDeployment;

/** Where the job queues are, as the apps have them: `BERTH_REDIS_URL` and `BERTH_QUEUE_PREFIX` (default berth). */
interface QueueSettings {
  redisUrl: string;
  prefix: string;
}

export interface CliConfig {
  /** The environment the configuration is read from (process environment over `--load-env`). */
  readonly env: EnvSource;
  manifest(addonId: string): ManifestSettings;
  /** `BERTH_DATABASE_URL`: the control plane. */
  databaseUrl(): string;
  queues(): QueueSettings;
  /** Where backups are and the keys that open them, as the API and the worker read them (`BERTH_BACKUP_*`, `BERTH_ENCRYPTION_*`). */
  backupStore(): BackupStoreConfig;
}

const trimmedHttpUrl = httpUrl.transform((value) => value.replace(/\/+$/, ""));

const publicUrlsSchema = z.object({
  BERTH_PUBLIC_URL: publicUrl,
  BERTH_TEST_PUBLIC_URL: trimmedHttpUrl.optional(),
});

const databaseSchema = serviceEnvSchema.pick({ BERTH_DATABASE_URL: true });
const queuesSchema = serviceEnvSchema.pick({ BERTH_REDIS_URL: true, BERTH_QUEUE_PREFIX: true });
const backupStoreSchema = backupStoreEnvSchema.extend({
  BERTH_ENCRYPTION_KEY: encryptionKey,
  BERTH_ENCRYPTION_PREVIOUS_KEYS: encryptionKeyList,
});

export function createCliConfig(env: EnvSource): CliConfig {
  const manifests = new Map<string, ManifestSettings>();
  let databaseUrl: string | undefined;
  let queues: QueueSettings | undefined;
  let backupStore: BackupStoreConfig | undefined;
  return {
    env,
    manifest(addonId) {
      let settings = manifests.get(addonId);
      if (!settings) {
        settings = readManifestSettings(env, addonId);
        manifests.set(addonId, settings);
      }
      return settings;
    },
    databaseUrl() {
      return (databaseUrl ??= parseEnv(databaseSchema, env).BERTH_DATABASE_URL);
    },
    queues() {
      if (!queues) {
        const parsed = parseEnv(queuesSchema, env);
        queues = { redisUrl: parsed.BERTH_REDIS_URL, prefix: parsed.BERTH_QUEUE_PREFIX };
      }
      return queues;
    },
    backupStore() {
      if (!backupStore) {
        const parsed = parseEnv(backupStoreSchema, env);
        backupStore = {
          backend: backupBackendFromEnv(parsed),
          encryptionKey: parsed.BERTH_ENCRYPTION_KEY,
          previousEncryptionKeys: parsed.BERTH_ENCRYPTION_PREVIOUS_KEYS,
        };
      }
      return backupStore;
    },
  };
}

function readManifestSettings(env: EnvSource, addonId: string): ManifestSettings {
  const issues: string[] = [];
  const credentials = readAddonCredentials(env, [addonId], issues).get(addonId);
  const ssoSalt = readAddonSsoSalts(env, [addonId], issues).get(addonId);
  const logoVariable = addonEnvName(addonId, "LOGO_URL");
  const schema = publicUrlsSchema.extend({ [logoVariable]: httpUrl.optional() });
  const parsed = parseEnv(schema, env, issues) as z.infer<typeof publicUrlsSchema> & Record<string, string | undefined>;
  // parseEnv throws when any issue was found: from here on everything is present.
  return {
    publicUrl: parsed.BERTH_PUBLIC_URL,
    ...(parsed.BERTH_TEST_PUBLIC_URL === undefined ? {} : { testPublicUrl: parsed.BERTH_TEST_PUBLIC_URL }),
    username: credentials!.username,
    password: credentials!.password,
    ssoSalt: ssoSalt!,
    ...(parsed[logoVariable] === undefined ? {} : { logoUrl: parsed[logoVariable] }),
  };
}

import type { AddonDefinition } from "@berth/addon-sdk";
import {
  parseEnv,
  port,
  readAddonCredentials,
  serviceEnvSchema,
  type AddonCredentialsConfig,
  type EnvSource,
} from "@berth/config";
import { z } from "zod";

export const apiEnvSchema = serviceEnvSchema.extend({
  BERTH_API_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_API_PORT: port.default(4000),
});

export interface ApiConfig {
  redisUrl: string;
  databaseUrl: string;
  queuePrefix: string;
  host: string;
  port: number;
  logLevel: string;
  /** Each addon's manifest credentials: the platform authenticates with them. */
  addonCredentials: Map<string, AddonCredentialsConfig>;
}

export function loadApiConfig(env: EnvSource, addons: ReadonlyMap<string, AddonDefinition>): ApiConfig {
  const issues: string[] = [];
  const addonCredentials = readAddonCredentials(env, addons.keys(), issues);
  const parsed = parseEnv(apiEnvSchema, env, issues);
  return {
    redisUrl: parsed.BERTH_REDIS_URL,
    databaseUrl: parsed.BERTH_DATABASE_URL,
    queuePrefix: parsed.BERTH_QUEUE_PREFIX,
    host: parsed.BERTH_API_HOST,
    port: parsed.BERTH_API_PORT,
    logLevel: parsed.LOG_LEVEL,
    addonCredentials,
  };
}

import { addonEnvName } from "@berth/config";

/** One addon's manifest secrets as the apps read them (`BERTH_ADDON_<ID>_USERNAME`, `_PASSWORD`, `_SSO_SALT`), by the one naming rule. */
export function addonSecretsEnv(addonId: string, secrets: { username: string; password: string; ssoSalt: string }): Record<string, string> {
  return {
    [addonEnvName(addonId, "USERNAME")]: secrets.username,
    [addonEnvName(addonId, "PASSWORD")]: secrets.password,
    [addonEnvName(addonId, "SSO_SALT")]: secrets.ssoSalt,
  };
}

import type { AddonDefinition, AddonPlan } from "@berth/addon-sdk";
import type { Manifest, ManifestPlan } from "@berth/protocol";

/** What the manifest takes from the deployment rather than from the addon's definition. */
export interface ManifestDeployment {
  /** Public base URL of Berth's API, e.g. `https://berth.example.com` (a trailing `/` is ignored). */
  publicUrl: string;
  /** Base URL of the instance the platform's tests use (manifest `test.*`); defaults to `publicUrl`. */
  testPublicUrl?: string;
  /** The addon's Basic-auth credentials (`BERTH_ADDON_<ID>_USERNAME` / `_PASSWORD`). */
  username: string;
  password: string;
  /** The addon's single sign-on salt (`BERTH_ADDON_<ID>_SSO_SALT`). */
  ssoSalt: string;
  /** Defaults to `<publicUrl>/assets/<addon id>.svg`. */
  logoUrl?: string;
}

/** `<base>/<addon id>/resources`: where Berth serves the addon's provider endpoints. */
export function addonBaseUrl(base: string, addonId: string): string {
  return `${trimSlashes(base)}/${addonId}/resources`;
}

/** `<base>/<addon id>/sso`: where Berth serves the addon's single sign-on. */
export function addonSsoUrl(base: string, addonId: string): string {
  return `${trimSlashes(base)}/${addonId}/sso`;
}

/** The manifest of one addon of this deployment, as sent to the platform (spec §3). */
export function buildManifest(addon: AddonDefinition, deployment: ManifestDeployment): Manifest {
  const publicUrl = trimSlashes(deployment.publicUrl);
  const testPublicUrl = trimSlashes(deployment.testPublicUrl ?? publicUrl);
  return {
    name: addon.name,
    username: deployment.username,
    password: deployment.password,
    sso_salt: deployment.ssoSalt,
    logo_url: deployment.logoUrl ?? `${publicUrl}/assets/${addon.id}.svg`,
    short_description: addon.shortDescription,
    description: addon.description,
    // Berth's provision responses carry no log_drain_url.
    log_drain: false,
    config_vars: [...addon.configVars],
    production: { base_url: addonBaseUrl(publicUrl, addon.id), sso_url: addonSsoUrl(publicUrl, addon.id) },
    test: { base_url: addonBaseUrl(testPublicUrl, addon.id), sso_url: addonSsoUrl(testPublicUrl, addon.id) },
    plans: addon.plans.map(manifestPlan),
  };
}

/**
 * A plan's engine settings become its `options` (spec §3.2: string → string).
 * They document what the plan fixes; the platform forwards them verbatim with
 * provision and plan change, and Berth ignores them there: the plan name alone
 * decides the settings.
 */
function manifestPlan(plan: AddonPlan): ManifestPlan {
  const entry: ManifestPlan = {
    name: plan.name,
    display_name: plan.displayName,
    price: plan.price,
    description: plan.description,
  };
  const settings = Object.entries(plan.settings);
  if (settings.length > 0) entry.options = Object.fromEntries(settings.map(([key, value]) => [key, String(value)]));
  return entry;
}

function trimSlashes(url: string): string {
  return url.replace(/\/+$/, "");
}

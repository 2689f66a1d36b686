/**
 * Installing an addon (the registry, packages/addons) is not enabling it: `BERTH_ADDONS` names the
 * enabled ones; by default every installed addon whose manifest credentials are configured is, so
 * a newly installed engine does not stop a deployment from starting until its secrets are set.
 */
import { addonEnvPrefix, type EnvSource } from "./index.js";

export interface AddonSelection<A> {
  /** The enabled addons, in the registry's order. */
  readonly enabled: ReadonlyMap<string, A>;
  /** The installed addons left off, each with the reason (the apps log one line for each). */
  readonly leftOff: readonly { readonly id: string; readonly reason: string }[];
}

/** The manifest variables of an addon: any of them set means "configured" (the rest is then required). */
const MANIFEST_VARIABLES = ["USERNAME", "PASSWORD", "SSO_SALT"] as const;

export function selectAddons<A>(env: EnvSource, installed: ReadonlyMap<string, A>, issues: string[]): AddonSelection<A> {
  const listed = (env.BERTH_ADDONS ?? "").split(",").map((id) => id.trim()).filter(Boolean);
  const enabled = new Map<string, A>();
  const leftOff: { id: string; reason: string }[] = [];
  if (listed.length > 0) {
    for (const id of listed) {
      if (!installed.has(id)) issues.push(`BERTH_ADDONS: "${id}" is not an installed addon (installed: ${[...installed.keys()].join(", ")})`);
    }
    for (const [id, addon] of installed) {
      if (listed.includes(id)) enabled.set(id, addon);
      else leftOff.push({ id, reason: "not listed in BERTH_ADDONS" });
    }
    return { enabled, leftOff };
  }
  for (const [id, addon] of installed) {
    const prefix = addonEnvPrefix(id);
    if (MANIFEST_VARIABLES.some((name) => env[`${prefix}${name}`])) enabled.set(id, addon);
    else leftOff.push({ id, reason: `its manifest credentials are not configured (${MANIFEST_VARIABLES.map((name) => prefix + name).join(", ")})` });
  }
  if (enabled.size === 0) {
    issues.push(
      `no addon is enabled: configure the manifest credentials (BERTH_ADDON_<ID>_USERNAME, _PASSWORD, _SSO_SALT) of at least one of ${[...installed.keys()].join(", ")}, or name them in BERTH_ADDONS`,
    );
  }
  return { enabled, leftOff };
}

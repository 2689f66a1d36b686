import { isAbsolute } from "node:path";
import { ENV_VAR_NAME_PATTERN } from "@berth/protocol";
import type { AddonCredentials, AddonDefinition } from "./addon-definition.js";

const LOCAL_IMAGE_TAG_PATTERN = /^berth-local\/[a-z0-9][a-z0-9._-]*:[A-Za-z0-9._-]+$/;
const ADDON_ID_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;
const BACKUP_FORMAT_PATTERN = /^[a-z0-9]{1,12}$/;
/** The smallest disk a plan may have (the tests' tiny plans use it). */
export const MIN_DISK_MB = 32;

/**
 * Checks an addon definition once, when its package is loaded, so a broken
 * definition fails at start-up with a message instead of at the first request.
 */
export function defineAddon<C extends AddonCredentials>(addon: AddonDefinition<C>): AddonDefinition<C> {
  const problems: string[] = [];
  if (!ADDON_ID_PATTERN.test(addon.id)) problems.push(`id "${addon.id}" must match ${ADDON_ID_PATTERN}`);
  if (addon.configVars.length === 0) problems.push("configVars must list at least one variable");
  for (const name of addon.configVars) {
    if (!ENV_VAR_NAME_PATTERN.test(name)) problems.push(`config var "${name}" is not a valid environment variable name`);
  }
  if (!addon.configVars.includes(addon.urlConfigVar)) problems.push(`urlConfigVar "${addon.urlConfigVar}" must be one of configVars`);
  if (addon.localImage) {
    if (!LOCAL_IMAGE_TAG_PATTERN.test(addon.localImage.tag)) problems.push(`localImage.tag "${addon.localImage.tag}" must match ${LOCAL_IMAGE_TAG_PATTERN}`);
    if (!isAbsolute(addon.localImage.recipe)) problems.push(`localImage.recipe "${addon.localImage.recipe}" must be an absolute path`);
  }
  if (addon.plans.length === 0) problems.push("plans must list at least one plan");
  const seen = new Set<string>();
  for (const plan of addon.plans) {
    if (seen.has(plan.name)) problems.push(`plan "${plan.name}" is defined twice`);
    seen.add(plan.name);
    if (plan.limits.memoryMb <= 0 || plan.limits.cpus <= 0 || plan.limits.pids <= 0) {
      problems.push(`plan "${plan.name}" must have positive memory, CPU and pids limits`);
    }
    // A filesystem smaller than this has hardly room for an engine's own files (ext4's journal, WAL).
    if (!Number.isInteger(plan.limits.diskMb) || plan.limits.diskMb < MIN_DISK_MB) {
      problems.push(`plan "${plan.name}" must have a disk (limits.diskMb) of a whole number of MiB, at least ${MIN_DISK_MB}`);
    }
  }
  if (addon.readyTimeoutMs <= 0) problems.push("readyTimeoutMs must be positive");
  if (addon.backup) {
    if (!BACKUP_FORMAT_PATTERN.test(addon.backup.format)) problems.push(`backup.format "${addon.backup.format}" must match ${BACKUP_FORMAT_PATTERN} (it is a file extension)`);
    const { restore } = addon.backup;
    if (restore.kind === "file" && !isInsideVolume(restore.path)) {
      problems.push(`backup.restore.path "${restore.path}" must be a relative path inside the volume (no "..", not absolute)`);
    }
  }
  if (problems.length > 0) throw new Error(`Addon "${addon.id}" is invalid:\n  - ${problems.join("\n  - ")}`);
  return Object.freeze(addon);
}

/** A path relative to a volume's root that stays inside it. */
function isInsideVolume(path: string): boolean {
  return path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

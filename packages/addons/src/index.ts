import type { AddonDefinition } from "@berth/addon-sdk";
import { postgresqlAddon } from "@berth/addon-postgresql";

/** The installed addons. Adding an engine is one line here. */
const installed: readonly AddonDefinition[] = [postgresqlAddon];

export const addons: ReadonlyMap<string, AddonDefinition> = new Map(installed.map((addon) => [addon.id, addon]));

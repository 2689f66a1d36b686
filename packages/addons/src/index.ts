import type { AddonDefinition } from "@berth/addon-sdk";
import { influxdbAddon } from "@berth/addon-influxdb";
import { mysqlAddon } from "@berth/addon-mysql";
import { postgresqlAddon } from "@berth/addon-postgresql";
import { redisAddon } from "@berth/addon-redis";

/** The installed addons. Adding an engine is one line here. */
const installed: readonly AddonDefinition[] = [postgresqlAddon, mysqlAddon, redisAddon, influxdbAddon];

export const addons: ReadonlyMap<string, AddonDefinition> = new Map(installed.map((addon) => [addon.id, addon]));

import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { addons } from "@berth/addons";

/**
 * Each installed addon's test client, by addon id: the contract suite checks databases through
 * them. Derived from the registry: each addon's definition loads its own (`testClient`), from its
 * package's `./testing` entry, which production never loads.
 */
export const engineTestClients: Readonly<Record<string, EngineTestClient>> = Object.fromEntries(
  await Promise.all(
    [...addons.values()].flatMap((addon) => (addon.testClient ? [addon.testClient().then((client) => [addon.id, client] as const)] : [])),
  ),
);

import { addons } from "@berth/addons";
import { describe, expect, it } from "vitest";
import { runAddonContract } from "../src/addon-contract.js";
import { engineTestClients } from "../src/engine-clients.js";

describe("installed addons", () => {
  it("each have an engine test client, so none escapes the contract", () => {
    expect(Object.keys(engineTestClients).sort()).toEqual([...addons.keys()].sort());
  });
});

for (const addon of addons.values()) {
  const engine = engineTestClients[addon.id];
  if (engine) runAddonContract(addon, engine);
}

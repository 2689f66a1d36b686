import { describe, expect, it } from "vitest";
import type { AddonBackup, AddonDefinition } from "../src/addon-definition.js";
import { defineAddon } from "../src/define-addon.js";

/** The smallest definition defineAddon accepts, with this backup. */
function withBackup(backup: AddonBackup): AddonDefinition {
  return {
    id: "kv",
    name: "KV",
    shortDescription: "",
    description: "",
    configVars: ["KV_URL"],
    urlConfigVar: "KV_URL",
    defaultImage: "kv:1",
    plans: [{ name: "kv-small", displayName: "Small", price: 0, description: "", limits: { memoryMb: 64, cpus: 0.5, pids: 32, diskMb: 64 }, settings: {} }],
    readyTimeoutMs: 1_000,
    generateCredentials: () => ({}),
    containerSpec: () => {
      throw new Error("not called");
    },
    connectionConfig: () => ({}),
    probe: async () => undefined,
    connections: async () => 0,
    backup,
  };
}

const dump = () => ({ command: ["kv-dump"] });

describe("defineAddon: backups", () => {
  it("accepts a dump format that is a file extension, and a file inside the volume", () => {
    expect(defineAddon(withBackup({ format: "rdb", dump, restore: { kind: "file", path: "restore/dump.rdb" } })).backup?.format).toBe("rdb");
    expect(defineAddon(withBackup({ format: "pgdump", dump, restore: { kind: "load", load: () => ({ command: ["kv-load"] }) } })).backup?.restore.kind).toBe("load");
  });

  it("refuses a format that is not a plain extension, and a file path that leaves the volume", () => {
    expect(() => defineAddon(withBackup({ format: "tar.gz", dump, restore: { kind: "load", load: dump } }))).toThrow(/backup\.format "tar\.gz" must match/);
    for (const path of ["/data/dump.rdb", "../dump.rdb", "a/../../dump.rdb", "", "a//b", "./dump.rdb"]) {
      expect(() => defineAddon(withBackup({ format: "rdb", dump, restore: { kind: "file", path } })), path).toThrow(/backup\.restore\.path .* must be a relative path inside the volume/);
    }
  });
});

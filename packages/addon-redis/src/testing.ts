import { expectRefusal, type EngineTestClient } from "@berth/addon-sdk/testing";
import { Redis } from "ioredis";

export const redisTestClient: EngineTestClient = {
  async connect(url) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on("error", () => undefined); // failures reach the caller through the commands
    try {
      await client.connect();
      await client.ping();
    } catch (error) {
      client.disconnect();
      throw error;
    }
    return {
      write: async (key, value) => {
        await client.set(`contract:${key}`, value);
      },
      read: async (key) => (await client.get(`contract:${key}`)) ?? undefined,
      // As an app sees them: CONFIG is closed to the app's user, INFO is not.
      setting: async (name) => {
        const field = INFO_FIELDS[name];
        if (!field) throw new Error(`no INFO field for the setting ${name}`);
        const value = new RegExp(`^${field}:(.*)$`, "m").exec(await client.info())?.[1]?.trim();
        if (value === undefined) throw new Error(`INFO does not report ${field}`);
        return name === "appendonly" ? (value === "1" ? "yes" : "no") : value;
      },
      close: async () => {
        client.disconnect();
      },
    };
  },
  expectedSettings: (plan) => ({
    maxmemory: String(Number(plan.settings.maxmemory_mb) * 1024 * 1024),
    "maxmemory-policy": "noeviction",
    maxclients: String(plan.settings.maxclients),
    appendonly: "yes",
  }),
  attacks: Object.fromEntries(
    (
      [
        ["REPLICAOF copies the data of another server (Berth's queue)", ["replicaof", "127.0.0.1", "6390"]],
        ["SLAVEOF", ["slaveof", "127.0.0.1", "6390"]],
        ["CONFIG SET dir (write files anywhere)", ["config", "set", "dir", "/tmp"]],
        ["CONFIG SET requirepass", ["config", "set", "requirepass", "x"]],
        ["MODULE LOAD runs code", ["module", "load", "/tmp/berth-attack.so"]],
        ["DEBUG", ["debug", "sleep", "0"]],
        ["SAVE", ["save"]],
        ["BGSAVE", ["bgsave"]],
        ["BGREWRITEAOF", ["bgrewriteaof"]],
        ["MIGRATE sends keys to another server", ["migrate", "127.0.0.1", "6390", "k", "0", "1000"]],
        ["ACL SETUSER", ["acl", "setuser", "intruder", "on", ">intruder-password", "+@all"]],
        ["SHUTDOWN", ["shutdown", "nosave"]],
        ["MONITOR", ["monitor"]],
      ] as const
    ).map(([name, command]) => [name, (url: string) => refused(url, command)]),
  ),
};

const INFO_FIELDS: Readonly<Record<string, string>> = {
  maxmemory: "maxmemory",
  "maxmemory-policy": "maxmemory_policy",
  maxclients: "maxclients",
  appendonly: "aof_enabled",
};

/** NOPERM (the ACL), or the server's own refusal of DEBUG/MODULE from any client. */
function refused(url: string, [command, ...args]: readonly string[]): Promise<string> {
  return expectRefusal(
    async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on("error", () => undefined);
      try {
        await client.connect();
        return await client.call(command!, ...args);
      } finally {
        client.disconnect();
      }
    },
    (error) => /^NOPERM |^ERR (DEBUG|MODULE) command not allowed/.test((error as Error).message),
  );
}

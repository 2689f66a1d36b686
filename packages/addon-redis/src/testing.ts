import type { EngineTestClient } from "@berth/addon-sdk/testing";
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
      setting: async (name) => {
        const [, value] = (await client.config("GET", name)) as [string, string];
        return value;
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
};

import { containerLimits, defineAddon, generatePassword, type Endpoint } from "@berth/addon-sdk";
import { Redis } from "ioredis";
import { redisPlans } from "./plans.js";

export interface RedisCredentials extends Record<string, string> {
  password: string;
}

/**
 * A database, not a cache: when full, writes fail (`noeviction`) rather than
 * silently dropping keys. Apps that want a cache can set another policy with
 * CONFIG SET.
 */
export const REDIS_EVICTION_POLICY = "noeviction";

export function redisUrl({ host, port, credentials }: Endpoint<RedisCredentials>): string {
  return `redis://:${encodeURIComponent(credentials.password)}@${host}:${port}`;
}

export const redisAddon = defineAddon<RedisCredentials>({
  id: "redis",
  name: "Redis",
  shortDescription: "Managed Redis 7 with persistence, each in its own container.",
  description:
    "A dedicated Redis 7 server per addon with a password, a memory limit from the plan, " +
    "append-only persistence on its own volume, and CPU limits. Plans change without losing data.",
  configVars: ["SCALINGO_REDIS_URL"],
  defaultImage: "redis:7",
  plans: redisPlans,
  readyTimeoutMs: 30_000,

  generateCredentials: () => ({ password: generatePassword() }),

  // The official image runs `redis-server` with these arguments in /data.
  // Redis replaces its process title, so the password does not show in `ps`.
  containerSpec: ({ plan, credentials, image, port, bindAddress }) => ({
    image,
    command: [
      "redis-server",
      "--port", String(port),
      "--bind", bindAddress,
      "--requirepass", credentials.password,
      "--maxmemory", `${plan.settings.maxmemory_mb}mb`,
      "--maxmemory-policy", REDIS_EVICTION_POLICY,
      "--maxclients", String(plan.settings.maxclients),
      "--appendonly", "yes",
      "--appendfsync", "everysec",
      "--dir", "/data",
    ],
    env: {},
    dataPath: "/data",
    socketPath: "/data/redis.sock",
    ...containerLimits(plan),
    stopTimeoutSeconds: 30,
  }),

  connectionConfig: (endpoint) => ({ SCALINGO_REDIS_URL: redisUrl(endpoint) }),

  // Redis answers LOADING while it replays the AOF after a restart: not ready yet.
  probe: (endpoint, signal) => withSession(endpoint, signal, async (client) => void (await client.ping())),

  connections: (endpoint, signal) =>
    withSession(endpoint, signal, async (client) => {
      const connected = /^connected_clients:(\d+)/m.exec(await client.info("clients"))?.[1];
      if (connected === undefined) throw new Error("INFO clients did not report connected_clients");
      return Number(connected) - 1; // minus this session
    }),
});

/** One short authenticated session, without retries or an offline queue; an abort ends it. */
async function withSession<T>(endpoint: Endpoint<RedisCredentials>, signal: AbortSignal, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(redisUrl(endpoint), {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined); // failures reach us through connect() and the commands
  const abort = () => client.disconnect();
  signal.addEventListener("abort", abort, { once: true });
  try {
    await client.connect();
    return await use(client);
  } finally {
    signal.removeEventListener("abort", abort);
    client.disconnect();
  }
}

import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { containerLimits, defineAddon, generatePassword, withEngineSession, type Endpoint } from "@berth/addon-sdk";
import { Redis } from "ioredis";
import { redisPlans } from "./plans.js";

export interface RedisCredentials extends Record<string, string> {
  /** The `default` user's: the app's. */
  password: string;
  /** The `berth` ACL user's: Berth's own administrator, never handed to the app. */
  adminPassword: string;
}

/**
 * A database, not a cache: when full, writes fail (`noeviction`) rather than
 * silently dropping keys.
 */
export const REDIS_EVICTION_POLICY = "noeviction";

const DATA_PATH = "/data";
/** The official images run Redis as uid/gid 999. */
const REDIS_UID = 999;

/**
 * What the app's user may run: everything on its own keyspace, but nothing that reaches past it —
 * no `@admin` (CONFIG, MODULE, DEBUG, SAVE/BGSAVE/BGREWRITEAOF, REPLICAOF/SLAVEOF, SHUTDOWN,
 * MONITOR, ACL changes, FAILOVER, …) and no `@dangerous` (MIGRATE, RESTORE, SYNC/PSYNC, …), except
 * the few dangerous-flagged commands that stay inside the database and that common clients and
 * job queues use (INFO, KEYS, SORT, FLUSHDB/FLUSHALL, SWAPDB, naming and listing its own clients).
 */
export const REDIS_APP_PERMISSIONS =
  "~* &* +@all -@admin -@dangerous +info +keys +sort +sort_ro +flushdb +flushall +swapdb +role " +
  "+client|setname +client|getname +client|id +client|info +client|list +client|kill";

/**
 * The ACL file: SHA-256 hashes of the passwords, not the passwords. It lives on the volume (ACL
 * users survive restarts) and Berth writes it again whenever it creates the container.
 */
function aclFile({ password, adminPassword }: RedisCredentials): string {
  return `user default on sanitize-payload #${sha256(password)} ${REDIS_APP_PERMISSIONS}
user berth on #${sha256(adminPassword)} ~* &* +@all
`;
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** `default` spelled out: redis-cli 7.0 sends an empty user for `redis://:password@`, and is refused. */
export function redisUrl({ host, port, credentials }: Endpoint<RedisCredentials>): string {
  return `redis://default:${encodeURIComponent(credentials.password)}@${host}:${port}`;
}

export const redisAddon = defineAddon<RedisCredentials>({
  id: "redis",
  name: "Redis",
  shortDescription: "Managed Redis 7 with persistence, each in its own container.",
  description:
    "A dedicated Redis 7 server per addon with a password, a memory limit from the plan, " +
    "append-only persistence on its own volume, and CPU limits. Plans change without losing data.",
  configVars: ["SCALINGO_REDIS_URL"],
  urlConfigVar: "SCALINGO_REDIS_URL",
  defaultImage: "redis:7",
  localImage: {
    tag: "berth-local/redis:7",
    recipe: fileURLToPath(new URL("../image/recipe.sh", import.meta.url)),
    from: "Debian's Redis 7.0",
  },
  testClient: () => import("./testing.js").then((module) => module.redisTestClient),
  plans: redisPlans,
  readyTimeoutMs: 30_000,

  generateCredentials: () => ({ password: generatePassword(), adminPassword: generatePassword() }),

  // The official image runs `redis-server` with these arguments in /data. No TCP listener: clients
  // arrive through Berth's gateway on the socket. Passwords are in the ACL file, not the command.
  containerSpec: ({ plan, credentials, image }) => ({
    image,
    command: [
      "redis-server",
      "--port", "0",
      "--unixsocket", `${DATA_PATH}/redis.sock`,
      "--unixsocketperm", "777",
      "--aclfile", `${DATA_PATH}/users.acl`,
      "--maxmemory", `${plan.settings.maxmemory_mb}mb`,
      "--maxmemory-policy", REDIS_EVICTION_POLICY,
      "--maxclients", String(plan.settings.maxclients),
      "--appendonly", "yes",
      "--appendfsync", "everysec",
      "--dir", DATA_PATH,
    ],
    env: {},
    files: [{ path: `${DATA_PATH}/users.acl`, content: aclFile(credentials), mode: 0o600 }],
    fileOwner: { uid: REDIS_UID, gid: REDIS_UID },
    dataPath: DATA_PATH,
    socketPath: `${DATA_PATH}/redis.sock`,
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
function withSession<T>(endpoint: Endpoint<RedisCredentials>, signal: AbortSignal, use: (client: Redis) => Promise<T>): Promise<T> {
  return withEngineSession(
    signal,
    {
      open: () =>
        new Redis(redisUrl(endpoint), {
          lazyConnect: true,
          connectTimeout: 2_000,
          maxRetriesPerRequest: 0,
          enableOfflineQueue: false,
          retryStrategy: () => null,
        }),
      connect: (client) => client.connect(),
      close: (client) => client.disconnect(),
    },
    use,
  );
}

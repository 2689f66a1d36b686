import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { containerLimits, defineAddon, generatePassword, withEngineSession, type AdminCommand, type DatabaseUser, type Endpoint } from "@berth/addon-sdk";
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
const SOCKET_PATH = `${DATA_PATH}/redis.sock`;
const ACL_PATH = `${DATA_PATH}/users.acl`;
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

/** What a read-only user may run: the reading commands on every key, its own session's; nothing that writes or administers. */
export const REDIS_READ_ONLY_PERMISSIONS = "~* resetchannels -@all +@read +@connection -@admin -@dangerous +keys";

/**
 * The ACL file: SHA-256 hashes of the passwords, not the passwords. It lives on the volume (ACL
 * users survive restarts) and Berth writes it again whenever it creates the container; during a
 * rotation the `default` user has both passwords (`alsoAccepted`).
 */
function aclFile({ password, adminPassword }: RedisCredentials, alsoAccepted: readonly RedisCredentials[], users: readonly DatabaseUser[]): string {
  return [
    `user default on sanitize-payload ${passwordRules([password, ...alsoAccepted.map((each) => each.password)])} ${REDIS_APP_PERMISSIONS}`,
    `user berth on #${sha256(adminPassword)} ~* &* +@all`,
    ...users.map(({ name, password: userPassword, readOnly }) => `user ${name} on sanitize-payload #${sha256(userPassword)} ${readOnly ? REDIS_READ_ONLY_PERMISSIONS : REDIS_APP_PERMISSIONS}`),
  ].join("\n") + "\n";
}

/** ACL rules that make a user's passwords exactly these (as hashes). */
function passwordRules(passwords: readonly string[]): string {
  return ["resetpass", ...new Set(passwords.map((each) => `#${sha256(each)}`))].join(" ");
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
  containerSpec: ({ plan, credentials, alsoAccepted = [], users = [], image }) => ({
    image,
    command: [
      "redis-server",
      "--port", "0",
      "--unixsocket", SOCKET_PATH,
      "--unixsocketperm", "777",
      "--aclfile", ACL_PATH,
      "--maxmemory", `${plan.settings.maxmemory_mb}mb`,
      "--maxmemory-policy", REDIS_EVICTION_POLICY,
      "--maxclients", String(plan.settings.maxclients),
      "--appendonly", "yes",
      "--appendfsync", "everysec",
      "--dir", DATA_PATH,
    ],
    env: {},
    files: [{ path: ACL_PATH, content: aclFile(credentials, alsoAccepted, users), mode: 0o600 }],
    fileOwner: { uid: REDIS_UID, gid: REDIS_UID },
    dataPath: DATA_PATH,
    socketPath: SOCKET_PATH,
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

  // Redis's ACL users take several passwords: the `default` user has both during a rotation. Set in
  // the running server and saved to the ACL file (as `containerSpec` writes it, for the next start).
  rotation: {
    next: (current) => ({ ...current, password: generatePassword() }),
    admit: (current, next) => asBerth(current, [`ACL SETUSER default ${passwordRules([current.password, next.password])}`, "ACL SAVE"]),
    retire: (current) => asBerth(current, [`ACL SETUSER default ${passwordRules([current.password])}`, "ACL SAVE"]),
  },

  // ACL users beside `default` and `berth`: read-only ones may read every key and nothing else
  // (no writes, no administration, no other client's session). The whole ACL file is written again
  // and loaded (`ACL LOAD` replaces every user at once: one removed is gone, and so are its sessions).
  users: {
    reservedNames: ["default", "berth"],
    appUserName: () => "default",
    apply: (credentials, users) => ({
      command: ["sh", "-c", ACL_LOAD_SCRIPT, "berth-redis-users", SOCKET_PATH, ACL_PATH],
      stdin: `${credentials.adminPassword}\n${aclFile(credentials, [], users)}`,
      user: String(REDIS_UID),
    }),
  },

  backup: {
    format: "rdb",
    // An RDB snapshot (a forked child writes it while the server goes on serving), made for this
    // backup, then streamed out. Berth's `berth` user asks for it: its password on stdin.
    dump: ({ adminPassword }) => ({ command: ["sh", "-c", SNAPSHOT_SCRIPT, "berth-redis-dump", SOCKET_PATH, `${DATA_PATH}/dump.rdb`], stdin: `${adminPassword}\n` }),
    // Loaded by the engine at its first start: with append-only persistence on, Redis loads an
    // `appendonly.aof` it finds in its directory (without an AOF directory yet) as the base of
    // its AOF, and an RDB is a valid base (the AOF's RDB preamble); it then moves it into its AOF
    // directory and goes on appending. (A plain `dump.rdb` would be ignored while AOF is on.)
    restore: { kind: "file", path: "appendonly.aof" },
  },
});

/**
 * Takes a new RDB snapshot and writes it to stdout: `BGSAVE SCHEDULE` (retried while another
 * snapshot runs, so the one streamed is never older than the request), waits until a snapshot
 * that began after the request has ended (INFO persistence: `rdb_saves` counts every snapshot
 * begun, `rdb_bgsave_in_progress` the one running), fails unless it ended `ok`, then streams the
 * file. A newer automatic snapshot replacing it meanwhile is fine: Redis renames each one into
 * place whole, and `cat` reads the file it opened. Arguments: the socket and the RDB file; the
 * `berth` user's password is the first line of stdin (dash's `printf` is a builtin: no argument
 * shows it).
 */
const SNAPSHOT_SCRIPT = `set -eu
IFS= read -r password
socket=$1 rdb=$2
cr=$(printf '\\r')
cli() { printf '%s\\n' "$password" | redis-cli --no-auth-warning --user berth --askpass -s "$socket" "$@"; }
persistence() {
  info=$(cli INFO persistence)
  case $info in *rdb_saves:*) ;; *) printf 'INFO persistence: %s\\n' "$info" >&2; exit 1 ;; esac
}
field() { value=\${info#*"$1:"}; printf '%s' "\${value%%"$cr"*}"; }
persistence
before=$(field rdb_saves)
while :; do
  reply=$(cli BGSAVE SCHEDULE)
  case $reply in
    "Background saving started"* | "Background saving scheduled"*) break ;;
    *"already in progress"*) sleep 0.2 ;;
    *) printf 'BGSAVE: %s\\n' "$reply" >&2; exit 1 ;;
  esac
done
while :; do
  persistence
  if [ "$(field rdb_bgsave_in_progress)" = 0 ] && [ "$(field rdb_saves)" -gt "$before" ]; then break; fi
  sleep 0.2
done
status=$(field rdb_last_bgsave_status)
[ "$status" = ok ] || { printf 'the RDB snapshot failed (rdb_last_bgsave_status:%s): see the server log\\n' "$status" >&2; exit 1; }
exec cat "$rdb"
`;

/**
 * Redis commands run by Berth's `berth` user over the container's socket, one per line of stdin
 * after its password (so nothing secret is on a command line: the rules carry password hashes).
 * Each must answer OK.
 */
function asBerth({ adminPassword }: RedisCredentials, commands: readonly string[]): AdminCommand {
  return {
    command: ["sh", "-c", ADMIN_SCRIPT, "berth-redis-admin", SOCKET_PATH],
    stdin: [adminPassword, ...commands].join("\n") + "\n",
  };
}

const ADMIN_SCRIPT = `set -euf
IFS= read -r password
while IFS= read -r command; do
  reply=$(printf '%s\\n' "$password" | redis-cli --no-auth-warning --user berth --askpass -s "$1" $command)
  [ "$reply" = OK ] || { printf '%s: %s\\n' "\${command%% *}" "$reply" >&2; exit 1; }
done
`;

/**
 * Replaces the ACL file with stdin's lines after the first (the `berth` user's password), under a
 * temporary name then renamed, and makes the server load it. Arguments: the socket and the file.
 */
const ACL_LOAD_SCRIPT = `set -eu
umask 077
IFS= read -r password
cat > "$2.berth-tmp"
mv "$2.berth-tmp" "$2"
reply=$(printf '%s\\n' "$password" | redis-cli --no-auth-warning --user berth --askpass -s "$1" ACL LOAD)
[ "$reply" = OK ] || { printf 'ACL LOAD: %s\\n' "$reply" >&2; exit 1; }
`;

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

import { fileURLToPath } from "node:url";
import { containerLimits, defineAddon, generateIdentifier, generatePassword, type AddonPlan, type AdminCommand, type Endpoint } from "@berth/addon-sdk";
import { influxdbPlans } from "./plans.js";

export interface InfluxdbCredentials extends Record<string, string> {
  /** The app's user: `ALL` on its database, nothing more (not an administrator). */
  user: string;
  password: string;
  database: string;
  /** The administrator `berth`: Berth's own, never handed to the app. */
  adminPassword: string;
}

/** Berth's administrator in every InfluxDB server. */
export const INFLUXDB_ADMIN = "berth";

const DATA_PATH = "/var/lib/influxdb";
const SOCKET_PATH = `${DATA_PATH}/influxdb.sock`;
const CONFIG_PATH = "/run/berth/influxdb.conf";
/** Berth's local image runs influxd as uid/gid 999 (the official 1.x images run it as root, who reads the files too). */
const INFLUXDB_UID = 999;

/**
 * The server's whole configuration (no secret in it: the users live in the meta store, on the
 * volume). Clients reach it through Berth's gateway on the Unix socket inside the volume; the TCP
 * listeners (HTTP and the backup/restore RPC, which has no authentication) are bound to the
 * container's own loopback, which nothing outside the container reaches (`NetworkMode: none`).
 * Authentication is on; pprof, the `_internal` monitoring database, usage reporting, ifql and
 * subscriptions are off.
 */
export function influxdbConfig(plan: AddonPlan): string {
  const s = plan.settings;
  return `# Written by Berth: see @berth/addon-influxdb.
reporting-disabled = true
bind-address = "127.0.0.1:8088"

[meta]
  dir = "${DATA_PATH}/meta"

[data]
  dir = "${DATA_PATH}/data"
  wal-dir = "${DATA_PATH}/wal"
  query-log-enabled = false
  cache-max-memory-size = "${Number(s.cache_max_memory_mb)}m"
  max-series-per-database = ${Number(s.max_series_per_database)}
  max-values-per-tag = 100000

[coordinator]
  max-concurrent-queries = ${Number(s.max_concurrent_queries)}
  query-timeout = "60s"
  max-select-buckets = ${Number(s.max_select_buckets)}

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:8086"
  auth-enabled = true
  log-enabled = false
  pprof-enabled = false
  unix-socket-enabled = true
  bind-socket = "${SOCKET_PATH}"
  max-body-size = 25000000

[ifql]
  enabled = false

[continuous_queries]
  enabled = true
`;
}

export function influxdbUrl({ host, port, credentials }: Endpoint<InfluxdbCredentials>): string {
  const user = encodeURIComponent(credentials.user);
  const password = encodeURIComponent(credentials.password);
  return `http://${user}:${password}@${host}:${port}/${encodeURIComponent(credentials.database)}`;
}

export const influxdbAddon = defineAddon<InfluxdbCredentials>({
  id: "influxdb",
  name: "InfluxDB",
  shortDescription: "Managed InfluxDB 1.6 time series databases, each in its own container.",
  description:
    "A dedicated InfluxDB 1.6 server per addon with authentication, a database and a user of its own, " +
    "memory, CPU and disk limits from the plan, and query guards sized to it. Plans change without losing data.",
  configVars: ["SCALINGO_INFLUX_URL"],
  urlConfigVar: "SCALINGO_INFLUX_URL",
  defaultImage: "influxdb:1.6",
  localImage: {
    tag: "berth-local/influxdb:1.6",
    recipe: fileURLToPath(new URL("../image/recipe.sh", import.meta.url)),
    from: "Debian's InfluxDB 1.6",
  },
  testClient: () => import("./testing.js").then((module) => module.influxdbTestClient),
  plans: influxdbPlans,
  readyTimeoutMs: 60_000,

  generateCredentials: () => ({
    user: generateIdentifier("u_"),
    password: generatePassword(),
    database: generateIdentifier("db_"),
    adminPassword: generatePassword(),
  }),

  // The official image's contract: `influxd` with its arguments (its entrypoint runs the init
  // script only when INFLUXDB_* users or /docker-entrypoint-initdb.d ask for it: neither here).
  // The Go runtime does not read the container's CPU quota nor its memory limit: both are given.
  containerSpec: ({ plan, image }) => ({
    image,
    command: ["influxd", "-config", CONFIG_PATH],
    env: {
      GOMAXPROCS: String(Math.max(1, Math.ceil(plan.limits.cpus))),
      GOMEMLIMIT: `${Math.floor(plan.limits.memoryMb * 0.8)}MiB`,
    },
    files: [{ path: CONFIG_PATH, content: influxdbConfig(plan), mode: 0o444 }],
    fileOwner: { uid: INFLUXDB_UID, gid: INFLUXDB_UID },
    dataPath: DATA_PATH,
    socketPath: SOCKET_PATH,
    ...containerLimits(plan),
    stopTimeoutSeconds: 30,
  }),

  // Least privilege. Berth's administrator first: InfluxDB lets anyone create the first admin
  // while there is none, so it is created at once, and `berth:<adminPassword>` is sent each time:
  // on a fresh server it is ignored, later it authenticates the (idempotent) repeat; a server
  // whose first admin someone else made refuses it, the bootstrap never succeeds and the
  // provisioning fails (the database is never delivered). Then, as `berth`: the database, the
  // app's user (not an admin) and `ALL` on that database only.
  bootstrap: ({ user, password, database, adminPassword }) =>
    asAdministrator(adminPassword, [
      `CREATE USER ${ident(INFLUXDB_ADMIN)} WITH PASSWORD ${literal(adminPassword)} WITH ALL PRIVILEGES`,
      `CREATE DATABASE ${ident(database)}; CREATE USER ${ident(user)} WITH PASSWORD ${literal(password)}; GRANT ALL ON ${ident(database)} TO ${ident(user)}`,
    ]),

  connectionConfig: (endpoint) => ({ SCALINGO_INFLUX_URL: influxdbUrl(endpoint) }),

  // An authenticated query as the app's user: InfluxDB answers /ping before it checks anything.
  probe: async (endpoint, signal) => {
    await request(endpoint, "/query", new URLSearchParams({ db: endpoint.credentials.database, q: "SHOW MEASUREMENTS LIMIT 1" }), signal);
  },

  // HTTP has no sessions: the requests being served right now (the server's own `reqActive`,
  // which InfluxDB reports on /debug/vars), minus the one asking.
  connections: async (endpoint, signal) => {
    const vars = (await request(endpoint, "/debug/vars", undefined, signal)) as Record<string, { name?: string; values?: Record<string, unknown> }>;
    const httpd = Object.entries(vars).find(([key, value]) => key.startsWith("httpd") && value?.name === "httpd")?.[1];
    const active = httpd?.values?.reqActive;
    if (typeof active !== "number") throw new Error("/debug/vars did not report httpd reqActive");
    return Math.max(0, active - 1);
  },

  backup: {
    format: "tar",
    // InfluxDB's portable backup of the app's database (the server snapshots each shard while it
    // serves) through its backup service on the container's loopback, into a scratch directory of
    // the container, streamed out as one tar archive, with the database's name beside it.
    dump: ({ database }) => ({ command: ["sh", "-c", BACKUP_SCRIPT, "berth-influxdb-dump", database] }),
    restore: {
      kind: "load",
      // A portable restore makes the database itself (it refuses one that exists), under the new
      // database's name: the empty one `bootstrap` made is dropped first, and the app's user,
      // whose grant went with it, gets `ALL` on the restored one. Berth's administrator runs the
      // statements; its credentials are the first line of stdin, before the archive.
      load: ({ user, database, adminPassword }) => ({
        command: [
          "sh", "-c", RESTORE_SCRIPT, "berth-influxdb-load", database,
          `unix-socket = ${curlString(SOCKET_PATH)}`,
          `data-urlencode = ${curlString(`q=DROP DATABASE ${ident(database)}`)}`,
          `data-urlencode = ${curlString(`q=GRANT ALL ON ${ident(database)} TO ${ident(user)}`)}`,
          `data-urlencode = ${curlString(`db=${database}`)}\ndata-urlencode = ${curlString("q=SELECT * FROM /.*/ LIMIT 1")}`,
        ],
        stdin: `user = ${curlString(`${INFLUXDB_ADMIN}:${adminPassword}`)}\n`,
      }),
    },
  },
});

/** The backup's own file, beside InfluxDB's: the dumped database's name, which a restore needs. */
const BACKUP_DATABASE_FILE = "berth-database";

/** Argument: the database. The backup service listens on the container's loopback (`bind-address`). */
const BACKUP_SCRIPT = `set -eu
dir=/tmp/berth-backup.$$
trap 'rm -rf "$dir"' EXIT
mkdir -m 700 "$dir"
influxd backup -portable -host 127.0.0.1:8088 -db "$1" "$dir" >&2
printf '%s\n' "$1" >"$dir/${BACKUP_DATABASE_FILE}"
tar --numeric-owner -C "$dir" -cf - .
`;

/**
 * Arguments: the new database, then curl options: the socket's, each statement's (DROP, GRANT),
 * and those of a query of every shard of the restored database. Stdin: curl's \`user = …\` line,
 * then the archive (read to its end). The restore client is done before the server has enabled
 * the last shard it wrote again ("shard is disabled"): the load waits for that, so what it
 * restored is readable once it exits 0.
 */
const RESTORE_SCRIPT = `set -eu
IFS= read -r credentials
database=$1 socket=$2 drop=$3 grant=$4 every_shard=$5
dir=/tmp/berth-restore.$$
trap 'rm -rf "$dir"' EXIT
mkdir -m 700 "$dir"
tar -x -C "$dir" -f -
cat >/dev/null
ask() { printf '%s\\n' 'url = "http://localhost/query"' "$socket" "$credentials" "$1" 'max-time = 60' silent show-error | curl -K -; }
query() {
  out=$(ask "$1")
  case $out in *'"error"'*) printf '%s\\n' "$out" >&2; exit 1 ;; esac
}
source=$(cat "$dir/${BACKUP_DATABASE_FILE}")
query "$drop"
influxd restore -portable -host 127.0.0.1:8088 -db "$source" -newdb "$database" "$dir" >&2
query "$grant"
waited=0
while out=$(ask "$every_shard"); case $out in *'shard is disabled'*) true ;; *) false ;; esac; do
  [ "$waited" -lt 600 ] || { echo "the restored shards are still disabled after 60 s" >&2; exit 1; }
  waited=$((waited + 1))
  sleep 0.1
done
case $out in *'"error"'*) printf '%s\\n' "$out" >&2; exit 1 ;; esac
`;

const REQUEST_TIMEOUT_MS = 2_000;

/** One HTTP request as the app's user through the gateway; rejects on any error InfluxDB reports. */
async function request(endpoint: Endpoint<InfluxdbCredentials>, path: string, form: URLSearchParams | undefined, signal: AbortSignal): Promise<unknown> {
  const { user, password } = endpoint.credentials;
  const host = endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host;
  const response = await fetch(`http://${host}:${endpoint.port}${path}`, {
    method: form ? "POST" : "GET",
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
    ...(form ? { body: form } : {}),
    signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
  });
  const body = (await response.json().catch(() => undefined)) as { error?: string; results?: { error?: string }[] } | undefined;
  const error = body?.error ?? body?.results?.find((result) => result.error)?.error;
  if (!response.ok || error) throw new Error(`InfluxDB answered ${response.status}${error ? `: ${error}` : ""}`);
  return body;
}

/**
 * InfluxQL statements run as `berth` over the container's own socket by curl, one request per
 * element of `requests`. The administrator's password and the statements (which hold the app's
 * password) are on stdin, as curl configurations, never on a command line; a reply carrying an
 * error fails the command.
 */
function asAdministrator(adminPassword: string, requests: readonly string[]): AdminCommand {
  const configs = requests.map((q) =>
    [
      `url = "http://localhost/query"`,
      `unix-socket = ${curlString(SOCKET_PATH)}`,
      `user = ${curlString(`${INFLUXDB_ADMIN}:${adminPassword}`)}`,
      `data-urlencode = ${curlString(`q=${q}`)}`,
      `max-time = 10`,
      `silent`,
      `show-error`,
    ].join("\n"),
  );
  return { command: ["sh", "-c", RUN_REQUESTS], stdin: `${configs.join(`\n${SEPARATOR}\n`)}\n` };
}

const SEPARATOR = "--- next request ---";

/** Reads curl configurations separated by SEPARATOR on stdin and runs them in turn (dash: printf is a builtin, no argument shows). */
const RUN_REQUESTS = `set -eu
input=$(cat)
while [ -n "$input" ]; do
  case $input in
    *"${SEPARATOR}"*) config=\${input%%"${SEPARATOR}"*}; input=\${input#*"${SEPARATOR}"} ;;
    *) config=$input; input= ;;
  esac
  out=$(printf '%s\\n' "$config" | curl -K -)
  case $out in *'"error"'*) printf '%s\\n' "$out" >&2; exit 1 ;; esac
done
`;

/** A double-quoted value of a curl configuration file (its own escapes). */
function curlString(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`;
}

/** A double-quoted InfluxQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A single-quoted InfluxQL string literal. */
function literal(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

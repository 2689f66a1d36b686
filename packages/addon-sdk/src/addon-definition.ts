/**
 * The one extension point for database engines. An addon package describes
 * its engine as plain data and small pure functions; the worker executes the
 * description (Docker, readiness polling, callbacks). Addon packages never
 * import Docker, Prisma or Fastify.
 */
import type { EngineTestClient } from "./testing.js";

export interface AddonPlan {
  /** Canonical name, sent by the platform as `plan`. */
  readonly name: string;
  readonly displayName: string;
  /** Euros for 30 days (manifest `price`). */
  readonly price: number;
  /** Markdown shown to customers. */
  readonly description: string;
  readonly limits: PlanLimits;
  /** Engine settings this plan fixes (e.g. `max_connections`), shown in the manifest and applied by `containerSpec`. */
  readonly settings: Readonly<Record<string, number | string>>;
  /**
   * How many backups the plan keeps, over Berth's default (7 dailies, 4 weeklies, no monthlies,
   * the 10 last manual ones: Scalingo's rule for its small plans; its business plans add 12 monthlies).
   */
  readonly backupRetention?: Partial<{ readonly daily: number; readonly weekly: number; readonly monthly: number; readonly manual: number }>;
}

export interface PlanLimits {
  readonly memoryMb: number;
  /** Fraction of CPUs, e.g. 0.5. */
  readonly cpus: number;
  readonly pids: number;
  /**
   * The database's disk, in MiB: its volume is a filesystem of this size of its own (a loop-mounted
   * image on the Docker host), so a write past it fails in the engine with "no space left on
   * device" and the host's disk is untouched. The engine's data, WAL/AOF and temporary files all
   * live there. Shown to customers (plan description, dashboard).
   */
  readonly diskMb: number;
}

/** Engine credentials, generated once per resource and stored encrypted. */
export type AddonCredentials = Readonly<Record<string, string>>;

/** Where a database listens, as seen by its clients. */
export interface Endpoint<C extends AddonCredentials = AddonCredentials> {
  readonly host: string;
  readonly port: number;
  readonly credentials: C;
}

export interface ContainerSpecInput<C extends AddonCredentials = AddonCredentials> {
  readonly plan: AddonPlan;
  readonly credentials: C;
  /**
   * Credentials the engine must accept as well during a rotation (the next ones, before the app
   * has them; the previous ones, during the grace period): for an engine whose passwords live in
   * files Berth writes at each container start rather than in its data.
   */
  readonly alsoAccepted?: readonly C[];
  /** The database's users beside the app's own (`users`), for an engine that keeps them in files Berth writes. */
  readonly users?: readonly DatabaseUser[];
  readonly image: string;
}

/**
 * A file Berth writes into the container before it starts: how secrets and Berth's own engine
 * configuration reach a database, never through its environment or command line (both are
 * visible to anyone who can inspect the container).
 */
export interface ContainerFile {
  /** Absolute path in the container; missing parent directories are created for `owner`, mode 0700. */
  readonly path: string;
  readonly content: string;
  /** Default 0o400: only the engine's own user reads it. */
  readonly mode?: number;
}

/**
 * A command Berth runs inside the database's container (Docker exec) for its own administrative
 * work (least-privilege set-up, password changes). The command line is visible through the Docker
 * API: secrets go to `stdin` only.
 */
export interface AdminCommand {
  readonly command: readonly string[];
  readonly stdin?: string;
  /** The OS user in the container (default: the image's). */
  readonly user?: string;
}

/** A container described as plain data; the worker's runtime turns it into Docker calls. */
export interface ContainerSpec {
  readonly image: string;
  readonly command: readonly string[];
  /** Never a secret: use `files`. */
  readonly env: Readonly<Record<string, string>>;
  /** Written into the container before each start, owned by `fileOwner`. */
  readonly files: readonly ContainerFile[];
  /** The engine's OS user and group in the image, who must read `files`. */
  readonly fileOwner: { readonly uid: number; readonly gid: number };
  /** Where the resource's volume is mounted. */
  readonly dataPath: string;
  /**
   * The Unix socket the engine listens on, inside `dataPath`: the container has no network, and
   * Berth's gateway pipes the database's public port to this socket.
   */
  readonly socketPath: string;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
  readonly pidsLimit: number;
  readonly shmSizeBytes?: number;
  readonly stopTimeoutSeconds?: number;
}

export interface AddonDefinition<C extends AddonCredentials = AddonCredentials> {
  /** Stable id: URL segment (`/<id>/resources`), configuration prefix, Docker label. */
  readonly id: string;
  /** Display name (manifest `name`). */
  readonly name: string;
  readonly shortDescription: string;
  readonly description: string;
  /** Config vars this addon sets on the app (manifest `config_vars`). */
  readonly configVars: readonly string[];
  /** The one of `configVars` that holds the connection URL (shown on the dashboard, used by the contract suite). */
  readonly urlConfigVar: string;
  /** Image used when the deployment does not configure one. */
  readonly defaultImage: string;
  /**
   * The image built from the host's own binaries where no registry can be reached
   * (`docker/local-images/build.sh <id>`, built by `scripts/services.sh`): its tag, its recipe
   * (a shell file in the package, see build.sh for the interface) and what it is made of.
   */
  readonly localImage?: LocalImage;
  /**
   * The engine's test client for the contract suite, loaded only when asked (production never
   * loads it): `() => import("./testing.js").then((m) => m.fooTestClient)`.
   */
  readonly testClient?: () => Promise<EngineTestClient>;
  readonly plans: readonly AddonPlan[];
  /** How long a new container may take to accept connections before provisioning fails. */
  readonly readyTimeoutMs: number;
  generateCredentials(): C;
  containerSpec(input: ContainerSpecInput<C>): ContainerSpec;
  /** The config vars delivered to the app. */
  connectionConfig(endpoint: Endpoint<C>, plan: AddonPlan): Record<string, string>;
  /**
   * One readiness attempt: resolves when the database accepts an authenticated
   * session with these credentials, rejects otherwise. The worker repeats it
   * until `readyTimeoutMs`.
   */
  probe(endpoint: Endpoint<C>, signal: AbortSignal): Promise<void>;
  /**
   * Least privilege, set up once the engine runs (optional: an engine whose image already makes
   * it so needs none): the app's user owns its database and nothing more, and Berth's own
   * administrator is reachable only from inside the container. Must be idempotent; the worker
   * runs it until it exits 0 (the server may still be starting) or `readyTimeoutMs` passes.
   */
  bootstrap?(credentials: C): AdminCommand;
  /**
   * Usage metering: the number of client sessions the engine reports right
   * now, not counting the one this call opens to ask. Rejects when the
   * database cannot be asked.
   */
  connections(endpoint: Endpoint<C>, signal: AbortSignal): Promise<number>;
  /**
   * Credential rotation (optional): a new password without a moment when neither works, for the
   * customer's rotations and the warm pool's hand-over. Addons without it get neither: their
   * databases are built when asked for, and keep the password they were made with.
   */
  readonly rotation?: CredentialRotation<C>;
  /**
   * Users beside the app's own (optional: Scalingo's database users), read-only or read-write on
   * the app's database. Addons without it answer `422 users_not_supported`.
   */
  readonly users?: AddonUsers<C>;
  /**
   * Backups (optional: an engine without it has none): how to take a consistent copy of the
   * app's data while the database serves, and how to put one into a new database.
   */
  readonly backup?: AddonBackup<C>;
}

/**
 * A rotation in two engine commands, with the app's switch to the new URL between them: after
 * `admit` both the current and the next credentials open a session; after `retire` only the
 * next do. Both are idempotent (a retried step runs its command again) and must keep what they
 * set across restarts and container replacements (in the engine's data, or in the files of
 * `containerSpec`, which gets both sets through `alsoAccepted` while a rotation runs).
 */
export interface CredentialRotation<C extends AddonCredentials = AddonCredentials> {
  /**
   * The credentials after `current`: a new password, and for an engine that keeps one password
   * per user, another user that acts as the same one (so both can work at once).
   */
  next(current: C): C;
  /** Makes the engine accept `next` as well as `current`. */
  admit(current: C, next: C): AdminCommand;
  /** Makes the engine refuse `previous`, and end its sessions where it can tell them from `current`'s. */
  retire(current: C, previous: C): AdminCommand;
}

/** A user of the database beside the app's own. */
export interface DatabaseUser {
  /** 6 to 32 of `[a-z0-9-]`, none of the engine's `reservedNames`. */
  readonly name: string;
  readonly password: string;
  /** Reads everything of the app's database and changes nothing; else reads and writes as the app does. */
  readonly readOnly: boolean;
}

export interface AddonUsers<C extends AddonCredentials = AddonCredentials> {
  /** Names the engine keeps for itself (its administrators): refused to customers. */
  readonly reservedNames: readonly string[];
  /** The name of the app's own user (listed first, protected). */
  appUserName(credentials: C): string;
  /**
   * Makes the database's users beside the app's own exactly `users`: creates the missing ones,
   * sets every password and access, removes any other (and ends its sessions). Run after each
   * change of the list and after every restore (a recovered or loaded database may hold other
   * users, a fork its source's). Idempotent; kept in the engine's data, or in the files of
   * `containerSpec` (which receives `users`).
   */
  apply(credentials: C, users: readonly DatabaseUser[]): AdminCommand;
}

/**
 * An engine's backups. The worker runs the commands inside the database's container (Docker
 * exec) and streams the dump through: it is never held whole in memory nor written to the
 * worker's disk in clear.
 */
export interface AddonBackup<C extends AddonCredentials = AddonCredentials> {
  /** What a dump is, also the extension of its downloaded file: `pgdump`, `sql`, `rdb`, `tar`. */
  readonly format: string;
  /**
   * A command, run in the database's running container, whose stdout is the dump: a consistent
   * copy of the app's data taken while the database serves. It exits non-zero (its stderr saying
   * why) whenever the copy is not whole, so a dump that exits 0 is complete.
   */
  dump(credentials: C): AdminCommand;
  /** How a dump goes into a new database: one made for it, on a new, empty volume. */
  readonly restore: BackupRestore<C>;
  /** A continuous archive of the engine's log, for a recovery to any moment (optional). */
  readonly archive?: ContinuousArchive<C>;
}

/**
 * Point-in-time recovery: the engine copies each log file it closes (at the latest every minute
 * of activity) into a spool directory of its volume, from which the worker ships it to the backup
 * store; with each backup the worker also takes a physical copy of the files (a base backup). A
 * recovery puts a base backup and the archived logs after it into a new volume, and the engine
 * replays them up to the moment asked for. Commands run in the database's container.
 */
export interface ContinuousArchive<C extends AddonCredentials = AddonCredentials> {
  /** Where the engine leaves closed log files (absolute, in the container's volume); the worker removes each once stored. */
  readonly spoolDir: string;
  /** The OS user (in the container) who owns the spool: the worker reads and removes its files as this user. */
  readonly user: string;
  /**
   * Lists the spool: one line per complete file, `name<TAB>closed at (ms since the epoch)<TAB>bytes`.
   * Nothing (and exit 0) while the spool does not exist yet.
   */
  listSpool(): AdminCommand;
  /** Closes the current log file now (with a timestamped record, so a recovery can tell it passed any earlier moment). */
  closeLog(): AdminCommand;
  /**
   * A physical copy of the running database as a tar (whose entries are relative to the volume's
   * root) on stdout. Exits 0 only once every log file the copy needs is in the spool.
   */
  baseBackup(): AdminCommand;
  /** The name of the log file being written now: a base backup started after this needs no earlier one. */
  currentLog(): AdminCommand;
  /**
   * Whether a recovery from a copy that began while `walStart` was being written may ask for the
   * archived file `name`: `always` (e.g. a timeline's history), `until-target` (a log of changes:
   * needed up to the one holding the moment), or `never`.
   */
  needsLog(name: string, walStart: string): "always" | "until-target" | "never";
  /** Where a recovery finds its log files, relative to the volume's root (written there with the base backup). */
  readonly restorePath: string;
  /**
   * The staging container's spec for a recovery: the engine replays the logs in `restorePath`
   * up to `target` (to their end when null), then becomes a normal, writable database.
   */
  recoverySpec(spec: ContainerSpec, target: Date | null): ContainerSpec;
  /** Files written into the volume with the base backup (paths relative to its root), for the recovery to start (e.g. PostgreSQL's `recovery.signal`). */
  readonly recoveryFiles: readonly { readonly path: string; readonly content: string }[];
  /** Exits 0 once the recovery is over and the database writable; non-zero while it replays. */
  recovered(): AdminCommand;
  /**
   * Run once recovered: makes the recovered data the database of `to`. The copy is of the
   * database it was taken of, whose names and password may differ (a fork; a password changed
   * since, in place): the engine finds them in the data. The worker then removes `restorePath`
   * and runs `bootstrap`.
   */
  adopt(to: C): AdminCommand;
}

/**
 * The two ways an engine takes a dump back, both into a database Berth has just made (its own
 * credentials, possibly other names than the dumped one's):
 * - `load`: a command reads the dump on its stdin into the running engine, once `bootstrap` has
 *   run and the database is ready. Exits 0 only when all of it is loaded.
 * - `file`: the dump is written as a file into the new volume before the engine's first start,
 *   which loads it by itself; then `bootstrap` and readiness as for any new database.
 */
export type BackupRestore<C extends AddonCredentials = AddonCredentials> = LoadRestore<C> | FileRestore;

export interface LoadRestore<C extends AddonCredentials = AddonCredentials> {
  readonly kind: "load";
  /**
   * The loading command. Its stdin is the command's own `stdin` first, when it has one (secrets
   * the command reads before the dump, e.g. a password line), then the dump, then end of file.
   */
  load(credentials: C): AdminCommand;
}

export interface FileRestore {
  readonly kind: "file";
  /** Where the dump goes, relative to the volume's root (`ContainerSpec.dataPath` in the container). */
  readonly path: string;
  /** Owned by `ContainerSpec.fileOwner`, with this mode (default 0o600). */
  readonly mode?: number;
}

export interface LocalImage {
  /** e.g. `berth-local/postgresql:15`. */
  readonly tag: string;
  /** Absolute path of the recipe (`image/recipe.sh` of the addon package); its directory holds the entrypoint. */
  readonly recipe: string;
  /** What the image is made of, for people (README): e.g. "the host's PostgreSQL 15". */
  readonly from: string;
}

/** The container limits a plan sets, as the `ContainerSpec` fields every engine uses. */
export function containerLimits(plan: AddonPlan): Pick<ContainerSpec, "memoryBytes" | "nanoCpus" | "pidsLimit"> {
  return {
    memoryBytes: plan.limits.memoryMb * 1024 * 1024,
    nanoCpus: Math.round(plan.limits.cpus * 1e9),
    pidsLimit: plan.limits.pids,
  };
}

export function findPlan(addon: Pick<AddonDefinition, "plans">, name: string): AddonPlan | undefined {
  return addon.plans.find((plan) => plan.name === name);
}

/** A plan's disk as customers read it: `1 GiB`, `10 GiB`, `64 MiB`. */
export function formatDiskMb(diskMb: number): string {
  if (diskMb >= 1024 && diskMb % 1024 === 0) return `${diskMb / 1024} GiB`;
  if (diskMb >= 1024) return `${(diskMb / 1024).toFixed(1)} GiB`;
  return `${diskMb} MiB`;
}

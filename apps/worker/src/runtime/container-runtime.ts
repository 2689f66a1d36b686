import type { Readable } from "node:stream";
import type { AdminCommand, ContainerSpec } from "@berth/addon-sdk";

/** Labels every Berth container and volume carries, so Docker's state can be matched to the control plane. */
export interface ManagedLabels {
  readonly resourceId: string;
  readonly addonId: string;
  readonly plan: string;
}

export interface ContainerRequest {
  readonly name: string;
  readonly volumeName: string;
  readonly spec: ContainerSpec;
  readonly labels: ManagedLabels;
  /**
   * The database's public port: the gateway listens on it and pipes to the engine's socket
   * (`spec.socketPath`). Absent for a container nobody connects to (a restore's staging one):
   * the gateway routes nothing to it.
   */
  readonly port?: number;
}

/** One database as the gateway routes it: its public port to the Unix socket of its engine. */
export interface GatewayRoute {
  readonly resourceId: string;
  readonly containerName: string;
  readonly port: number;
  /** The engine's socket as a path on the Docker host (inside the database's volume). */
  readonly socketPath: string;
  readonly running: boolean;
}

export interface ContainerState {
  readonly name: string;
  readonly running: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
  /** Between two runs under the restart policy. */
  readonly restarting?: boolean;
  /** The main process's exit code of its last run (0 while it runs for the first time). */
  readonly exitCode?: number;
  /** When its last run ended; undefined when it never ended. */
  readonly finishedAt?: Date;
}

export interface ExecResult {
  readonly exitCode: number;
  readonly output: string;
}

/**
 * A command in a container that did not succeed: it exited non-zero (or its exit could not be
 * had), with the end of what it said on stderr.
 */
export class ExecFailedError extends Error {
  constructor(
    /** The program, `command[0]` (never its arguments). */
    readonly program: string,
    /** -1 when the command's exit could not be had. */
    readonly exitCode: number,
    /** The last 4 KiB of its stderr (of its output, for a command whose stdout is not a stream). */
    readonly stderr: string,
    message = `${program} exited with ${exitCode}: ${stderr || "nothing on stderr"}`,
  ) {
    super(message);
    this.name = "ExecFailedError";
  }
}

/** A file to write into a volume no container runs on (e.g. a dump its engine loads at its first start). */
export interface VolumeFile {
  readonly volumeName: string;
  readonly labels: ManagedLabels;
  /**
   * The spec of the database that will run on the volume: the file is written through a container
   * of its image that mounts the volume at `dataPath` (created for this, never started, removed
   * after), and is owned by its `fileOwner`.
   */
  readonly spec: ContainerSpec;
  /** Relative to the volume's root; missing parent directories are made for the owner, mode 0700. */
  readonly path: string;
  /** Default 0o600. */
  readonly mode?: number;
  /** The content's exact length in bytes (a tar header carries it before the content): any other length fails the write. */
  readonly size: number;
}

/** What a running database uses right now, as the container engine sees it. */
export interface ContainerUsage {
  /** Memory in use, without the page cache the kernel can drop. */
  readonly memoryBytes: number;
  /** Bytes the database's data takes on its disk (the files of its volume). */
  readonly diskBytes: number;
  /** CPU time the container has used since it started, in nanoseconds (a counter: the use between two samples is their difference). */
  readonly cpuNanos: number;
}

export interface DiskMending {
  /** Volumes whose image was not mounted, now mounted. */
  readonly mounted: readonly string[];
  /** Containers started because their volume's disk had to be mounted. */
  readonly started: readonly string[];
  /** Volume names with a disk image (or its leftovers) but no volume. */
  readonly strayImages: readonly string[];
  /** Disks that could not be mounted, with why. */
  readonly failed: readonly { volume: string; error: string }[];
}

export interface ManagedObjects {
  readonly containers: readonly { name: string; resourceId: string }[];
  readonly volumes: readonly { name: string; resourceId: string }[];
}

/**
 * The worker's only view of a container engine. Every call is idempotent:
 * creating what exists or removing what is gone succeeds, so a job can be
 * replayed from any step.
 */
export interface ContainerRuntime {
  /** Resolves when the container engine answers (readiness). */
  ping(): Promise<void>;
  /**
   * The database's volume, on a filesystem of its own of `diskMb` MiB (a loop-mounted image on the
   * Docker host: a write past it fails with "no space left on device"), or a plain volume when the
   * worker runs without disk limits (`BERTH_DISK_LIMITS=off`). An existing volume is kept as it is.
   */
  ensureVolume(name: string, labels: ManagedLabels, diskMb: number): Promise<void>;
  /**
   * Gives an existing volume's disk this size. Growing works while the database runs where the
   * kernel allows it; shrinking (after `checkVolumeFits`), and growing where it does not, need the
   * volume unused: while a container uses it, the answer is "needs-offline" and nothing changed, so
   * call again once the container is removed. Nothing to do for a volume without a disk of its own.
   */
  resizeVolume(name: string, diskMb: number): Promise<"done" | "needs-offline">;
  /** Rejects with a PermanentError, saying why, when the volume's data does not fit on a disk of this size. */
  checkVolumeFits(name: string, diskMb: number): Promise<void>;
  /**
   * Mends the disks after a host reboot: attaches and mounts the image of every volume of this
   * deployment, and starts this deployment's stopped containers on a volume it had to mount (they
   * could not start without it). Lists the images that have no volume (an interrupted provision or
   * removal) for the caller to judge.
   */
  mendDisks(): Promise<DiskMending>;
  /** Creates the container if no container has this name, then starts it. */
  ensureContainerRunning(request: ContainerRequest): Promise<ContainerState>;
  inspectContainer(name: string): Promise<ContainerState | undefined>;
  /**
   * Runs an administrative command in the running container, `stdin` written to it and closed.
   * Resolves with its exit code and output (stdout and stderr together, trimmed to the last 4 KiB);
   * rejects when the container is absent or not running, or when `signal` aborts.
   */
  exec(containerName: string, command: AdminCommand, signal: AbortSignal): Promise<ExecResult>;
  /**
   * Runs a command in the running container and streams its stdout, with backpressure (a dump:
   * never held whole). `stdin` is written to it and closed. The stream ends once the command has
   * exited 0; it errors with an `ExecFailedError` (the end of its stderr in the message) when it
   * exits otherwise, and with the abort when `signal` aborts. Destroying the stream ends the
   * connection: the command gets EPIPE at its next write. Rejects (before any output) when the
   * container is absent or not running.
   */
  execStream(containerName: string, command: AdminCommand, signal: AbortSignal): Promise<Readable>;
  /**
   * Runs a command in the running container with `input` as its stdin, with backpressure (a dump
   * to load: never held whole): the command's own `stdin` first when it has one, then `input`,
   * then end of file. Resolves once all of `input` was written and the command exited 0, with
   * its output (stdout and stderr, the last 4 KiB); rejects with an `ExecFailedError` when it
   * exits otherwise or before it read all of `input` (at once: the rest of `input` is not waited
   * for), with `input`'s own error when it fails
   * (the command's stdin is then cut short: never take its exit 0 for a whole load), and with the
   * abort when `signal` aborts. `input` is consumed, and destroyed on failure.
   */
  execWithInput(containerName: string, command: AdminCommand, input: Readable, signal: AbortSignal): Promise<ExecResult>;
  /**
   * Writes `content` (exactly `file.size` bytes, streamed) as a file into a volume, before a
   * database starts on it; an existing file of that path is replaced. Rejects when the content
   * fails or has another length, or when `signal` aborts; `content` is consumed, and destroyed on
   * failure. A failed write may leave part of the file: the volume is the caller's to discard.
   */
  writeVolumeFile(file: VolumeFile, content: Readable, signal: AbortSignal): Promise<void>;
  /**
   * Extracts tar archives, in order, at the root of a new volume that no container has mounted
   * yet (a physical copy of a database's files, then the logs its recovery replays). Unlike a
   * database's own first start, the image's data directory is not copied into it: the volume
   * holds the archives' entries only, with their owners and modes. Each archive is consumed;
   * `next` yields null after the last. A failed write leaves the volume for the caller to discard.
   */
  writeVolumeArchives(target: Omit<VolumeFile, "path" | "mode" | "size">, next: () => Promise<Readable | null>, signal: AbortSignal): Promise<void>;
  /** The last lines a container's main process wrote (stdout and stderr), for an error message. */
  logTail(containerName: string, lines: number): Promise<string>;
  /**
   * Stops the container (its own stop timeout: the engine flushes) and streams the directory
   * `path` of it as a tar archive: a cold copy of a database's files, taken when its engine cannot
   * dump them (a full disk, a damaged database). The container stays stopped.
   */
  stopAndArchive(containerName: string, path: string): Promise<Readable>;
  /** Stops (with the container's own stop timeout) and removes; absent is fine. */
  removeContainer(name: string): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** The containers and volumes of this deployment (other deployments sharing the host are not listed). */
  listManaged(): Promise<ManagedObjects>;
  /** Memory and disk used by a running container and its volume; undefined when the container is absent or stopped. */
  usage(containerName: string, volumeName: string): Promise<ContainerUsage | undefined>;
  /**
   * Follows the engine's events about this deployment's containers until `signal` aborts.
   * `onEvent` gets each one as it happens; the promise settles when the stream ends (aborted,
   * or the engine went away: rejects then), so callers resubscribe, and resynchronise from a
   * listing, after a rejection. `since` replays the engine's recent events from that moment first
   * (what it still holds: a restarted engine holds none).
   */
  watchContainerEvents(onEvent: (event: ContainerEvent) => void, signal: AbortSignal, options?: { since?: Date }): Promise<void>;
  /** Every container of this deployment that has a public port, with its engine's socket on the host. */
  listGatewayRoutes(): Promise<GatewayRoute[]>;
}

/** What the container engine says happened to one of this deployment's containers. */
export interface ContainerEvent {
  /** `start`, `die`, `oom`, `destroy`, `stop`, `kill`, `restart`, … (Docker's action names). */
  readonly action: string;
  readonly containerName: string;
  readonly resourceId: string;
  /** For `die`: the main process's exit code. */
  readonly exitCode?: number;
  readonly at: Date;
}

export const LABEL = {
  managed: "berth.managed",
  deployment: "berth.deployment",
  resource: "berth.resource",
  addon: "berth.addon",
  plan: "berth.plan",
  port: "berth.port",
  socket: "berth.socket",
} as const;

export function labelsOf(labels: ManagedLabels, deploymentId: string): Record<string, string> {
  return {
    [LABEL.managed]: "true",
    [LABEL.deployment]: deploymentId,
    [LABEL.resource]: labels.resourceId,
    [LABEL.addon]: labels.addonId,
    [LABEL.plan]: labels.plan,
  };
}

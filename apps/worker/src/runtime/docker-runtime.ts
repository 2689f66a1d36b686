import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import readline from "node:readline";
import { Readable, Transform, Writable, type Duplex } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { AdminCommand, ContainerSpec } from "@berth/addon-sdk";
import Docker from "dockerode";
import tar from "tar-stream";
import { PermanentError } from "../errors.js";
import {
  ExecFailedError,
  LABEL,
  labelsOf,
  type DiskMending,
  type ContainerEvent,
  type ContainerRequest,
  type ContainerRuntime,
  type ContainerState,
  type ContainerUsage,
  type ExecResult,
  type GatewayRoute,
  type ManagedLabels,
  type ManagedObjects,
  type VolumeFile,
} from "./container-runtime.js";
import { DiskImages } from "./disk-images.js";

export interface DockerRuntimeOptions {
  /** e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375 */
  dockerHost: string;
  /** Stamped on every object this runtime creates; listings see only this deployment's objects. */
  deploymentId: string;
  /**
   * Where the databases' disk images live (`BERTH_DISK_DIR`); this deployment's are in its own
   * subdirectory, `<diskDir>/<deploymentId>/`. Unset: plain volumes, no disk limit.
   */
  diskDir?: string;
}

/** The one place Berth talks to Docker (dockerode). */
export class DockerRuntime implements ContainerRuntime {
  readonly #docker: Docker;
  #df: { at: number; sizes: Promise<Map<string, number>> } | undefined;

  readonly #deploymentId: string;
  /** The databases' own filesystems; undefined when disk limits are off. */
  readonly #disks: DiskImages | undefined;

  constructor({ dockerHost, deploymentId, diskDir }: DockerRuntimeOptions) {
    this.#docker = new Docker(dockerOptionsFor(dockerHost));
    this.#deploymentId = deploymentId;
    this.#disks = diskDir === undefined ? undefined : new DiskImages(join(diskDir, deploymentId));
  }

  /** The directory of this deployment's disk images; undefined when disk limits are off. */
  get diskDir(): string | undefined {
    return this.#disks?.dir;
  }

  async ping(): Promise<void> {
    await this.#docker.ping();
  }

  async ensureVolume(name: string, labels: ManagedLabels, diskMb: number): Promise<void> {
    const Labels = labelsOf(labels, this.#deploymentId);
    if (!this.#disks) {
      // Creating a volume that exists returns it: idempotent by Docker's own contract.
      await this.#docker.createVolume({ Name: name, Labels });
      return;
    }
    // The image first (created, attached, mounted: each only if missing), then the volume binding
    // its data directory, so the volume keeps its name and labels and nothing else changes.
    const device = await this.#disks.ensure(name, diskMb);
    await this.#docker.createVolume({ Name: name, Labels, Driver: "local", DriverOpts: { type: "none", o: "bind", device } });
    // Docker answers an existing volume as it is, whatever the options asked for.
    const { Options } = await this.#docker.getVolume(name).inspect();
    if (Options?.device !== device) {
      throw new PermanentError(`volume ${name} exists without its disk image (made while disk limits were off?): it would have no disk limit`);
    }
  }

  async resizeVolume(name: string, diskMb: number): Promise<"done" | "needs-offline"> {
    if (!this.#disks || !(await this.#disks.usage(name))) return "done"; // a plain volume: no disk to resize
    return this.#disks.resize(name, diskMb);
  }

  async checkVolumeFits(name: string, diskMb: number): Promise<void> {
    await this.#disks?.checkFits(name, diskMb);
  }

  async mendDisks(): Promise<DiskMending> {
    const mending = { mounted: [] as string[], started: [] as string[], strayImages: [] as string[], failed: [] as { volume: string; error: string }[] };
    if (!this.#disks) return mending;
    const filters = { label: [`${LABEL.managed}=true`, `${LABEL.deployment}=${this.#deploymentId}`] };
    const volumes = new Set(((await this.#docker.listVolumes({ filters: JSON.stringify(filters) })).Volumes ?? []).map((v) => v.Name));
    for (const name of await this.#disks.list()) {
      if (!volumes.has(name)) {
        mending.strayImages.push(name);
        continue;
      }
      try {
        if (await this.#disks.mount(name)) mending.mounted.push(name);
      } catch (error) {
        // Removed meanwhile (a deprovision), or broken: one disk never stops the others' mending.
        if ((await this.#disks.usage(name)) !== undefined) mending.failed.push({ volume: name, error: (error as Error).message });
      }
    }
    for (const volume of mending.mounted) {
      // Docker gave up starting these at its own start (their volume's directory was missing).
      const stopped = await this.#docker.listContainers({
        all: true,
        filters: JSON.stringify({ ...filters, volume: [volume], status: ["created", "exited"] }),
      });
      for (const container of stopped) {
        await this.#docker.getContainer(container.Id).start().catch((error: unknown) => {
          if (statusOf(error) !== 304) throw error;
        });
        mending.started.push((container.Names[0] ?? container.Id).replace(/^\//, ""));
      }
    }
    return mending;
  }

  async ensureContainerRunning({ name, volumeName, spec, labels, port }: ContainerRequest): Promise<ContainerState> {
    try {
      await this.#docker.createContainer({
        name,
        Image: spec.image,
        Cmd: [...spec.command],
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: { ...labelsOf(labels, this.#deploymentId), ...(port === undefined ? {} : { [LABEL.port]: String(port), [LABEL.socket]: spec.socketPath }) },
        StopTimeout: spec.stopTimeoutSeconds,
        HostConfig: {
          // No network at all: no route to the host's services, to other tenants or out. The engine
          // listens on a Unix socket in its volume, and Berth's gateway owns the public port.
          NetworkMode: "none",
          Mounts: [{ Type: "volume", Source: volumeName, Target: spec.dataPath }],
          Memory: spec.memoryBytes,
          MemorySwap: spec.memoryBytes,
          NanoCpus: spec.nanoCpus,
          PidsLimit: spec.pidsLimit,
          ShmSize: spec.shmSizeBytes,
          SecurityOpt: ["no-new-privileges"],
          RestartPolicy: { Name: "unless-stopped" },
          LogConfig: { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } },
        },
      });
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) throw new PermanentError(`image ${spec.image} is not available on the Docker host`);
      if (status !== 409) throw error; // 409: a container with this name exists (a replayed step); use it
    }
    const container = this.#docker.getContainer(name);
    const before = await container.inspect();
    // Written before every start (also of a container a crashed step created): same content each time.
    if (!before.State.Running && spec.files.length > 0) await container.putArchive(filesArchive(spec), { path: "/" });
    try {
      await container.start();
    } catch (error) {
      if (statusOf(error) !== 304) throw error; // 304: already started
    }
    const state = await this.inspectContainer(name);
    if (!state) throw new Error(`container ${name} vanished right after it was started`);
    return state;
  }

  async inspectContainer(name: string): Promise<ContainerState | undefined> {
    try {
      const info = await this.#docker.getContainer(name).inspect();
      return {
        name,
        running: info.State.Running,
        labels: info.Config.Labels ?? {},
        memoryBytes: info.HostConfig.Memory ?? 0,
        nanoCpus: info.HostConfig.NanoCpus ?? 0,
        restarting: info.State.Restarting,
        exitCode: info.State.ExitCode,
        ...(finishedAtOf(info.State.FinishedAt) ? { finishedAt: finishedAtOf(info.State.FinishedAt)! } : {}),
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async exec(containerName: string, { command, stdin, user }: AdminCommand, signal: AbortSignal): Promise<ExecResult> {
    const exec = await this.#docker.getContainer(containerName).exec({
      Cmd: [...command],
      AttachStdin: stdin !== undefined,
      AttachStdout: true,
      AttachStderr: true,
      ...(user ? { User: user } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: stdin !== undefined });
    const output = new OutputTail();
    const keep = new Writable({
      write(chunk: Buffer, _encoding, done) {
        output.push(chunk);
        done();
      },
    });
    const abort = () => stream.destroy(new Error("the command was aborted"));
    signal.addEventListener("abort", abort, { once: true });
    // A signal that fired while the exec was being created sends no event: end the command now.
    if (signal.aborted) abort();
    try {
      await new Promise<void>((resolve, reject) => {
        this.#docker.modem.demuxStream(stream, keep, keep);
        stream.once("end", resolve);
        stream.once("close", resolve);
        stream.once("error", reject);
        if (stdin !== undefined) stream.end(stdin);
      });
    } finally {
      signal.removeEventListener("abort", abort);
    }
    signal.throwIfAborted();
    const { ExitCode } = await exec.inspect();
    return { exitCode: ExitCode ?? -1, output: output.text() };
  }

  async execStream(containerName: string, command: AdminCommand, signal: AbortSignal): Promise<Readable> {
    signal.throwIfAborted();
    const program = command.command[0] ?? "";
    const stderr = new OutputTail();
    const started = await this.#startExec(containerName, command, command.stdin !== undefined, (chunk) => stderr.push(chunk));
    const { exec, socket } = started;
    const abort = () => socket.destroy(abortError(program, signal));
    signal.addEventListener("abort", abort, { once: true });
    // A signal that fired while the exec was being created sends no event: end the command now.
    if (signal.aborted) abort();
    if (command.stdin !== undefined) socket.end(command.stdin);
    let ended: Promise<void> | undefined;
    const end = (exited: boolean) => {
      ended ??= (async () => {
        signal.removeEventListener("abort", abort);
        socket.destroy();
        if (!exited) await this.#killExec(containerName, started, command.user);
      })();
      return ended;
    };
    async function* stdout(): AsyncGenerator<Buffer> {
      try {
        yield* started.stdout;
      } catch (error) {
        await end(false);
        throw error;
      }
      await end(true);
      const exitCode = await exitCodeOf(exec);
      if (exitCode !== 0) throw new ExecFailedError(program, exitCode, stderr.text());
    }
    const output = Readable.from(stdout(), { objectMode: false });
    // A reader that stops early destroys the stream: the connection ends and the command with it.
    output.once("close", () => void end(false));
    return output;
  }

  async execWithInput(containerName: string, command: AdminCommand, input: Readable, signal: AbortSignal): Promise<ExecResult> {
    const program = command.command[0] ?? "";
    // Failures reach the caller through the rejection; an `error` event nobody hears would crash the process.
    input.on("error", () => undefined);
    const output = new OutputTail();
    let started: StartedExec;
    try {
      signal.throwIfAborted();
      started = await this.#startExec(containerName, command, true, (chunk) => output.push(chunk));
    } catch (error) {
      input.destroy();
      throw error;
    }
    const { exec, socket } = started;
    const abort = () => {
      const error = abortError(program, signal);
      socket.destroy(error);
      input.destroy(error);
    };
    signal.addEventListener("abort", abort, { once: true });
    if (signal.aborted) abort();
    let exited = false;
    let written = false;
    let endedFirst = false;
    try {
      const reading = (async () => {
        for await (const chunk of started.stdout) output.push(chunk);
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      // A command that ends before its input does (a load that failed) is not kept waiting for
      // the rest of the input: its exit code tells why.
      void reading.then(() => {
        if (written) return;
        endedFirst = true;
        input.destroy();
      });
      const writeError = await writeStdin(socket, command.stdin, input).then(
        () => undefined,
        (error: unknown) => error,
      );
      written = true;
      if (writeError instanceof InputError && !endedFirst) {
        // Its stdin cut short, the command could well exit 0 on what it got (SQL ends at any
        // statement): it is ended instead, and the load fails with the input's error.
        socket.destroy();
        await reading;
        signal.throwIfAborted();
        throw writeError.cause;
      }
      const readError = await reading;
      signal.throwIfAborted();
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- the stream's rejection, rethrown as it came
      if (readError !== undefined) throw readError;
      const exitCode = await exitCodeOf(exec);
      exited = exitCode !== -1;
      if (exitCode !== 0) throw new ExecFailedError(program, exitCode, output.text());
      if (writeError !== undefined) {
        throw new ExecFailedError(program, 0, output.text(), `${program} exited 0 before it read all its input`);
      }
      return { exitCode, output: output.text() };
    } catch (error) {
      input.destroy();
      throw error;
    } finally {
      signal.removeEventListener("abort", abort);
      socket.destroy();
      if (!exited) await this.#killExec(containerName, started, command.user);
    }
  }

  async writeVolumeFile({ volumeName, labels, spec, path, mode, size }: VolumeFile, content: Readable, signal: AbortSignal): Promise<void> {
    content.on("error", () => undefined); // reaches the caller through the rejection
    try {
      signal.throwIfAborted();
      // The volume is filled from the image at this mount, as for the database's own container.
      await this.#withVolumeWriter({ volumeName, labels, spec }, { copyImageData: true }, (container) =>
        putStreamedFile(container, spec, { path, mode: mode ?? 0o600, size }, content, signal),
      );
    } catch (error) {
      content.destroy();
      throw error;
    }
  }

  async writeVolumeArchives(target: Omit<VolumeFile, "path" | "mode" | "size">, next: () => Promise<Readable | null>, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    await this.#withVolumeWriter(target, { copyImageData: false }, async (container) => {
      for (let archive = await next(); archive !== null; archive = await next()) {
        archive.on("error", () => undefined); // reaches the caller through putArchive's rejection
        try {
          await container.putArchive(archive, { path: target.spec.dataPath, abortSignal: signal });
        } finally {
          archive.destroy();
        }
      }
    });
  }

  /**
   * A container created (never started) only to give Docker's archive endpoint a way into the
   * volume, removed after `write`. `copyImageData`: whether Docker fills a new volume from the
   * image's data directory at this mount (as at a database's own first start).
   */
  async #withVolumeWriter(
    { volumeName, labels, spec }: Omit<VolumeFile, "path" | "mode" | "size">,
    { copyImageData }: { copyImageData: boolean },
    write: (container: Docker.Container) => Promise<void>,
  ): Promise<void> {
    const name = `${volumeName}-load`;
    await this.#removeNow(name); // a leftover of an interrupted write
    try {
      await this.#docker.createContainer({
        name,
        Image: spec.image,
        Labels: labelsOf(labels, this.#deploymentId),
        HostConfig: {
          NetworkMode: "none",
          Mounts: [{ Type: "volume", Source: volumeName, Target: spec.dataPath, ...(copyImageData ? {} : { VolumeOptions: NO_COPY }) }],
        },
      });
    } catch (error) {
      if (statusOf(error) === 404) throw new PermanentError(`image ${spec.image} is not available on the Docker host`);
      throw error;
    }
    try {
      await write(this.#docker.getContainer(name));
    } finally {
      await this.#removeNow(name);
    }
  }

  async logTail(containerName: string, lines: number): Promise<string> {
    try {
      const raw = await this.#docker.getContainer(containerName).logs({ stdout: true, stderr: true, tail: lines, follow: false });
      const text: Buffer[] = [];
      for await (const chunk of demuxed([raw], (stderr) => text.push(stderr))) text.push(chunk);
      return Buffer.concat(text).toString("utf8");
    } catch (error) {
      if (statusOf(error) === 404) return "";
      throw error;
    }
  }

  /**
   * Starts `command` on a hijacked connection (stdin attached when asked), behind a shell that
   * first prints its PID on stdout, then becomes the command: Docker does not end an exec whose
   * client went away (a `pg_dump` blocked on a full pipe, holding its snapshot, would stay for
   * ever), so an exec ended early is killed by that PID (`#killExec`). Resolves once the PID is
   * read; `stdout` yields the command's own stdout, and `onStderr` gets its stderr.
   */
  async #startExec(containerName: string, { command, user }: AdminCommand, attachStdin: boolean, onStderr: (chunk: Buffer) => void): Promise<StartedExec> {
    const exec = await this.#docker.getContainer(containerName).exec({
      Cmd: ["sh", "-c", 'echo "$$"; exec "$@"', "berth-exec", ...command],
      AttachStdin: attachStdin,
      AttachStdout: true,
      AttachStderr: true,
      ...(user ? { User: user } : {}),
    });
    const socket = await exec.start({ hijack: true, stdin: attachStdin });
    // Its failures reach the readers and writers; an `error` event nobody hears would crash the process.
    socket.on("error", () => undefined);
    const frames = demuxed(socket, onStderr);
    let head = Buffer.alloc(0);
    let pid: number | undefined;
    try {
      while (pid === undefined) {
        const next = await frames.next();
        if (next.done) break; // it never ran (no shell in the image?): its exit code tells
        head = Buffer.concat([head, next.value]);
        const newline = head.indexOf(0x0a);
        if (newline === -1) continue;
        pid = Number(head.subarray(0, newline).toString());
        head = head.subarray(newline + 1);
      }
    } catch (error) {
      socket.destroy();
      throw error;
    }
    const rest = head;
    async function* stdout(): AsyncGenerator<Buffer> {
      if (rest.length > 0) yield rest;
      yield* frames;
    }
    return { exec, socket, pid: Number.isInteger(pid) ? pid : undefined, stdout: stdout() };
  }

  /**
   * Ends an exec that may still run. Docker makes each exec the leader of a process group of its
   * own, so the whole group goes (the children of a script too); only while Docker still sees it
   * running, so that its PID cannot be another process's by now.
   */
  async #killExec(containerName: string, { exec, pid }: StartedExec, user: string | undefined): Promise<void> {
    if (pid === undefined) return;
    try {
      if (!(await exec.inspect()).Running) return;
      await this.exec(containerName, { command: ["sh", "-c", 'kill -KILL "-$1"', "berth-kill", String(pid)], ...(user ? { user } : {}) }, AbortSignal.timeout(KILL_TIMEOUT_MS));
    } catch {
      // The container went away meanwhile (and the command with it).
    }
  }

  /** Removes a container at once (no clean stop); absent is fine. */
  async #removeNow(name: string): Promise<void> {
    try {
      await this.#docker.getContainer(name).remove({ force: true, v: false });
    } catch (error) {
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  }

  async stopAndArchive(containerName: string, path: string): Promise<Readable> {
    const container = this.#docker.getContainer(containerName);
    try {
      await container.stop();
    } catch (error) {
      if (statusOf(error) !== 304) throw error; // 304: stopped already
    }
    return (await container.getArchive({ path })) as unknown as Readable;
  }

  async removeContainer(name: string): Promise<void> {
    const container = this.#docker.getContainer(name);
    try {
      // A clean stop first, so the database flushes; then remove.
      await container.stop();
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return;
      if (status !== 304) throw error;
    }
    try {
      await container.remove({ force: true, v: false });
    } catch (error) {
      // 404: gone; 409: removal already in progress.
      if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
    }
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.#docker.getVolume(name).remove();
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    // Then its disk: unmounted, detached, deleted (each step only if still there).
    await this.#disks?.remove(name);
  }

  async listManaged(): Promise<ManagedObjects> {
    const filters = JSON.stringify({ label: [`${LABEL.managed}=true`, `${LABEL.deployment}=${this.#deploymentId}`] });
    const [containers, volumes] = await Promise.all([
      this.#docker.listContainers({ all: true, filters }),
      this.#docker.listVolumes({ filters }),
    ]);
    return {
      containers: containers.map((c) => ({
        name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
        resourceId: c.Labels[LABEL.resource] ?? "",
      })),
      volumes: (volumes.Volumes ?? []).map((v) => ({ name: v.Name, resourceId: v.Labels?.[LABEL.resource] ?? "" })),
    };
  }

  async usage(containerName: string, volumeName: string): Promise<ContainerUsage | undefined> {
    let stats: Docker.ContainerStats;
    try {
      // One sample, no CPU delta: newer engines answer at once; Docker 20.10 still waits for its
      // collector's next tick (about 1 s here), so callers sample containers concurrently.
      stats = await this.#docker.getContainer(containerName).stats({ stream: false, "one-shot": true });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
    const memory = stats.memory_stats as Partial<Docker.MemoryStats> | undefined;
    if (memory?.usage === undefined) return undefined; // a stopped container answers with empty stats
    // Without the page cache the kernel drops under pressure: cgroup v1 reports it as `cache`,
    // v2 as `inactive_file` (v1 has an `inactive_file` too, hence the order).
    const cache = memory.stats?.cache ?? memory.stats?.inactive_file ?? 0;
    const cpuNanos = (stats.cpu_stats as Partial<Docker.CPUStats> | undefined)?.cpu_usage?.total_usage ?? 0;
    return { memoryBytes: Math.max(0, memory.usage - cache), diskBytes: await this.#volumeBytes(volumeName), cpuNanos };
  }

  async listGatewayRoutes(): Promise<GatewayRoute[]> {
    const filters = JSON.stringify({ label: [`${LABEL.managed}=true`, `${LABEL.deployment}=${this.#deploymentId}`, LABEL.port, LABEL.socket] });
    const containers = await this.#docker.listContainers({ all: true, filters });
    const routes: GatewayRoute[] = [];
    for (const container of containers) {
      const port = Number(container.Labels[LABEL.port]);
      const socket = container.Labels[LABEL.socket]!;
      // The socket lives in one of the container's mounts (its volume): the same file on the host.
      const mount = container.Mounts.find((m) => socket.startsWith(`${m.Destination.replace(/\/$/, "")}/`));
      if (!Number.isInteger(port) || !mount?.Source) continue;
      routes.push({
        resourceId: container.Labels[LABEL.resource] ?? "",
        containerName: (container.Names[0] ?? container.Id).replace(/^\//, ""),
        port,
        socketPath: join(mount.Source, socket.slice(mount.Destination.replace(/\/$/, "").length)),
        running: container.State === "running",
      });
    }
    return routes;
  }

  async watchContainerEvents(onEvent: (event: ContainerEvent) => void, signal: AbortSignal, options: { since?: Date } = {}): Promise<void> {
    signal.throwIfAborted();
    const filters = { type: ["container"], label: [`${LABEL.managed}=true`, `${LABEL.deployment}=${this.#deploymentId}`] };
    // Docker takes `since` in seconds, fractions allowed.
    const since = options.since ? { since: options.since.getTime() / 1000 } : {};
    const stream = (await this.#docker.getEvents({ filters: JSON.stringify(filters), ...since })) as NodeJS.ReadableStream & { destroy(): void };
    // Docker sends one JSON object a line.
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    const stop = () => {
      lines.close();
      stream.destroy();
    };
    stream.once("close", () => lines.close());
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const line of lines) {
        if (!line.trim()) continue;
        const raw = JSON.parse(line) as DockerEventMessage;
        const attributes = raw.Actor?.Attributes ?? {};
        const exitCode = attributes.exitCode === undefined ? undefined : Number(attributes.exitCode);
        onEvent({
          action: (raw.Action ?? raw.status ?? "").split(":")[0]!,
          containerName: attributes.name ?? raw.Actor?.ID ?? "",
          resourceId: attributes[LABEL.resource] ?? "",
          ...(exitCode === undefined || Number.isNaN(exitCode) ? {} : { exitCode }),
          at: new Date(raw.timeNano ? Number(BigInt(raw.timeNano) / 1_000_000n) : (raw.time ?? 0) * 1000),
        });
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
    }
    if (!signal.aborted) throw new Error("the Docker event stream ended");
  }

  /**
   * Disk used by a volume. Measured on this machine (Docker 20.10, overlay2, a PostgreSQL volume of
   * 160 MB in 1,300 files among 31 such volumes): walking the volume's Mountpoint from the worker
   * takes 11-18 ms and matches `du` to the byte; `/system/df` takes 105-115 ms, sizes every volume,
   * image and container of the host on each call (the cost grows with the host, not the database)
   * and refuses a second call while one runs (500); an exec in the container costs a process in
   * the customer's cgroup, 50-65 ms, and Berth's local images have no `du`. So: walk the
   * Mountpoint, which needs the worker on the Docker host with read access to its volumes (root);
   * where it cannot (a remote DOCKER_HOST, no permission), fall back to one shared `/system/df`.
   */
  async #volumeBytes(volumeName: string): Promise<number> {
    const { Mountpoint, Options } = await this.#docker.getVolume(volumeName).inspect();
    // A volume on a disk of its own binds a directory of the mounted image: walk that directory
    // (Docker mounts a bind volume at its Mountpoint only while a container uses it).
    const root = Options?.type === "none" && Options.o === "bind" && Options.device ? Options.device : Mountpoint;
    try {
      return await diskBytesUnder(root);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "EACCES" && code !== "EPERM") throw error;
      return this.#volumeBytesFromDf(volumeName);
    }
  }

  async #volumeBytesFromDf(volumeName: string): Promise<number> {
    if (!this.#df || Date.now() - this.#df.at > DF_REUSE_MS) {
      const sizes = this.#docker
        .df()
        .then((df: { Volumes?: Docker.VolumeInspectInfo[] }) => new Map((df.Volumes ?? []).map((v) => [v.Name, v.UsageData?.Size ?? -1])));
      const entry = { at: Date.now(), sizes };
      this.#df = entry;
      sizes.catch(() => {
        if (this.#df === entry) this.#df = undefined;
      });
    }
    const size = (await this.#df.sizes).get(volumeName);
    if (size === undefined || size < 0) throw new Error(`Docker reports no size for volume ${volumeName}`);
    return size;
  }
}

/**
 * Bytes allocated under a directory, as `du -s` counts them: the blocks of every entry, hard
 * links once. Files the database removes during the walk are skipped; a missing root is an error.
 */
async function diskBytesUnder(root: string): Promise<number> {
  const linked = new Set<number>();
  let total = 0;
  const visit = async (path: string): Promise<void> => {
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if (path !== root && (error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    if (info.nlink > 1 && !info.isDirectory()) {
      if (linked.has(info.ino)) return;
      linked.add(info.ino);
    }
    total += info.blocks * 512;
    if (!info.isDirectory()) return;
    let names: string[];
    try {
      names = await readdir(path);
    } catch (error) {
      if (path !== root && (error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    await Promise.all(names.map((name) => visit(join(path, name))));
  };
  await visit(root);
  return total;
}

interface DockerEventMessage {
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number | string;
}

/** How much of an administrative command's output is kept (for the error it may explain). */
const EXEC_OUTPUT_BYTES = 4096;

/** The last `EXEC_OUTPUT_BYTES` of what a command said. */
class OutputTail {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;

  push(chunk: Buffer): void {
    // A copy: a slice would keep the whole chunk it came from (stdout's, up to 64 KiB) alive.
    this.#chunks.push(Buffer.from(chunk));
    this.#bytes += chunk.length;
    while (this.#bytes - this.#chunks[0]!.length >= EXEC_OUTPUT_BYTES) this.#bytes -= this.#chunks.shift()!.length;
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString("utf8").slice(-EXEC_OUTPUT_BYTES).trim();
  }
}

const FRAME_HEADER_BYTES = 8;

/** A mount that leaves a new volume empty (the volume exists already: its driver options are its own, hence no `DriverConfig`). */
const NO_COPY = { NoCopy: true } as Docker.MountSettings["VolumeOptions"];

/**
 * The payloads of Docker's multiplexed attach stream (frames of an 8-byte header, with the stream
 * and the payload's length, then the payload): stdout's yielded, stderr's given to `onStderr`.
 * Read only as fast as the consumer takes them, so a slow consumer holds the command back
 * (dockerode's `demuxStream` writes on regardless, into memory).
 */
async function* demuxed(stream: AsyncIterable<Buffer> | Iterable<Buffer>, onStderr: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  let header: Buffer = Buffer.alloc(0);
  let kind = 0;
  let remaining = 0;
  for await (const chunk of stream) {
    let offset = 0;
    while (offset < chunk.length) {
      if (remaining === 0) {
        const part = chunk.subarray(offset, offset + FRAME_HEADER_BYTES - header.length);
        header = header.length === 0 ? part : Buffer.concat([header, part]);
        offset += part.length;
        if (header.length < FRAME_HEADER_BYTES) break;
        kind = header[0]!;
        remaining = header.readUInt32BE(4);
        header = Buffer.alloc(0);
        if (kind !== 1 && kind !== 2) throw new Error(`Docker's attach stream sent a frame of stream ${kind} (not stdout or stderr)`);
        continue;
      }
      const payload = chunk.subarray(offset, offset + remaining);
      offset += payload.length;
      remaining -= payload.length;
      if (kind === 1) yield payload;
      else onStderr(payload);
    }
  }
  if (header.length > 0 || remaining > 0) throw new Error("Docker's attach stream ended inside a frame");
}

interface StartedExec {
  readonly exec: Docker.Exec;
  /** The hijacked connection: the command's stdin, and its stdout and stderr multiplexed. */
  readonly socket: Duplex;
  /** The command's PID in the container (undefined when it never ran). */
  readonly pid: number | undefined;
  /** The command's stdout, read as it is consumed. */
  readonly stdout: AsyncGenerator<Buffer>;
}

/** How long killing an exec ended early may take. */
const KILL_TIMEOUT_MS = 10_000;

/** A failure of the input stream itself (not of the connection it is written to): its `cause`. */
class InputError extends Error {
  constructor(cause: unknown) {
    super("the input failed", { cause });
  }
}

/** Writes `prefix`, then `input`, to a command's stdin, waiting whenever the connection is full; then closes it. */
async function writeStdin(socket: Duplex, prefix: string | undefined, input: Readable): Promise<void> {
  if (prefix !== undefined) await writeChunk(socket, Buffer.from(prefix));
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await chunks.next();
    } catch (error) {
      throw new InputError(error);
    }
    if (next.done) break;
    await writeChunk(socket, next.value);
  }
  socket.end();
  await finished(socket, { readable: false });
}

async function writeChunk(socket: Duplex, chunk: Buffer | string): Promise<void> {
  if (socket.destroyed || socket.writableEnded) throw new Error("the command's stdin is closed");
  if (socket.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const settle = (error?: Error) => {
      socket.off("drain", onDrain);
      socket.off("close", onClose);
      socket.off("error", settle);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => settle();
    const onClose = () => settle(new Error("the connection closed while the command's stdin was written"));
    socket.on("drain", onDrain);
    socket.on("close", onClose);
    socket.on("error", settle);
  });
}

/** How long an exec whose streams have ended may take to have its exit recorded by Docker. */
const EXIT_WAIT_MS = 10_000;
const EXIT_POLL_MS = 50;

/** The exit code of an exec whose streams have ended (Docker may record it a moment later); -1 when it does not. */
async function exitCodeOf(exec: Docker.Exec): Promise<number> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  for (;;) {
    const { Running, ExitCode } = await exec.inspect();
    if (!Running && ExitCode !== null) return ExitCode;
    if (Date.now() > deadline) return -1;
    await sleep(EXIT_POLL_MS);
  }
}

function abortError(program: string, signal: AbortSignal): Error {
  return new Error(`${program} was aborted`, { cause: signal.reason });
}

/** The largest size a ustar header holds (11 octal digits); past it, the size goes in a pax header. */
const USTAR_MAX_SIZE = 0o77777777777;

/**
 * Streams `content` into the container as one file under `spec.dataPath`, in a tar archive made
 * on the fly (Docker's archive endpoint takes nothing else), owned by `spec.fileOwner`.
 */
async function putStreamedFile(
  container: Docker.Container,
  spec: ContainerSpec,
  file: { path: string; mode: number; size: number },
  content: Readable,
  signal: AbortSignal,
): Promise<void> {
  const owner = { uid: spec.fileOwner.uid, gid: spec.fileOwner.gid };
  const pack = tar.pack();
  // The request ends at the first failure: tar-stream only closes its stream on a wrong length,
  // which would leave Docker waiting for the rest of the archive.
  const failed = new AbortController();
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    failed.abort(error);
  };
  const parts = file.path.split("/");
  for (let depth = 1; depth < parts.length; depth++) {
    pack.entry({ name: `${parts.slice(0, depth).join("/")}/`, type: "directory", mode: 0o700, ...owner });
  }
  let written = 0;
  const entry = pack.entry(
    { name: file.path, size: file.size, mode: file.mode, ...owner, ...(file.size > USTAR_MAX_SIZE ? { pax: { size: String(file.size) } } : {}) },
    (error) => {
      if (error) fail(new Error(`the content ended after ${written} of its ${file.size} bytes`, { cause: error }));
      else pack.finalize();
    },
  );
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      written += chunk.length;
      if (written <= file.size) return done(null, chunk);
      const error = new Error(`the content is longer than its ${file.size} bytes`);
      fail(error); // before the entry's own complaint about its length
      done(error);
    },
  });
  content.once("error", fail); // first: before the entry's complaint about the length it got
  pipeline(content, counted, entry).catch(fail);
  try {
    await container.putArchive(pack, { path: spec.dataPath, abortSignal: AbortSignal.any([signal, failed.signal]) });
  } catch (error) {
    signal.throwIfAborted();
    throw failure ?? error;
  } finally {
    pack.destroy();
  }
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the first failure, rethrown as it came
  if (failure !== undefined) throw failure;
}

/** The spec's files as one tar archive rooted at `/`, each parent directory made for the owner, mode 0700. */
function filesArchive({ files, fileOwner }: ContainerSpec): NodeJS.ReadableStream {
  const pack = tar.pack();
  const owner = { uid: fileOwner.uid, gid: fileOwner.gid };
  const directories = new Set<string>();
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    for (let depth = 1; depth < parts.length; depth++) {
      const directory = parts.slice(0, depth).join("/");
      // Directories the image has (/run, /data…) keep their own owner and mode: only Berth's own are made.
      if (depth === 1 || directories.has(directory)) continue;
      directories.add(directory);
      pack.entry({ name: `${directory}/`, type: "directory", mode: 0o700, ...owner });
    }
    pack.entry({ name: parts.join("/"), mode: file.mode ?? 0o400, ...owner }, file.content);
  }
  pack.finalize();
  return pack;
}

/** How long one `/system/df` answer serves the fallback of `usage` (one df sizes every volume of the host). */
const DF_REUSE_MS = 10_000;

/** Docker's zero time ("0001-01-01T00:00:00Z") means the container never stopped. */
function finishedAtOf(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1971 ? undefined : date;
}

function statusOf(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "statusCode" in error
    ? (error as { statusCode?: number }).statusCode
    : undefined;
}

function dockerOptionsFor(dockerHost: string): Docker.DockerOptions {
  const url = new URL(dockerHost);
  if (url.protocol === "unix:") return { socketPath: url.pathname };
  return { host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === "https:" ? "https" : "http" };
}

/**
 * The runtime as seen by the rest of the worker, with every error that leaves it reported
 * (the Docker errors metric). Methods run on the runtime itself, so its private state works.
 */
export function reportingErrors<T extends object>(runtime: T, onError: (operation: string, error: unknown) => void): T {
  return new Proxy(runtime, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      const operation = String(property);
      return (...args: unknown[]) => {
        try {
          const result: unknown = value.apply(target, args);
          if (result instanceof Promise) {
            return result.catch((error: unknown) => {
              onError(operation, error);
              throw error;
            });
          }
          return result;
        } catch (error) {
          onError(operation, error);
          throw error;
        }
      };
    },
  });
}

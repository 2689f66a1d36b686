import Docker from "dockerode";
import { PermanentError } from "../errors.js";
import {
  LABEL,
  labelsOf,
  type ContainerRequest,
  type ContainerRuntime,
  type ContainerState,
  type ManagedLabels,
  type ManagedObjects,
} from "./container-runtime.js";

export interface DockerRuntimeOptions {
  /** e.g. unix:///var/run/docker.sock or tcp://127.0.0.1:2375 */
  dockerHost: string;
}

/** The one place Berth talks to Docker (dockerode). */
export class DockerRuntime implements ContainerRuntime {
  readonly #docker: Docker;

  constructor({ dockerHost }: DockerRuntimeOptions) {
    this.#docker = new Docker(dockerOptionsFor(dockerHost));
  }

  async ping(): Promise<void> {
    await this.#docker.ping();
  }

  async ensureVolume(name: string, labels: ManagedLabels): Promise<void> {
    // Creating a volume that exists returns it: idempotent by Docker's own contract.
    await this.#docker.createVolume({ Name: name, Labels: labelsOf(labels) });
  }

  async ensureContainerRunning({ name, volumeName, spec, labels }: ContainerRequest): Promise<ContainerState> {
    let container = this.#docker.getContainer(name);
    try {
      await this.#docker.createContainer({
        name,
        Image: spec.image,
        Cmd: [...spec.command],
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: labelsOf(labels),
        StopTimeout: spec.stopTimeoutSeconds,
        HostConfig: {
          // No bridge here: each database listens on its own port of the host's network, on the bind address only.
          NetworkMode: "host",
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
    container = this.#docker.getContainer(name);
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
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
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
  }

  async listManaged(): Promise<ManagedObjects> {
    const filters = JSON.stringify({ label: [`${LABEL.managed}=true`] });
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

import type { ContainerSpec } from "@berth/addon-sdk";

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
}

export interface ContainerState {
  readonly name: string;
  readonly running: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly memoryBytes: number;
  readonly nanoCpus: number;
}

/** What a running database uses right now, as the container engine sees it. */
export interface ContainerUsage {
  /** Memory in use, without the page cache the kernel can drop. */
  readonly memoryBytes: number;
  /** Bytes the database's volume takes on disk. */
  readonly diskBytes: number;
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
  ensureVolume(name: string, labels: ManagedLabels): Promise<void>;
  /** Creates the container if no container has this name, then starts it. */
  ensureContainerRunning(request: ContainerRequest): Promise<ContainerState>;
  inspectContainer(name: string): Promise<ContainerState | undefined>;
  /** Stops (with the container's own stop timeout) and removes; absent is fine. */
  removeContainer(name: string): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** The containers and volumes of this deployment (other deployments sharing the host are not listed). */
  listManaged(): Promise<ManagedObjects>;
  /** Memory and disk used by a running container and its volume; undefined when the container is absent or stopped. */
  usage(containerName: string, volumeName: string): Promise<ContainerUsage | undefined>;
}

export const LABEL = {
  managed: "berth.managed",
  deployment: "berth.deployment",
  resource: "berth.resource",
  addon: "berth.addon",
  plan: "berth.plan",
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

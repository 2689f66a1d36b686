import { findPlan, type AddonCredentials, type AddonDefinition, type AddonPlan, type DatabaseUser, type Endpoint } from "@berth/addon-sdk";
import type { Operation, OperationKind, Resource } from "@berth/db";
import { recordStep, type OperationStep } from "@berth/operations";
import type { PlatformClient } from "@berth/platform-client";
import type { Logger } from "pino";
import type { WorkerDeps } from "./deps.js";
import { PermanentError } from "./errors.js";
import { containerNameOf, volumeNameOf } from "./names.js";
import { probeHostFor } from "./readiness.js";
import type { ContainerRequest } from "./runtime/container-runtime.js";

/** What one handler run sees: the operation (of kind `K`), its resource and addon, and helpers bound to them. */
export class OperationContext<K extends OperationKind = OperationKind> {
  readonly addon: AddonDefinition;
  readonly platform: PlatformClient;
  readonly image: string;
  readonly logger: Logger;

  constructor(
    readonly deps: WorkerDeps,
    readonly operation: Operation & { readonly kind: K },
    public resource: Resource,
    private readonly reportStep: (step: OperationStep) => Promise<void>,
  ) {
    const addon = deps.addons.get(resource.addon);
    const runtime = deps.addonRuntime.get(resource.addon);
    if (!addon || !runtime) throw new PermanentError(`addon ${resource.addon} is not installed in this worker`);
    this.addon = addon;
    this.platform = runtime.platform;
    this.image = runtime.image;
    this.logger = deps.logger.child({ operationId: operation.id, resourceId: resource.id, kind: operation.kind });
  }

  get containerName(): string {
    return containerNameOf(this.resource.id);
  }

  /** The database's volume: the one it was provisioned with, or the one a restore switched it to. */
  get volumeName(): string {
    return this.resource.volumeName ?? volumeNameOf(this.resource.id);
  }

  /** Records the step (one of its kind's, in the catalog) on the operation, for operators and resumption, and in the job's log. */
  async step(name: OperationStep<K>): Promise<void> {
    this.logger.info({ step: name }, "step");
    await recordStep(this.deps.db, this.operation.id, name);
    await this.reportStep(name);
  }

  plan(name: string): AddonPlan {
    const plan = findPlan(this.addon, name);
    if (!plan) throw new PermanentError(`plan ${name} does not exist for addon ${this.addon.id}`);
    return plan;
  }

  async reloadResource(): Promise<Resource> {
    this.resource = await this.deps.db.resource.findUniqueOrThrow({ where: { id: this.resource.id } });
    return this.resource;
  }

  /** Credentials are generated once; a replayed step reads the ones already stored. */
  async ensureCredentials(): Promise<AddonCredentials> {
    if (this.resource.credentials === null) {
      const sealed = this.deps.secrets.sealJson(this.addon.generateCredentials());
      await this.deps.db.resource.updateMany({ where: { id: this.resource.id, credentials: null }, data: { credentials: sealed } });
      await this.reloadResource();
    }
    return this.credentials();
  }

  credentials(): AddonCredentials {
    if (this.resource.credentials === null) throw new Error(`resource ${this.resource.id} has no credentials yet`);
    return this.deps.secrets.openJson<AddonCredentials>(this.resource.credentials);
  }

  /** Credentials the engine may accept beside the current ones: a rotation's next (before they are sent), its previous (during the grace period). */
  alsoAccepted(): AddonCredentials[] {
    return [this.resource.nextCredentials, this.resource.retiringCredentials]
      .filter((sealed): sealed is string => sealed !== null)
      .map((sealed) => this.deps.secrets.openJson<AddonCredentials>(sealed));
  }

  /** Where clients connect (public host) and where the worker probes (bind address). */
  endpoints(credentials: AddonCredentials): { public: Endpoint; probe: Endpoint } {
    const { port } = this.resource;
    if (port === null) throw new Error(`resource ${this.resource.id} has no port yet`);
    const { publicHost, bindAddress } = this.deps.placement;
    return {
      public: { host: this.resource.publicHost ?? publicHost, port, credentials },
      probe: { host: probeHostFor(bindAddress), port, credentials },
    };
  }

  /** The database's other users as recorded, their passwords opened: what `users.apply` and `containerSpec` get. */
  async databaseUsers(): Promise<DatabaseUser[]> {
    const rows = await this.deps.db.databaseUser.findMany({ where: { resourceId: this.resource.id }, orderBy: { name: "asc" } });
    return rows.map(({ name, readOnly, password }) => ({ name, readOnly, password: this.deps.secrets.openJson<{ password: string }>(password).password }));
  }

  async containerRequest(plan: AddonPlan, credentials: AddonCredentials): Promise<ContainerRequest> {
    const { port } = this.resource;
    if (port === null) throw new Error(`resource ${this.resource.id} has no port yet`);
    const users = await this.databaseUsers();
    return {
      name: this.containerName,
      volumeName: this.volumeName,
      spec: this.addon.containerSpec({ plan, credentials, alsoAccepted: this.alsoAccepted(), users, image: this.image }),
      labels: { resourceId: this.resource.id, addonId: this.addon.id, plan: plan.name },
      port,
    };
  }
}

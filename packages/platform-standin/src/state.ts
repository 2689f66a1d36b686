/**
 * What the stand-in knows about resources and apps. Config vars live on
 * resources, as on the platform where an addon's variables belong to the addon;
 * an app's config is the merge of its resources' configs.
 */

interface ConfigEntry {
  value: string;
  /** Order of writes across all resources, so the newest value of a name wins in an app's merged config. */
  seq: number;
}

export interface ResourceRecord {
  readonly resourceId: string;
  addonId: string;
  /** Unknown while the provider's callbacks arrive before the provision answer was recorded. */
  appId?: string;
  plan?: string;
  uuid?: string;
  readonly config: Map<string, ConfigEntry>;
}

export class StandInState {
  readonly #resources = new Map<string, ResourceRecord>();
  #seq = 0;

  /**
   * The resource a call of `addonId` is about; created if unknown, because the
   * provider may call back before the provision answer reached the platform.
   * Undefined when it belongs to another addon.
   */
  resourceForCall(addonId: string, resourceId: string): ResourceRecord | undefined {
    const existing = this.#resources.get(resourceId);
    if (existing) return existing.addonId === addonId ? existing : undefined;
    const created: ResourceRecord = { resourceId, addonId, config: new Map() };
    this.#resources.set(resourceId, created);
    return created;
  }

  recordProvisioned(input: {
    addonId: string;
    resourceId: string;
    appId: string;
    plan: string;
    uuid?: string;
    config?: Record<string, string>;
  }): void {
    let record = this.#resources.get(input.resourceId);
    if (!record || record.addonId !== input.addonId) {
      record = { resourceId: input.resourceId, addonId: input.addonId, config: new Map() };
      this.#resources.set(input.resourceId, record);
    }
    record.appId = input.appId;
    record.plan = input.plan;
    if (input.uuid !== undefined) record.uuid = input.uuid;
    // The answer was written before any callback the provider made since: a name already set by a callback is newer.
    for (const [name, value] of Object.entries(input.config ?? {})) {
      if (!record.config.has(name)) record.config.set(name, { value, seq: ++this.#seq });
    }
  }

  recordPlanChanged(addonId: string, resourceId: string, plan: string, config: Record<string, string> | undefined): void {
    const record = this.#resources.get(resourceId);
    if (!record || record.addonId !== addonId) return;
    record.plan = plan;
    if (config) this.setConfig(record, config);
  }

  forget(addonId: string, resourceId: string): void {
    if (this.#resources.get(resourceId)?.addonId === addonId) this.#resources.delete(resourceId);
  }

  setConfig(record: ResourceRecord, config: Record<string, string>): void {
    for (const [name, value] of Object.entries(config)) record.config.set(name, { value, seq: ++this.#seq });
  }

  addonConfig(resourceId: string): Record<string, string> | undefined {
    const record = this.#resources.get(resourceId);
    if (!record) return undefined;
    return Object.fromEntries([...record.config].map(([name, entry]) => [name, entry.value]));
  }

  /** Resources of an addon attached to an app, in provisioning order: one entry of `GET /v1/provider/apps` each. */
  resourcesOfAddon(addonId: string): ResourceRecord[] {
    return [...this.#resources.values()].filter(
      (record): record is ResourceRecord & { appId: string } => record.addonId === addonId && record.appId !== undefined,
    );
  }

  resourcesOfApp(appId: string): ResourceRecord[] {
    return [...this.#resources.values()].filter((record) => record.appId === appId);
  }

  /** An app's config: every config var of its resources, the newest value of a name winning. */
  appConfig(appId: string): Record<string, string> {
    const merged = new Map<string, ConfigEntry>();
    for (const record of this.resourcesOfApp(appId)) {
      for (const [name, entry] of record.config) {
        const current = merged.get(name);
        if (!current || current.seq < entry.seq) merged.set(name, entry);
      }
    }
    return Object.fromEntries([...merged].map(([name, entry]) => [name, entry.value]));
  }
}

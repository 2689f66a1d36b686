/** Public types of the platform stand-in. */

/** One addon as the platform knows it from its manifest (spec §3.1). */
export interface StandInAddon {
  /** Addon id, e.g. `postgresql`. */
  id: string;
  /** Manifest credentials: the platform sends them to the provider, the provider sends them back (spec §2.1, §4.1). */
  username: string;
  password: string;
  /** Manifest `config_vars`: the only names the provider may set. */
  configVars: string[];
}

export interface PlatformStandInOptions {
  addons: StandInAddon[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port, read it back from `url`. */
  port?: number;
  /** Fastify's request log. Default false. */
  logger?: boolean;
  /** Called once per Platform API call, after it is answered (the CLI logs them with this). */
  onCall?: (call: RecordedCall) => void;
}

/** One Platform API call received by the stand-in, whatever its answer (401 and injected faults included). */
export interface RecordedCall {
  at: Date;
  method: string;
  /** URL path, without the query string. */
  path: string;
  /** Query string without `?`, when there was one. */
  query?: string;
  /** The addon whose credentials authenticated the call; absent when authentication failed. */
  addonId?: string;
  resourceId?: string;
  appId?: string;
  /** Parsed JSON body as received (the `[{name, value}]` form is kept as is); undefined when empty. */
  body: unknown;
  status: number;
}

export interface InjectedFault {
  /** 429 and 5xx are worth a retry to a client; the 4xx are the platform's refusals (a provider that must not retry them). */
  status: 400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 502 | 503;
  /** The answer's JSON body; by default `{"error": "Retry later"}` for 429, else `{"error": "injected fault <status>"}`. */
  body?: unknown;
  /** How many matching calls get this answer. */
  times: number;
  /** Sent as `Retry-After` when given. */
  retryAfterSeconds?: number;
  /** Only calls whose path matches; all Platform API calls otherwise. */
  paths?: RegExp;
}

export interface DriverResponse<B = unknown> {
  status: number;
  body: B;
}

/** Drives a provider's endpoints (spec §2) the way the platform does. */
export interface PlatformDriver {
  /**
   * `POST <base>`. A `uuid` is generated when absent, since the platform sends
   * one in practice (spec §7.2); pass `uuid: null` to leave it out of the body.
   */
  provision(body: {
    plan: string;
    app_id: string;
    uuid?: string | null;
    options?: Record<string, string>;
  }): Promise<DriverResponse>;
  /** `PUT <base>/:id` by default (spec §7.3). */
  changePlan(
    resourceId: string,
    plan: string,
    options?: { method?: "PUT" | "PATCH"; planOptions?: Record<string, string> },
  ): Promise<DriverResponse>;
  /** `DELETE <base>/:id`; the body is the raw text, which must be empty on 204 (spec §2.4). */
  deprovision(resourceId: string): Promise<DriverResponse<string>>;
  /** `POST <base>/:id/suspend`, no body (spec §2.5: an unpaid account); 204 expected. */
  suspend(resourceId: string): Promise<DriverResponse<string>>;
  /** `POST <base>/:id/resume`, no body (spec §2.5: the account restored); 204 expected. */
  resume(resourceId: string): Promise<DriverResponse<string>>;
  /**
   * Another request under `<base>/` with the addon's credentials (`path` relative to it, e.g.
   * `<id>/backups`): Berth's own endpoints beside the protocol's, as an addon's owner calls them.
   */
  request(method: string, path: string, body?: unknown): Promise<DriverResponse>;
}

export interface PlatformStandIn {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
  /** A snapshot of every Platform API call received so far, oldest first. */
  readonly calls: readonly RecordedCall[];
  /** Config vars of a resource, also one the stand-in only knows from the provider's callbacks; undefined if never seen. */
  addonConfig(resourceId: string): Record<string, string> | undefined;
  /** How many `POST .../actions/provision` for this resource were accepted (answered 200). */
  provisionActions(resourceId: string): number;
  /** Resolves with the first accepted provision action for the resource; rejects after `timeoutMs` (default 60 s). */
  waitForProvisioned(resourceId: string, options?: { timeoutMs?: number }): Promise<RecordedCall>;
  /** The next `times` matching calls (after authentication) answer `status` instead of being served. */
  injectFaults(fault: InjectedFault): void;
  driver(addonId: string, providerBaseUrl: string): PlatformDriver;
}

/**
 * What the addon contract suite needs from an engine to check a database the
 * way a customer's app would: connect with the delivered URL, write, read, and
 * read back the engine's own view of the plan's settings. Each addon package
 * exports one from its `./testing` entry; nothing in production imports it.
 */
import type { AddonPlan } from "./addon-definition.js";

export interface EngineTestClient {
  /** Opens a session with a URL exactly as the platform received it; rejects if the engine refuses it. */
  connect(url: string): Promise<EngineSession>;
  /** Settings the engine reports for a database on this plan, as strings (e.g. `{ max_connections: "20" }`). */
  expectedSettings(plan: AddonPlan): Record<string, string>;
}

export interface EngineSession {
  write(key: string, value: string): Promise<void>;
  read(key: string): Promise<string | undefined>;
  setting(name: string): Promise<string>;
  close(): Promise<void>;
}

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
  /**
   * What a hostile customer tries with the delivered URL to reach past their own database (the
   * host, the control plane, other tenants): run a program, read or write server files, load
   * code, become an administrator, replicate elsewhere. Each resolves with the engine's refusal
   * (its error, checked to be a permission refusal, not a failed connection) and rejects with
   * "allowed: …" when the engine let it through.
   */
  readonly attacks: Readonly<Record<string, (url: string) => Promise<string>>>;
}

/** The error an attack expects: the engine's permission refusal, recognised by `isRefusal`. */
export async function expectRefusal(attempt: () => Promise<unknown>, isRefusal: (error: unknown) => boolean): Promise<string> {
  let outcome: unknown;
  try {
    outcome = await attempt();
  } catch (error) {
    if (isRefusal(error)) return error instanceof Error ? error.message : String(error);
    throw error;
  }
  throw new Error(`allowed: ${JSON.stringify(outcome)?.slice(0, 200)}`);
}

export interface EngineSession {
  write(key: string, value: string): Promise<void>;
  read(key: string): Promise<string | undefined>;
  setting(name: string): Promise<string>;
  close(): Promise<void>;
}

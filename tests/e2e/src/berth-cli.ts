import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The real `berth` (apps/cli/bin/berth.js: tsx over the sources), as an operator runs it. */
const BIN = fileURLToPath(new URL("../../../apps/cli/bin/berth.js", import.meta.url));

export interface BerthRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `berth` as a subprocess with exactly this BERTH_* environment (inherited
 * BERTH_* variables are dropped), and waits for it to exit by itself: a command
 * that left a connection open would hang here until the timeout kills it.
 */
export function runBerth(args: readonly string[], env: Record<string, string>, { timeoutMs = 120_000 } = {}): Promise<BerthRun> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("BERTH_") && name !== "INIT_CWD" && name !== "npm_lifecycle_event"),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

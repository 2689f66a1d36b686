import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { WorkerProcess } from "./stack.js";

const entry = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
/** `--import tsx` resolves from the working directory: this package's, which depends on tsx. */
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/**
 * Starts `worker-process.ts` with this environment and resolves once it consumes the queue, or
 * (with `FAULT_HOLD` in the environment) once it is loaded and waits for `release()`.
 */
export async function spawnWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  let output = "";
  const said = (word: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => output.includes(`${word}\n`) && resolve();
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        check();
      });
      check();
      void exited.then(({ code, signal }) => reject(new Error(`worker process exited before it was ${word} (${code ?? signal})`)));
    });
  await said(env.FAULT_HOLD ? "loaded" : "ready");
  return {
    pid: child.pid!,
    exited,
    async release() {
      child.kill("SIGUSR2");
      await said("ready");
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { WorkerProcess } from "./stack.js";

const entry = fileURLToPath(new URL("./worker-process.ts", import.meta.url));
/** `--import tsx` resolves from the working directory: this package's, which depends on tsx. */
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Starts `worker-process.ts` with this environment and resolves once it consumes the queue. */
export async function spawnWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker process exited before it was ready (${code ?? signal})`)));
  });
  return {
    pid: child.pid!,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

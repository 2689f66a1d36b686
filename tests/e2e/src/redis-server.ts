import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Redis } from "ioredis";
import { freePort } from "./ports.js";

/** A Redis of a test's own, without persistence: a restart loses everything, the worst case. */
export interface TestRedis {
  readonly url: string;
  /** SIGKILL, then a fresh start on the same port: every job and lock is gone. */
  crashAndRestart(): Promise<void>;
  /** SIGTERM; the port stays this Redis's for `start()`. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty), after `stop()`. */
  start(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child = await launch(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    async crashAndRestart() {
      child.kill("SIGKILL");
      await once(child, "exit");
      child = await launch(port);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await once(child, "exit");
      }
    },
    async start() {
      if (child.exitCode === null && child.signalCode === null) return;
      child = await launch(port);
    },
  };
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  const client = new Redis(port, "127.0.0.1", { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  client.on("error", () => undefined);
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return child;
    } catch {
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not start on port ${port}`);
}

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A Docker Engine of a test's own (its own socket, data and runtime dirs), so a
 * test can restart it without disturbing the engine every other test uses.
 */
export interface PrivateDockerEngine {
  /** DOCKER_HOST for it. */
  readonly host: string;
  /** Copies an image from the shared engine into this one. */
  loadImage(tag: string): Promise<void>;
  /** `docker` CLI against this engine. */
  docker(...args: string[]): Promise<string>;
  stopDaemon(): Promise<void>;
  startDaemon(): Promise<void>;
  /** Removes every container and volume, stops the daemon, deletes its directories. */
  destroy(): Promise<void>;
}

export async function startPrivateDockerEngine(): Promise<PrivateDockerEngine> {
  const dir = await mkdtemp(join(tmpdir(), "berth-engine-"));
  const host = `unix://${dir}/docker.sock`;
  let daemon: ChildProcess | undefined;
  const docker = async (...args: string[]) => (await run("docker", ["-H", host, ...args], { maxBuffer: 64 * 1024 * 1024 })).stdout;

  async function startDaemon() {
    const log = await open(join(dir, "dockerd.log"), "a");
    daemon = spawn(
      "dockerd",
      ["--host", host, "--data-root", join(dir, "data"), "--exec-root", join(dir, "run"), "--pidfile", join(dir, "dockerd.pid"),
        "--iptables=false", "--bridge=none", "--storage-driver=overlay2"],
      { stdio: ["ignore", log.fd, log.fd] },
    );
    void once(daemon, "exit").then(() => log.close());
    for (let attempt = 0; attempt < 240; attempt++) {
      if (daemon.exitCode !== null) throw new Error(`private dockerd exited (${daemon.exitCode}); see ${dir}/dockerd.log`);
      if (await docker("info").then(() => true, () => false)) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`private dockerd did not answer within 60 s; see ${dir}/dockerd.log`);
  }

  async function stopDaemon() {
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) return;
    daemon.kill("SIGTERM");
    await once(daemon, "exit");
  }

  await startDaemon();
  return {
    host,
    docker,
    startDaemon,
    stopDaemon,
    async loadImage(tag) {
      await run("sh", ["-c", `docker save "$1" | docker -H "$2" load`, "sh", tag, host], { maxBuffer: 64 * 1024 * 1024 });
    },
    async destroy() {
      const containers = (await docker("ps", "-aq").catch(() => "")).split("\n").filter(Boolean);
      if (containers.length > 0) await docker("rm", "-f", ...containers).catch(() => undefined);
      await docker("volume", "prune", "-f").catch(() => undefined);
      await stopDaemon();
      // dockerd leaves its network namespace mounted under the exec root.
      await run("umount", ["-l", join(dir, "run", "netns", "default")]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

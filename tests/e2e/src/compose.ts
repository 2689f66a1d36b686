import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository's root, where docker/ lives. */
export const repoRoot = path.resolve(import.meta.dirname, "../../..");

/** Runs a script of docker/ (or any command) from the repository's root; returns stdout. */
export async function runFromRoot(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed:\n${stderr ?? ""}${stdout ?? ""}`.trimEnd(), { cause: error });
  }
}

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/**
 * A lock held by this process across test runs on one machine (a directory holding the
 * holder's pid): a second run waits for the first instead of sharing its ports and project
 * name; a lock whose holder is gone is taken over. Returns the release function.
 */
export async function acquireMachineLock(name: string, { timeoutMs = 20 * 60_000 } = {}): Promise<() => Promise<void>> {
  const dir = path.join(tmpdir(), `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      await mkdir(dir);
      await writeFile(path.join(dir, "pid"), String(process.pid));
      return () => rm(dir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = Number(await readFile(path.join(dir, "pid"), "utf8").catch(() => ""));
    if (holder > 0 && !processAlive(holder)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${dir} is still held by pid ${holder || "?"} after ${timeoutMs} ms`);
    if (!announced) console.info(`[lock] ${name} is held by pid ${holder || "?"}: waiting for it`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const lines = (text: string) => text.split("\n").map((line) => line.trim()).filter(Boolean);

/**
 * One run of docker/compose.yml under its own project name, configured by an env file written
 * for it (the file is both Compose's interpolation source and the apps' env_file, as an
 * operator's docker/.env is).
 */
export class ComposeProject {
  readonly #dir: string;
  readonly envFile: string;

  private constructor(
    readonly name: string,
    dir: string,
    readonly profiles: readonly string[],
  ) {
    this.#dir = dir;
    this.envFile = path.join(dir, "stack.env");
  }

  static async create(name: string, env: Record<string, string>, { profiles = [] as string[] } = {}): Promise<ComposeProject> {
    const dir = await mkdtemp(path.join(tmpdir(), `${name}-`));
    const project = new ComposeProject(name, dir, profiles);
    const text = Object.entries({ COMPOSE_PROJECT_NAME: name, ...env })
      .map(([key, value]) => {
        if (/[\n"'\s]/.test(value)) throw new Error(`${key}: env file values cannot hold quotes, spaces or newlines`);
        return `${key}=${value}`;
      })
      .join("\n");
    await writeFile(project.envFile, `${text}\n`, { mode: 0o600 });
    await chmod(project.envFile, 0o600);
    return project;
  }

  /** docker/compose.sh with this project's name, env file and profiles. */
  compose(...args: string[]): Promise<string> {
    const profileArgs = this.profiles.flatMap((profile) => ["--profile", profile]);
    return runFromRoot("bash", ["docker/compose.sh", "-p", this.name, "--env-file", this.envFile, ...profileArgs, ...args], {
      BERTH_ENV_FILE: this.envFile,
      COMPOSE_PROJECT_NAME: this.name,
    });
  }

  /** Id of the container of one service (also a stopped one), if any. */
  async containerOf(service: string): Promise<string | undefined> {
    const ids = lines(
      await docker(
        "ps",
        "-aq",
        "--filter",
        `label=com.docker.compose.project=${this.name}`,
        "--filter",
        `label=com.docker.compose.service=${service}`,
      ),
    );
    return ids[0];
  }

  async removeDir(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}

/** Everything Docker holds under a Compose project's name: containers, volumes, networks. */
export async function composeObjects(project: string): Promise<{ containers: string[]; volumes: string[]; networks: string[] }> {
  const filter = `label=com.docker.compose.project=${project}`;
  return {
    containers: lines(await docker("ps", "-a", "--filter", filter, "--format", "{{.Names}}")),
    volumes: lines(await docker("volume", "ls", "-q", "--filter", filter)),
    networks: lines(await docker("network", "ls", "-q", "--filter", filter)),
  };
}

/**
 * Removes what a Compose project left behind (an interrupted run): the database containers and
 * volumes its worker made (their resources are read from the project's own control plane, if
 * its PostgreSQL container, listening on `postgresPort`, is still there), then the project's
 * containers, volumes and networks.
 */
export async function removeComposeLeftovers(project: string, { postgresPort }: { postgresPort: number }): Promise<void> {
  const filter = `label=com.docker.compose.project=${project}`;
  const postgres = lines(await docker("ps", "-aq", "--filter", filter, "--filter", "label=com.docker.compose.service=postgres"))[0];
  if (postgres) {
    try {
      await docker("start", postgres);
      for (let attempt = 0; attempt < 60; attempt++) {
        const ready = await docker("exec", postgres, "pg_isready", "-q", "-p", String(postgresPort)).then(
          () => true,
          () => false,
        );
        if (ready) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // local connections over the Unix socket are trusted in both the official and the local image
      const ids = lines(
        await docker("exec", postgres, "psql", "-p", String(postgresPort), "-U", "berth", "-d", "berth", "-Atc", "SELECT id FROM resources WHERE status <> 'deprovisioned'"),
      );
      for (const id of ids) {
        const containers = lines(await docker("ps", "-aq", "--filter", `label=berth.resource=${id}`));
        if (containers.length > 0) await docker("rm", "-f", ...containers);
        const volumes = lines(await docker("volume", "ls", "-q", "--filter", `label=berth.resource=${id}`));
        if (volumes.length > 0) await docker("volume", "rm", ...volumes);
      }
    } catch {
      // nothing more can be learnt from that control plane
    }
  }
  const { containers, volumes, networks } = await composeObjects(project);
  if (containers.length > 0) await docker("rm", "-f", "-v", ...containers);
  if (volumes.length > 0) await docker("volume", "rm", "-f", ...volumes);
  if (networks.length > 0) await docker("network", "rm", ...networks);
}

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { AdminCommand } from "@berth/addon-sdk";

const run = promisify(execFile);

/** What an operator sees with `docker inspect`: the tests check containers the way a person would. */
export async function dockerInspect(name: string): Promise<DockerInspect | undefined> {
  try {
    const { stdout } = await run("docker", ["inspect", "--type", "container", name]);
    return (JSON.parse(stdout) as DockerInspect[])[0];
  } catch {
    return undefined;
  }
}

export async function volumeExists(name: string): Promise<boolean> {
  try {
    await run("docker", ["volume", "inspect", name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs an addon's administrative command in a database's container, as an operator would with
 * `docker exec -i` (stdin written and closed). Rejects on a non-zero exit.
 */
export async function dockerExec(containerName: string, { command, stdin, user }: AdminCommand): Promise<string> {
  const args = ["exec", "-i", ...(user ? ["--user", user] : []), containerName, ...command];
  return new Promise((resolve, reject) => {
    const child = execFile("docker", args, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
    child.stdin!.end(stdin ?? "");
  });
}

/** Names of containers labelled for this resource. */
/** The Docker volumes of a resource (a restore leaves exactly one: the one it switched to). */
export async function volumesOf(resourceId: string): Promise<string[]> {
  const { stdout } = await run("docker", ["volume", "ls", "-q", "--filter", `label=berth.resource=${resourceId}`]);
  return stdout.split("\n").filter(Boolean);
}

export async function containersOf(resourceId: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-a", "--filter", `label=berth.resource=${resourceId}`, "--format", "{{.Names}}"]);
  return stdout.split("\n").filter(Boolean);
}

export interface DockerInspect {
  Name: string;
  State: { Running: boolean; Status: string; Pid: number };
  Config: { Labels: Record<string, string>; Image: string };
  HostConfig: { Memory: number; NanoCpus: number; PidsLimit: number | null; SecurityOpt: string[] | null; NetworkMode: string };
}

/** Force-removes the containers and volumes labelled for these resources. */
export async function removeDockerObjectsOf(resourceIds: readonly string[]): Promise<void> {
  for (const id of resourceIds) {
    const filter = `label=berth.resource=${id}`;
    const containers = (await run("docker", ["ps", "-aq", "--filter", filter])).stdout.split("\n").filter(Boolean);
    if (containers.length > 0) await run("docker", ["rm", "-f", ...containers]);
    const volumes = (await run("docker", ["volume", "ls", "-q", "--filter", filter])).stdout.split("\n").filter(Boolean);
    if (volumes.length > 0) await run("docker", ["volume", "rm", ...volumes]);
  }
}

import { execFile } from "node:child_process";
import { connect } from "node:net";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Target {
  readonly host: string;
  readonly port: number;
}

/** Whether a TCP connection to the target opens, from this process's own network namespace. */
export function tcpConnects({ host, port }: Target, timeoutMs = 3_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * What each TCP connection attempt gives from inside the network namespace of a process (a
 * database container's main process): `connected`, or the error code. Runs this machine's own
 * node in that namespace only (`nsenter --net`), so the container's image needs no tools.
 */
export async function tcpFromNamespaceOf(pid: number, targets: readonly Target[]): Promise<string[]> {
  const script = `
const net = require("node:net");
const targets = ${JSON.stringify(targets)};
Promise.all(targets.map(({ host, port }) => new Promise((resolve) => {
  const socket = net.connect({ host, port, timeout: 3000 });
  socket.once("connect", () => { socket.destroy(); resolve("connected"); });
  socket.once("error", (error) => resolve(error.code ?? error.message));
  socket.once("timeout", () => { socket.destroy(); resolve("timeout"); });
}))).then((outcomes) => console.log(JSON.stringify(outcomes)));`;
  const { stdout } = await run("nsenter", [`--target=${pid}`, "--net", "--", process.execPath, "-e", script]);
  return JSON.parse(stdout) as string[];
}

/**
 * The network interfaces inside the network namespace of a process, and its routes through any
 * of them but loopback, as `ip -j` lists them.
 */
export async function networkOfNamespace(pid: number): Promise<{ interfaces: string[]; routesOut: unknown[] }> {
  const ip = async (...args: string[]) => JSON.parse((await run("nsenter", [`--target=${pid}`, "--net", "--", "ip", "-j", ...args])).stdout || "[]") as unknown[];
  const links = (await ip("link", "show")) as { ifname: string }[];
  const routes = [...(await ip("-4", "route", "show", "table", "all")), ...(await ip("-6", "route", "show", "table", "all"))] as { dev?: string }[];
  return { interfaces: links.map((link) => link.ifname), routesOut: routes.filter((route) => route.dev !== "lo") };
}

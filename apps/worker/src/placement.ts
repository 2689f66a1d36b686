import { createServer } from "node:net";
import { randomInt } from "node:crypto";
import { isUniqueViolation, type PrismaClient } from "@berth/db";

/**
 * Gives the resource a port of the range once: the (docker host, port) pair is
 * unique in the control plane, and the port must also be free on this host.
 * Returns the port the resource already has, if any.
 */
export async function ensurePort(
  db: PrismaClient,
  resourceId: string,
  { bindAddress, publicHost, portRange }: { bindAddress: string; publicHost: string; portRange: { first: number; last: number } },
): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const resource = await db.resource.findUniqueOrThrow({ where: { id: resourceId }, select: { port: true, dockerHost: true } });
    if (resource.port !== null) return resource.port;
    const taken = await db.resource.findMany({
      where: { dockerHost: resource.dockerHost, port: { not: null } },
      select: { port: true },
    });
    const used = new Set(taken.map((row) => row.port));
    const candidate = randomInt(portRange.first, portRange.last + 1);
    if (used.has(candidate) || !(await isPortFree(bindAddress, candidate))) continue;
    try {
      await db.resource.updateMany({ where: { id: resourceId, port: null }, data: { port: candidate, publicHost } });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error; // another resource took it meanwhile: draw again
    }
  }
  throw new Error(`no free port found in ${portRange.first}-${portRange.last} after 50 draws`);
}

function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

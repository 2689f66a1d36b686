import { createHash } from "node:crypto";
import type { AddonDefinition } from "@berth/addon-sdk";
import type { FastifyInstance } from "fastify";

/**
 * Each addon's logo (manifest `logo_url`, 100×100): a generated SVG, so a new
 * engine has one without anyone drawing it.
 */
export async function assetRoutes(app: FastifyInstance, { addons }: { addons: ReadonlyMap<string, AddonDefinition> }): Promise<void> {
  const logos = new Map([...addons.values()].map((addon) => [`${addon.id}.svg`, logoSvg(addon)]));
  app.get<{ Params: { file: string } }>("/assets/:file", async (request, reply) => {
    const logo = logos.get(request.params.file);
    if (!logo) return reply.code(404).send({ error: "not_found", message: "No such asset." });
    return reply.header("content-type", "image/svg+xml").header("cache-control", "public, max-age=86400").send(logo);
  });
}

function logoSvg(addon: AddonDefinition): string {
  const hue = createHash("sha1").update(addon.id).digest()[0]! * (360 / 256);
  const initials = addon.name.replace(/[^A-Za-z]/g, "").slice(0, 2);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">
<rect width="100" height="100" rx="18" fill="hsl(${hue.toFixed(0)} 55% 38%)"/>
<text x="50" y="62" font-family="sans-serif" font-size="38" font-weight="700" fill="#fff" text-anchor="middle">${initials}</text>
</svg>`;
}

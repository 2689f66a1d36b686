/**
 * The parts of the README and of docker/.env.example that list the installed addons, generated
 * from the registry (`pnpm run docs:tables` writes them; a test fails when they differ). Each sits
 * between two marker comments naming it.
 */
import { formatDiskMb, type AddonDefinition, type Endpoint } from "@berth/addon-sdk";
import { addonEnvPrefix } from "@berth/config";

/** The files holding generated sections, relative to the repository's root, with their comment style. */
export const GENERATED_FILES = [
  { path: "README.md", style: "html" },
  { path: "docker/.env.example", style: "hash" },
] as const;

type Style = (typeof GENERATED_FILES)[number]["style"];

/** Every generated section, by name. */
export function generatedSections(addons: ReadonlyMap<string, AddonDefinition>): Record<string, string> {
  const list = [...addons.values()];
  return {
    "engine-names": `${list.map((addon) => `**${addon.name}**`).join(", ").replace(/, ([^,]*)$/, " and $1")}.\n`,
    engines: engineTable(list),
    plans: planTable(list),
    "addon-credentials": envCredentials(list),
    "addon-images": envImages(list),
  };
}

/** `text` with each of its marked sections replaced by what the registry generates. */
export function withGeneratedSections(text: string, style: Style, sections: Record<string, string>): string {
  return text.replace(markerPattern(style), (_match, name: string, _body: string, end: string) => {
    const content = sections[name];
    if (content === undefined) throw new Error(`unknown generated section "${name}"`);
    return `${begin(style, name)}\n${content}${end}`;
  });
}

function begin(style: Style, name: string): string {
  return style === "html" ? `<!-- generated: ${name} (pnpm run docs:tables) -->` : `# --- generated: ${name} (pnpm run docs:tables) ---`;
}

function markerPattern(style: Style): RegExp {
  return style === "html"
    ? /<!-- generated: ([a-z-]+) \(pnpm run docs:tables\) -->\n([\s\S]*?)(<!-- end: \1 -->)/g
    : /# --- generated: ([a-z-]+) \(pnpm run docs:tables\) ---\n([\s\S]*?)(# --- end: \1 ---)/g;
}

function engineTable(addons: readonly AddonDefinition[]): string {
  const rows = addons.map((addon) => {
    const local = addon.localImage ? `\`${addon.localImage.tag}\` (${addon.localImage.from})` : "—";
    return `| \`${addon.id}\` | \`${addon.urlConfigVar}\` = \`${sampleUrl(addon)}\` | \`${addon.defaultImage}\` | ${local} |`;
  });
  return ["| addon | config var | default image | local image (built by `scripts/services.sh`) |", "|---|---|---|---|", ...rows, ""].join("\n");
}

/**
 * The connection URL with its parts named: the addon's own `connectionConfig` on an endpoint whose
 * host, port and every credential field read as their names.
 */
function sampleUrl(addon: AddonDefinition): string {
  const credentials = new Proxy({}, { get: (_target, field) => (typeof field === "string" ? field : undefined) });
  const endpoint = { host: "host", port: "port" as unknown as number, credentials } as Endpoint;
  return addon.connectionConfig(endpoint, addon.plans[0]!)[addon.urlConfigVar]!;
}

function planTable(addons: readonly AddonDefinition[]): string {
  const rows = addons.flatMap((addon) =>
    addon.plans.map((plan) => {
      const settings = Object.entries(plan.settings).map(([name, value]) => `\`${name}\` ${value}`).join(", ");
      return `| \`${plan.name}\` | ${formatDiskMb(plan.limits.memoryMb)} | ${plan.limits.cpus} | ${formatDiskMb(plan.limits.diskMb)} | ${settings} |`;
    }),
  );
  return ["| plan | memory | CPU | disk | engine settings |", "|---|---|---|---|---|", ...rows, ""].join("\n");
}

function envCredentials(addons: readonly AddonDefinition[]): string {
  const lines = addons.flatMap((addon) => {
    const prefix = addonEnvPrefix(addon.id);
    return [`${prefix}USERNAME=<berth-${addon.id}>`, `${prefix}PASSWORD=<openssl rand -hex 24>`, `${prefix}SSO_SALT=<openssl rand -hex 24>`];
  });
  const logos = addons.map((addon) => `#${addonEnvPrefix(addon.id)}LOGO_URL=`);
  return [...lines, "# The manifests' logo_url, default <public URL>/assets/<addon>.svg.", ...logos, ""].join("\n");
}

function envImages(addons: readonly AddonDefinition[]): string {
  const official = addons.map((addon) => addon.defaultImage).join(", ");
  const local = addons.flatMap((addon) => (addon.localImage ? [addon.localImage.tag] : [])).join(", ");
  return [
    "# Image of each engine's database containers, default the official one",
    `# (${official}); where none can be pulled, the local ones`,
    `# (${local}).`,
    ...addons.map((addon) => `#${addonEnvPrefix(addon.id)}IMAGE=${addon.defaultImage}`),
    "",
  ].join("\n");
}

/**
 * The registry, asked from shell scripts (`scripts/services.sh`, `docker/local-images/build.sh`
 * through docker/lib/addons.sh) and by `pnpm run docs:tables`:
 *
 *   cli.ts list              one line per installed addon, tab-separated: id, environment prefix,
 *                            local image tag and recipe path (`-` for an addon without a local image)
 *   cli.ts docs [--check]    writes the generated sections of README.md and docker/.env.example;
 *                            --check only says which differ (exit 1)
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addonEnvPrefix } from "@berth/config";
import { GENERATED_FILES, generatedSections, withGeneratedSections } from "./docs.js";
import { addons } from "./index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");

async function main([command, ...args]: string[]): Promise<number> {
  switch (command) {
    case "list":
      for (const addon of addons.values()) {
        console.log([addon.id, addonEnvPrefix(addon.id), addon.localImage?.tag ?? "-", addon.localImage?.recipe ?? "-"].join("\t"));
      }
      return 0;
    case "docs": {
      const check = args.includes("--check");
      const sections = generatedSections(addons);
      let stale = 0;
      for (const { path, style } of GENERATED_FILES) {
        const text = await readFile(join(ROOT, path), "utf8");
        const generated = withGeneratedSections(text, style, sections);
        if (generated === text) continue;
        stale++;
        if (check) console.error(`${path}: generated sections differ from the registry (run: pnpm run docs:tables)`);
        else {
          await writeFile(join(ROOT, path), generated);
          console.error(`${path}: generated sections written`);
        }
      }
      return check && stale > 0 ? 1 : 0;
    }
    default:
      console.error("usage: cli.ts list | docs [--check]");
      return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));

/**
 * `berth manifest print <addon>` and `berth manifest check <file>`: the
 * manifest that registers an addon on the platform (spec §3).
 */
import { chmod, readFile, writeFile } from "node:fs/promises";
import { buildManifest, checkManifest, manifestErrors, type ManifestProblem } from "@berth/manifest";
import type { Command } from "commander";
import { findAddon, resolvePath, type CliContext } from "../context.js";
import { EXIT, Exit } from "../errors.js";

export function registerManifestCommands(program: Command, context: CliContext): void {
  const manifest = program
    .command("manifest")
    .description("the manifests that register Berth's addons on the platform (sent to addons@scalingo.com)");

  manifest
    .command("print")
    .description(
      "print the manifest of an installed addon as JSON, built from its definition and this deployment's " +
        "configuration (BERTH_PUBLIC_URL, BERTH_TEST_PUBLIC_URL, BERTH_ADDON_<ID>_USERNAME, _PASSWORD, _SSO_SALT, _LOGO_URL). " +
        "It contains the addon's secrets.",
    )
    .argument("<addon>", `the addon's id (${[...context.addons.keys()].join(", ")})`)
    .option("-o, --output <file>", "write the manifest to this file (mode 600) instead of standard output")
    .action(async (addonId: string, options: { output?: string }) => {
      await printManifest(context, addonId, options.output);
    });

  manifest
    .command("check")
    .description(
      "check a manifest: the official tester's rules, stricter ones, and agreement with the installed addon it belongs to; " +
        "lists every problem with its field path (exit 1 when there is any)",
    )
    .argument("<file>", "the manifest, a JSON file; - for standard input")
    .action(async (file: string) => {
      await checkManifestFile(context, file);
    });
}

async function printManifest(context: CliContext, addonId: string, output: string | undefined): Promise<void> {
  const { io } = context;
  const addon = findAddon(context, addonId);
  const manifest = buildManifest(addon, context.config().manifest(addon.id));
  const json = `${JSON.stringify(manifest, null, 2)}\n`;

  io.stderr(
    `warning: this manifest contains the ${addon.id} addon's password and SSO salt: ` +
      "send it only to the platform, never to a repository, a ticket or a chat\n",
  );
  // The configuration is valid, but e.g. a public URL on http makes a manifest the platform refuses.
  for (const problem of manifestErrors(checkManifest(manifest, { addons: context.addons }))) {
    io.stderr(`warning: berth manifest check will refuse it: ${problem.path}: ${problem.message}\n`);
  }

  if (output === undefined) {
    io.stdout(json);
    return;
  }
  const path = resolvePath(context, output);
  await writeFile(path, json, { mode: 0o600 });
  await chmod(path, 0o600); // also when the file existed
  io.stderr(`wrote ${path}\n`);
}

async function checkManifestFile(context: CliContext, file: string): Promise<void> {
  const { io } = context;
  const parsed = await readJson(context, file);
  const problems: ManifestProblem[] = "problem" in parsed ? [parsed.problem] : checkManifest(parsed.value, { addons: context.addons });
  const errors = manifestErrors(problems);
  const warnings = problems.filter((problem) => problem.severity === "warning");

  if (errors.length > 0) {
    io.stdout(`Errors in the manifest:\n${lines(errors)}`);
  } else {
    const manifest = parsed as { value: { name: string; plans: unknown[] } };
    const count = manifest.value.plans.length;
    io.stdout(`Manifest OK: ${manifest.value.name} (${count} plan${count === 1 ? "" : "s"})\n`);
  }
  if (warnings.length > 0) io.stdout(`Warnings:\n${lines(warnings)}`);
  if (errors.length > 0) throw new Exit(EXIT.failure);
}

async function readJson(context: CliContext, file: string): Promise<{ value: unknown } | { problem: ManifestProblem }> {
  const name = file === "-" ? "standard input" : file;
  let text: string;
  try {
    text = file === "-" ? await context.io.readStdin() : await readFile(resolvePath(context, file), "utf8");
  } catch (error) {
    return { problem: { path: "(file)", message: `cannot read ${name}: ${(error as Error).message}` } };
  }
  try {
    return { value: JSON.parse(text.replace(/^\uFEFF/, "")) as unknown };
  } catch (error) {
    return { problem: { path: "(file)", message: `${name} is not valid JSON: ${(error as Error).message}` } };
  }
}

function lines(problems: readonly ManifestProblem[]): string {
  return problems.map((problem) => `  → ${problem.path}: ${problem.message}\n`).join("");
}

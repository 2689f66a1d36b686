/**
 * Command line of the platform stand-in, to try Berth locally:
 *   serve        run the Platform API for providers and log the calls it receives
 *   provision    drive a provider's endpoints as the platform does
 *   change-plan
 *   deprovision
 * Addon credentials come from the environment, never from arguments (which `ps` shows).
 */
import { parseArgs } from "node:util";
import { addonEnvName, redactUrl, redactValue } from "@berth/config";
import { createPlatformDriver } from "./driver.js";
import { startPlatformStandIn } from "./start-platform-stand-in.js";
import type { DriverResponse, PlatformDriver, RecordedCall, StandInAddon } from "./types.js";

const USAGE = `Usage:
  cli.ts serve [--port 4100] [--host 127.0.0.1] [--addon ID=CONFIG_VAR[,CONFIG_VAR...] ...]
  cli.ts provision --addon ID --plan PLAN --app APP_ID [--uuid UUID] [--option KEY=VALUE ...] --provider URL
  cli.ts change-plan RESOURCE_ID --plan PLAN --addon ID --provider URL [--method PUT|PATCH] [--option KEY=VALUE ...]
  cli.ts deprovision RESOURCE_ID --addon ID --provider URL

serve without --addon: every installed addon (packages/addons) whose credentials are set.
Credentials of addon ID: environment BERTH_ADDON_<ID>_USERNAME and BERTH_ADDON_<ID>_PASSWORD
(ID upper-cased, "-" as "_"), e.g. BERTH_ADDON_POSTGRESQL_PASSWORD, BERTH_ADDON_MY_ENGINE_PASSWORD.
--provider is the manifest's base_url, e.g. http://127.0.0.1:3000/scalingo/resources.`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "serve":
      return serve(args);
    case "provision":
      return provision(args);
    case "change-plan":
      return changePlan(args);
    case "deprovision":
      return deprovision(args);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "4100" },
      host: { type: "string", default: "127.0.0.1" },
      addon: { type: "string", multiple: true, default: [] },
    },
    strict: true,
  });
  const addons = values.addon.length > 0 ? parseAddonSpecs(values.addon) : await installedAddons();
  const standIn = await startPlatformStandIn({
    addons,
    host: values.host,
    port: parsePort(values.port),
    onCall: (call) => console.log(formatCall(call)),
  });
  console.log(`platform stand-in listening on ${standIn.url}`);
  for (const addon of addons) console.log(`  addon ${addon.id}: config vars ${addon.configVars.join(", ")}`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await standIn.close();
  return 0;
}

async function provision(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      addon: { type: "string" },
      plan: { type: "string" },
      app: { type: "string" },
      uuid: { type: "string" },
      option: { type: "string", multiple: true, default: [] },
      provider: { type: "string" },
    },
    strict: true,
  });
  const driver = driverFor(required(values, "addon"), required(values, "provider"));
  return printResponse(
    await driver.provision({
      plan: required(values, "plan"),
      app_id: required(values, "app"),
      ...(values.uuid === undefined ? {} : { uuid: values.uuid }),
      options: parseKeyValues(values.option, "--option"),
    }),
  );
}

async function changePlan(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      addon: { type: "string" },
      plan: { type: "string" },
      provider: { type: "string" },
      method: { type: "string", default: "PUT" },
      option: { type: "string", multiple: true, default: [] },
    },
    allowPositionals: true,
    strict: true,
  });
  const method = values.method.toUpperCase();
  if (method !== "PUT" && method !== "PATCH") throw new UsageError("--method must be PUT or PATCH");
  const driver = driverFor(required(values, "addon"), required(values, "provider"));
  return printResponse(
    await driver.changePlan(onePositional(positionals), required(values, "plan"), {
      method,
      planOptions: parseKeyValues(values.option, "--option"),
    }),
  );
}

async function deprovision(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { addon: { type: "string" }, provider: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  const driver = driverFor(required(values, "addon"), required(values, "provider"));
  return printResponse(await driver.deprovision(onePositional(positionals)));
}

function driverFor(addonId: string, providerBaseUrl: string): PlatformDriver {
  try {
    new URL(providerBaseUrl);
  } catch {
    throw new UsageError(`--provider "${providerBaseUrl}" is not a URL`);
  }
  return createPlatformDriver({ addon: credentialsFromEnv(addonId), providerBaseUrl });
}

/** `postgresql=SCALINGO_POSTGRESQL_URL,OTHER`; repeating an id adds config vars to it. */
/** The registry's addons, as a platform would know them from their manifests; those without credentials are left out. */
async function installedAddons(): Promise<StandInAddon[]> {
  const { addons } = await import("@berth/addons");
  const out: StandInAddon[] = [];
  for (const addon of addons.values()) {
    try {
      out.push({ id: addon.id, ...credentialsFromEnv(addon.id), configVars: [...addon.configVars] });
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      console.log(`  addon ${addon.id} left out: ${error.message}`);
    }
  }
  if (out.length === 0) throw new UsageError("no installed addon has its credentials set (BERTH_ADDON_<ID>_USERNAME and _PASSWORD), and no --addon was given");
  return out;
}

function parseAddonSpecs(specs: string[]): StandInAddon[] {
  const configVars = new Map<string, string[]>();
  for (const spec of specs) {
    const [id, vars] = splitPair(spec, "--addon");
    const names = vars.split(",").map((name) => name.trim()).filter((name) => name !== "");
    configVars.set(id, [...(configVars.get(id) ?? []), ...names]);
  }
  return [...configVars].map(([id, vars]) => ({ id, ...credentialsFromEnv(id), configVars: [...new Set(vars)] }));
}

function credentialsFromEnv(addonId: string): { username: string; password: string } {
  const [usernameName, passwordName] = [addonEnvName(addonId, "USERNAME"), addonEnvName(addonId, "PASSWORD")];
  const username = process.env[usernameName];
  const password = process.env[passwordName];
  const missing = [...(username ? [] : [usernameName]), ...(password ? [] : [passwordName])];
  if (missing.length > 0 || !username || !password) {
    throw new UsageError(`credentials of addon "${addonId}" missing: set ${missing.join(" and ")}`);
  }
  return { username, password };
}

function parseKeyValues(pairs: string[], flag: string): Record<string, string> {
  return Object.fromEntries(pairs.map((pair) => splitPair(pair, flag)));
}

function splitPair(text: string, flag: string): [string, string] {
  const index = text.indexOf("=");
  if (index <= 0) throw new UsageError(`${flag} expects KEY=VALUE, got "${text}"`);
  return [text.slice(0, index), text.slice(index + 1)];
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be 0 to 65535, got "${text}"`);
  return port;
}

function required<K extends string>(values: { [P in K]?: string | undefined }, key: K): string {
  const value = values[key];
  if (value === undefined || value === "") throw new UsageError(`--${key} is required`);
  return value;
}

function onePositional(positionals: string[]): string {
  if (positionals.length !== 1 || positionals[0] === undefined) throw new UsageError("expected exactly one RESOURCE_ID");
  return positionals[0];
}

/** Status, then the body: pretty JSON when it is JSON. Exit status 0 for 2xx, 1 otherwise. */
function printResponse(response: DriverResponse): number {
  console.log(`HTTP ${response.status}`);
  if (typeof response.body === "string") {
    if (response.body !== "") console.log(response.body);
  } else if (response.body !== undefined) {
    console.log(JSON.stringify(response.body, null, 2));
  }
  return response.status >= 200 && response.status < 300 ? 0 : 1;
}

/** One line per call, secrets redacted. */
function formatCall(call: RecordedCall): string {
  const target = redactUrl(call.query ? `${call.path}?${call.query}` : call.path);
  const body = call.body === undefined ? "" : ` ${JSON.stringify(redactValue(call.body))}`;
  return `${call.at.toISOString()} ${call.method} ${target} addon=${call.addonId ?? "-"} → ${call.status}${body}`;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))) {
      console.error(`error: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    // fetch reports "fetch failed" and keeps the reason (ECONNREFUSED…) in `cause`.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    console.error(`error: ${error instanceof Error ? error.message : String(error)}${cause}`);
    process.exitCode = 1;
  },
);

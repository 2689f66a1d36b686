#!/usr/bin/env node
// `berth`: runs the TypeScript sources through tsx (no build step), from any directory.
import { register } from "tsx/esm/api";

// Through `pnpm --filter @berth/cli berth …`, relative paths mean the directory pnpm was run from.
if (process.env.npm_lifecycle_event === "berth" && process.env.INIT_CWD) process.chdir(process.env.INIT_CWD);

register();
const { main } = await import("../src/main.ts");
process.exitCode = await main(process.argv.slice(2));

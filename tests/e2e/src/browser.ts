import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { repoRoot } from "./compose.js";

/** The repository's `test-results/` (ignored by git), whatever the working directory. */
const TEST_RESULTS_DIR = join(repoRoot, "test-results");

/** Where a test writes a result file such as a screenshot: `test-results/<name>` of the repository (made if missing). */
export async function testResultPath(name: string): Promise<string> {
  await mkdir(TEST_RESULTS_DIR, { recursive: true });
  return join(TEST_RESULTS_DIR, name);
}

/**
 * Debian's Chromium (installed by scripts/services.sh), driven by playwright-core:
 * browser tests never download a browser of their own.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.BERTH_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

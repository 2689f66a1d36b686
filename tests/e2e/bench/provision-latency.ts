/**
 * Time from the platform's POST to the provision callback it receives, per
 * engine, over cold provisions run one after another. Prints a table and
 * writes bench-results/provision-latency.json.
 *
 *   bash scripts/bench.sh [runs]     (default 5)
 */
import { mkdir, writeFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { addons } from "@berth/addons";
import { startStack } from "../src/index.js";

const runs = Number(process.argv[2] ?? 5);

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

const stack = await startStack();
const results: Record<string, { runs: number[]; p50: number; p95: number }> = {};
try {
  for (const addon of addons.values()) {
    const driver = stack.driver(addon.id);
    const plan = addon.plans[0]!.name;
    const timings: number[] = [];
    for (let run = 0; run < runs; run++) {
      const started = performance.now();
      const response = await driver.provision({ plan, app_id: `bench-${run}` });
      if (response.status !== 202) throw new Error(`provision answered ${response.status}: ${JSON.stringify(response.body)}`);
      const { id } = response.body as { id: string };
      await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
      timings.push(performance.now() - started);
      await driver.deprovision(id);
    }
    const sorted = [...timings].sort((a, b) => a - b);
    results[addon.id] = { runs: timings, p50: percentile(sorted, 50), p95: percentile(sorted, 95) };
  }
} finally {
  await stack.close();
}

console.log(`\nPOST → provision callback, ${runs} cold runs each (ms)`);
console.table(
  Object.fromEntries(
    Object.entries(results).map(([id, r]) => [id, { p50: Math.round(r.p50), p95: Math.round(r.p95), runs: r.runs.map(Math.round).join(" ") }]),
  ),
);
await mkdir("bench-results", { recursive: true });
await writeFile("bench-results/provision-latency.json", JSON.stringify({ at: new Date().toISOString(), runs, results }, null, 2));

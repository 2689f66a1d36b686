/**
 * Backup store throughput: seals and writes N MiB of content to the directory backend, then
 * reads, verifies and opens it, printing MB/s (content bytes, 10^6 per MB) and the peak RSS of
 * each phase. The content is generated as it is read (never held whole): blocks of random bytes
 * alternating with table-like text, or only one of them.
 *
 *   pnpm --filter @berth/backup-store bench [MiB=256] [--content mixed|random|text] [--dir DIR] [--json]
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createBackupStore } from "../src/index.js";
import { digestOf, MiB, MixedContent } from "../test/support/content.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { content: { type: "string", default: "mixed" }, dir: { type: "string" }, json: { type: "boolean", default: false } },
});
const mebibytes = Number(positionals[0] ?? 256);
if (!Number.isFinite(mebibytes) || mebibytes <= 0) throw new Error(`usage: throughput.ts [MiB] (got ${positionals[0]})`);
const kinds = ["mixed", "random", "text"] as const;
const kind = kinds.find((one) => one === values.content);
if (!kind) throw new Error("--content must be mixed, random or text");
const total = Math.round(mebibytes * MiB);
const content = () => new MixedContent(total, kind === "mixed" ? {} : { only: kind });

/** Peak RSS while `run` runs, sampled every 20 ms. */
async function measured<T>(run: () => Promise<T>): Promise<{ result: T; seconds: number; peakRssMiB: number }> {
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const started = process.hrtime.bigint();
  try {
    const result = await run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, seconds, peakRssMiB: Math.round(peak / MiB) };
  } finally {
    clearInterval(sampler);
  }
}

const directory = values.dir ?? (await mkdtemp(join(tmpdir(), "berth-backup-bench-")));
const store = createBackupStore({ backend: { kind: "directory", directory }, encryptionKey: randomBytes(32) });
const rssBeforeMiB = Math.round(process.memoryUsage.rss() / MiB);
try {
  const source = content();
  const write = await measured(() => store.write("bench/throughput", source));
  const verify = await measured(() => store.verify("bench/throughput", write.result.sha256));
  const read = await measured(async () => digestOf(await store.open("bench/throughput")));
  if (read.result.size !== total || read.result.sha256 !== source.sha256) throw new Error("the content read back differs");

  const mbPerSecond = (seconds: number) => (total / 1e6 / seconds).toFixed(1);
  const rows = [
    { phase: "seal + write", seconds: write.seconds, peakRssMiB: write.peakRssMiB },
    { phase: "verify (SHA-256 + authenticate)", seconds: verify.seconds, peakRssMiB: verify.peakRssMiB },
    { phase: "read + open", seconds: read.seconds, peakRssMiB: read.peakRssMiB },
  ];
  console.log(`backup store, directory backend: ${mebibytes} MiB of ${kind} content, stored as ${(write.result.size / MiB).toFixed(1)} MiB (${((100 * write.result.size) / total).toFixed(1)}%)`);
  console.log(`RSS before: ${rssBeforeMiB} MiB`);
  console.log("| phase | seconds | MB/s | peak RSS (MiB) |\n|---|---:|---:|---:|");
  for (const row of rows) console.log(`| ${row.phase} | ${row.seconds.toFixed(2)} | ${mbPerSecond(row.seconds)} | ${row.peakRssMiB} |`);
  console.log(`process peak RSS (getrusage): ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  if (values.json) {
    console.log(
      JSON.stringify({
        mebibytes,
        content: kind,
        storedBytes: write.result.size,
        rssBeforeMiB,
        phases: rows.map((row) => ({ ...row, mbPerSecond: Number(mbPerSecond(row.seconds)) })),
        processPeakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      }),
    );
  }
} finally {
  store.close();
  if (!values.dir) await rm(directory, { recursive: true, force: true });
  else await store.delete("bench/throughput");
}

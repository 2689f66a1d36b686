import { Presets, SingleBar } from "cli-progress";
import type { CliIo } from "./context.js";
import { formatBytes } from "./table.js";

/** What `berth backups download` shows while it writes: the bytes so far, of how many. */
export interface TransferDisplay {
  transferred(bytes: number): void;
  stop(): void;
}

/** On a terminal, a progress bar on bytes (percent, bytes, time left); elsewhere nothing: the command says the outcome. */
export function createTransferDisplay(io: CliIo, totalBytes: number): TransferDisplay {
  const terminal = io.terminal;
  if (!terminal) return { transferred: () => undefined, stop: () => undefined };
  const size = formatBytes(totalBytes);
  const bar = new SingleBar(
    { stream: terminal, format: " {bar} {percentage}% | {done} of {size} | ETA {eta_formatted}", barsize: 30, clearOnComplete: false, hideCursor: false },
    Presets.shades_classic,
  );
  // An empty dump is complete at once (cli-progress would divide by zero).
  bar.start(Math.max(totalBytes, 1), 0, { done: formatBytes(0), size });
  return {
    transferred: (bytes) => bar.update(bytes, { done: formatBytes(bytes) }),
    stop: () => bar.stop(),
  };
}

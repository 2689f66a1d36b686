import { MultiBar, Presets, type SingleBar } from "cli-progress";
import type { JobProgress } from "@berth/jobs";
import type { CliIo } from "./context.js";

/** What `berth jobs follow` shows while a job runs: its log lines, and where it stands. */
export interface FollowDisplay {
  log(line: string): void;
  progress(progress: JobProgress): void;
  stop(): void;
}

/**
 * On a terminal, a progress bar (percent and step) under the job's log lines;
 * elsewhere (a pipe, a file, a test) the log lines alone: each step is one.
 */
export function createFollowDisplay(io: CliIo): FollowDisplay {
  const terminal = io.terminal;
  if (!terminal) {
    return { log: (line) => io.stdout(`${line}\n`), progress: () => undefined, stop: () => undefined };
  }
  const bars = new MultiBar(
    { stream: terminal, format: " {bar} {value}% | {step}", barsize: 30, clearOnComplete: false, hideCursor: false },
    Presets.shades_classic,
  );
  const bar: SingleBar = bars.create(100, 0, { step: "waiting for a worker" });
  return {
    log: (line) => bars.log(`${line}\n`),
    progress: ({ step, percent }) => bar.update(percent, { step }),
    stop: () => {
      bars.update(); // draws the log lines still buffered: the last ones come with the end
      bars.stop();
    },
  };
}

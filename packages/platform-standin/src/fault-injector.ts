import type { InjectedFault } from "./types.js";

interface PendingFault {
  readonly fault: InjectedFault;
  remaining: number;
}

/** Queued faults; each call takes the oldest fault that still applies to its path. */
export class FaultInjector {
  readonly #pending: PendingFault[] = [];

  add(fault: InjectedFault): void {
    if (!Number.isInteger(fault.times) || fault.times < 1) throw new RangeError("injectFaults: times must be a positive integer");
    if (fault.retryAfterSeconds !== undefined && !(Number.isInteger(fault.retryAfterSeconds) && fault.retryAfterSeconds >= 0)) {
      throw new RangeError("injectFaults: retryAfterSeconds must be a non-negative integer");
    }
    this.#pending.push({ fault, remaining: fault.times });
  }

  take(path: string): InjectedFault | undefined {
    const index = this.#pending.findIndex(({ fault }) => matches(fault.paths, path));
    if (index === -1) return undefined;
    const pending = this.#pending[index]!;
    pending.remaining -= 1;
    if (pending.remaining === 0) this.#pending.splice(index, 1);
    return pending.fault;
  }
}

function matches(paths: RegExp | undefined, path: string): boolean {
  if (!paths) return true;
  // A global or sticky RegExp keeps state between test() calls; start afresh every time.
  paths.lastIndex = 0;
  return paths.test(path);
}

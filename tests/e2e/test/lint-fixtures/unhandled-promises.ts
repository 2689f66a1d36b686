// Fed to ESLint by lint.test.ts: each marked line must be reported. The main lint skips this folder.
import { EventEmitter } from "node:events";

async function save(): Promise<void> {
  await Promise.resolve();
}

export function forgetsThePromise(): void {
  save(); // no-floating-promises
}

export function listensWithAPromise(emitter: EventEmitter): void {
  emitter.on("data", async () => save()); // no-misused-promises: the emitter drops the promise
}

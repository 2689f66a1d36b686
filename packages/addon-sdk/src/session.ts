/**
 * One short session with an engine, for the readiness probe and usage metering: what every
 * engine's client library needs around it, written once.
 */

/** How one client of an engine's library is opened and ended. */
export interface EngineSessionClient<C> {
  /** Makes the client (connected already, or not yet: then `connect` connects it). */
  open: () => C | Promise<C>;
  /** Connects a client `open` made unconnected; rejects if the engine refuses or does not answer. */
  connect?: (client: C) => Promise<unknown>;
  /** Ends the session once the work is done or failed. Its errors are ignored. */
  close: (client: C) => void | Promise<void>;
  /** Ends it at once on abort (default: `close`). Its errors are ignored. */
  abort?: (client: C) => void | Promise<void>;
}

interface ErrorEmitter {
  on(event: "error", listener: (error: unknown) => void): unknown;
}

/**
 * Runs `use` on a fresh client, within one session:
 * - an `error` listener is added to the client when it is an event emitter: a server that stops
 *   while the session is idle (a database being removed) emits `error`, and an unheard `error`
 *   event crashes the process (a call in flight rejects with it anyway);
 * - an abort of `signal` ends the client, so a hanging connect or query rejects at once;
 * - the client is closed whatever happens, and errors of closing are ignored.
 */
export async function withEngineSession<C, T>(signal: AbortSignal, client: EngineSessionClient<C>, use: (client: C) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const opened = await client.open();
  if (isErrorEmitter(opened)) opened.on("error", () => undefined);
  const quietly = (end: (c: C) => void | Promise<void>) => Promise.resolve().then(() => end(opened)).catch(() => undefined);
  const abort = () => void quietly(client.abort ?? client.close);
  signal.addEventListener("abort", abort, { once: true });
  try {
    signal.throwIfAborted(); // aborted while opening
    await client.connect?.(opened);
    return await use(opened);
  } finally {
    signal.removeEventListener("abort", abort);
    await quietly(client.close);
  }
}

function isErrorEmitter(value: unknown): value is ErrorEmitter {
  return typeof value === "object" && value !== null && typeof (value as { on?: unknown }).on === "function";
}

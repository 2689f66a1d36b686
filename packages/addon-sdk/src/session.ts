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
 * - an abort of `signal` ends the client, and the session rejects at once whatever the client's
 *   calls do;
 * - the client is closed whatever happens (waited for a second at most), and errors of closing are ignored.
 */
export async function withEngineSession<C, T>(signal: AbortSignal, client: EngineSessionClient<C>, use: (client: C) => Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const opened = await untilAborted(Promise.resolve().then(() => client.open()), signal);
  if (isErrorEmitter(opened)) opened.on("error", () => undefined);
  const quietly = (end: (c: C) => void | Promise<void>) => Promise.resolve().then(() => end(opened)).catch(() => undefined);
  const abort = () => void quietly(client.abort ?? client.close);
  signal.addEventListener("abort", abort, { once: true });
  try {
    signal.throwIfAborted(); // aborted while opening
    await untilAborted(Promise.resolve().then(() => client.connect?.(opened)), signal);
    return await untilAborted(use(opened), signal);
  } finally {
    signal.removeEventListener("abort", abort);
    await Promise.race([quietly(client.close), pause(SETTLE_WAIT_MS)]);
  }
}

/**
 * How long, after an abort, a client's own call is waited for (its error says more than the abort),
 * and how long its close is: a client cut off mid-handshake may never settle either.
 */
const SETTLE_WAIT_MS = 1_000;

/**
 * `promise`, or a rejection with the signal's reason a moment after it aborts: a call that a
 * client library leaves unsettled once its connection is cut cannot outlive the deadline.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => reject(signal.reason as Error), SETTLE_WAIT_MS).unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function isErrorEmitter(value: unknown): value is ErrorEmitter {
  return typeof value === "object" && value !== null && typeof (value as { on?: unknown }).on === "function";
}

import { ConfigError } from "@berth/config";
import type { Logger } from "pino";

/** On SIGTERM or SIGINT (once): logs `message` with the signal, closes the service, exits (1 if closing failed). */
export function closeOnSignals(service: { close(): Promise<void> }, logger: Logger, message: string, fields: Record<string, unknown> = {}): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, ...fields }, message);
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "stopping failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** A process that could not start: what is wrong with its configuration, or the error; exit code 1. */
export function exitOnStartFailure(error: unknown): never {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}

/**
 * The gateway's entry point (`pnpm --filter @berth/worker gateway`): one per Docker host, beside
 * the worker, on the same image. See src/gateway/gateway.ts.
 */
import { ConfigError } from "@berth/config";
import { pino } from "pino";
import { loadGatewayConfig } from "./gateway/config.js";
import { createGateway } from "./gateway/gateway.js";

async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  const logger = pino({ level: config.logLevel, name: "berth-gateway" });
  const gateway = createGateway(config, { logger });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainSeconds: config.drainSeconds }, "gateway stopping");
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "gateway: stopping failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  await gateway.start();
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});

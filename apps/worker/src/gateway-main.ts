/**
 * The gateway's entry point (`pnpm --filter @berth/worker gateway`): one per Docker host, beside
 * the worker, on the same image. See src/gateway/gateway.ts.
 */
import { pino } from "pino";
import { loadGatewayConfig } from "./gateway/config.js";
import { createGateway } from "./gateway/gateway.js";
import { closeOnSignals, exitOnStartFailure } from "./service.js";

async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  const logger = pino({ level: config.logLevel, name: "berth-gateway" });
  const gateway = createGateway(config, { logger });
  // Before start: a stop while the first listing runs still drains.
  closeOnSignals(gateway, logger, "gateway stopping", { drainSeconds: config.drainSeconds });
  await gateway.start();
}

main().catch(exitOnStartFailure);

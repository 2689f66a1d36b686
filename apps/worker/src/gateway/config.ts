import { parseEnv, port, postgresUrl, serviceEnvSchema, type EnvSource } from "@berth/config";
import { z } from "zod";
import { bindAddressSchema, defaultDeploymentId, deploymentIdSchema, dockerHostSchema } from "../config.js";

const gatewayEnvSchema = z.object({
  DOCKER_HOST: dockerHostSchema,
  BERTH_DEPLOYMENT_ID: deploymentIdSchema,
  // Only to derive BERTH_DEPLOYMENT_ID's default as the worker does: the gateway never connects to it.
  BERTH_DATABASE_URL: postgresUrl.optional(),
  BERTH_DATABASE_BIND_ADDRESS: bindAddressSchema,
  BERTH_GATEWAY_HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_GATEWAY_HTTP_PORT: port.default(4002),
  BERTH_GATEWAY_RESYNC_SECONDS: z.coerce.number().min(0.1).max(3_600).default(5),
  BERTH_GATEWAY_DRAIN_SECONDS: z.coerce.number().min(0).max(3_600).default(10),
  LOG_LEVEL: serviceEnvSchema.shape.LOG_LEVEL,
});

export interface GatewayConfig {
  dockerHost: string;
  /** Whose containers are routed: the worker's `BERTH_DEPLOYMENT_ID` (same default). */
  deploymentId: string;
  /** Every database's public port is opened on this address. */
  bindAddress: string;
  /** Where the gateway serves /health, /health/ready and /metrics. */
  http: { host: string; port: number };
  /** A full listing of Docker's containers at least this often (events trigger one sooner). */
  resyncSeconds: number;
  /** On SIGTERM/SIGINT: how long open connections may go on before they are cut. */
  drainSeconds: number;
  logLevel: string;
}

export function loadGatewayConfig(env: EnvSource): GatewayConfig {
  const issues: string[] = [];
  if (!env.BERTH_DEPLOYMENT_ID && !env.BERTH_DATABASE_URL) {
    issues.push("BERTH_DEPLOYMENT_ID is required (or BERTH_DATABASE_URL, from which the worker derives its default)");
  }
  const parsed = parseEnv(gatewayEnvSchema, env, issues);
  return {
    dockerHost: parsed.DOCKER_HOST,
    deploymentId: parsed.BERTH_DEPLOYMENT_ID ?? defaultDeploymentId(parsed.BERTH_DATABASE_URL!),
    bindAddress: parsed.BERTH_DATABASE_BIND_ADDRESS,
    http: { host: parsed.BERTH_GATEWAY_HTTP_HOST, port: parsed.BERTH_GATEWAY_HTTP_PORT },
    resyncSeconds: parsed.BERTH_GATEWAY_RESYNC_SECONDS,
    drainSeconds: parsed.BERTH_GATEWAY_DRAIN_SECONDS,
    logLevel: parsed.LOG_LEVEL,
  };
}

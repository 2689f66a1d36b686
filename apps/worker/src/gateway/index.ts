export { createGateway, type Gateway, type GatewayOptions, type GatewayRuntime, type RouteStatus } from "./gateway.js";
export { loadGatewayConfig, type GatewayConfig } from "./config.js";
export { createGatewayMetrics, type GatewayMetrics } from "./metrics.js";

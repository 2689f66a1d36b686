// The worker's composition root, its configuration, and the gateway's (a process of its own on the same package).
export { createWorker, type BerthWorker, type WorkerOptions } from "./create-worker.js";
export { loadWorkerConfig, type WorkerConfig } from "./config.js";
export type { WorkerDeps } from "./deps.js";
export type { ReconcileReport } from "./reconcile/reconciler.js";
export type { RefillReport } from "./pool/warm-pool.js";
export type { ContainmentWatcher, HandledEvent } from "./containment/containment-watcher.js";
export { createGateway, loadGatewayConfig, type Gateway, type GatewayConfig, type GatewayOptions } from "./gateway/index.js";

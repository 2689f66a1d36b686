export { startOperationWorker, runOperation } from "./worker.js";
export { createWorkerDeps } from "./main-deps.js";
export { sampleUsageOnce, startUsageSampler, type UsagePass, type UsageSampler, type UsageSamplerOptions } from "./usage/usage-sampler.js";
export { loadWorkerConfig, type WorkerConfig } from "./config.js";
export { DockerRuntime } from "./runtime/docker-runtime.js";
export type { ContainerRuntime, ContainerUsage } from "./runtime/container-runtime.js";
export type { WorkerDeps } from "./deps.js";
export { reconcileOnce, startReconciler, type ReconcileReport } from "./reconcile/reconciler.js";

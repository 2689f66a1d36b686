export { startOperationWorker, runOperation } from "./worker.js";
export { createWorkerDeps } from "./main-deps.js";
export { loadWorkerConfig, type WorkerConfig } from "./config.js";
export { DockerRuntime } from "./runtime/docker-runtime.js";
export type { ContainerRuntime } from "./runtime/container-runtime.js";
export type { WorkerDeps } from "./deps.js";

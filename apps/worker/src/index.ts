// The worker's composition root. Its configuration is `@berth/worker/config`; the gateway (a process
// of its own on the same package) is `@berth/worker/gateway` and `@berth/worker/gateway/config`.
export { createWorker, type BerthWorker, type WorkerOptions } from "./create-worker.js";

export * from "./catalog.js";
export * from "./progress.js";
export * from "./queue.js";
export * from "./queues.js";

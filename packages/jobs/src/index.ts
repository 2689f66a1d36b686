export * from "./catalog.js";
export * from "./queue.js";

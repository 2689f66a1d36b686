export * from "./environment.js";
export * from "./stack.js";
export * from "./docker.js";
export * from "./browser.js";
export * from "./wait.js";
export * from "./redis-server.js";
export * from "./private-docker.js";
export * from "./test-postgres.js";

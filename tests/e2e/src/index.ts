export * from "./environment.js";
export * from "./stack.js";
export * from "./docker.js";

export * from "./environment.js";
export * from "./stack.js";
export * from "./docker.js";
export * from "./browser.js";
export * from "./wait.js";

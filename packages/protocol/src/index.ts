export * from "./provider.js";
export * from "./platform.js";

export * from "./provider.js";
export * from "./platform.js";
export * from "./sso.js";
export * from "./manifest.js";

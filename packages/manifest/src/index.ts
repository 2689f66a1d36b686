export * from "./build-manifest.js";
export * from "./check-manifest.js";

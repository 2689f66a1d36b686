export { buildApp, deriveSessionKey, type ApiDeps } from "./app.js";
export { loadApiConfig, type ApiConfig } from "./config.js";

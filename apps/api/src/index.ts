export { createApi, type ApiOptions, type BerthApi } from "./create-api.js";
export { buildApp, deriveSessionKey, type ApiDeps } from "./app.js";
export { loadApiConfig, type ApiConfig } from "./config.js";
export type { ApiLogOptions } from "./observability/logging.js";

// The API's composition root and its configuration.
export { createApi, type ApiOptions, type BerthApi } from "./create-api.js";
export { loadApiConfig, type ApiConfig } from "./config.js";
export type { ApiLogOptions } from "./observability/logging.js";

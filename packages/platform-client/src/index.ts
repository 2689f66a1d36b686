export { PlatformClient, type PlatformClientOptions, type RetryInfo } from "./platform-client.js";
export { PlatformApiError, type PlatformApiErrorCode } from "./platform-api-error.js";
export type { ConfigVars, ProviderApp, ProviderAppList, ProviderAppSummary } from "@berth/protocol";

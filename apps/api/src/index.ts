// The API's composition root. Its configuration is `@berth/api/config`.
export { createApi, type ApiOptions } from "./create-api.js";

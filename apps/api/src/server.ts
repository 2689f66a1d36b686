/** The API's entry point (`pnpm --filter @berth/api start`): configured from the environment, once. */
import { addons } from "@berth/addons";
import { ConfigError } from "@berth/config";
import { loadApiConfig } from "./config.js";
import { createApi } from "./create-api.js";

async function main(): Promise<void> {
  const api = await createApi(loadApiConfig(process.env, addons));
  await api.start();
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    api.log.info({ signal }, "api stopping: draining requests");
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        api.log.error({ err: error }, "stopping failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});

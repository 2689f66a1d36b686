import type { AddonDefinition } from "@berth/addon-sdk";
import type { PrismaClient } from "@berth/db";
import type { OperationQueue } from "@berth/jobs";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { installErrorHandling } from "./errors.js";
import { ResourceService } from "./resource-service.js";
import { healthRoutes } from "./routes/health.js";
import { resourceRoutes } from "./routes/resources.js";

export interface ApiDeps {
  db: PrismaClient;
  queue: OperationQueue;
  addons: ReadonlyMap<string, AddonDefinition>;
  addonCredentials: ReadonlyMap<string, { username: string; password: string }>;
  logger?: FastifyServerOptions["logger"];
}

/** Provision requests are a few hundred bytes; anything near this limit is not one. */
const BODY_LIMIT_BYTES = 64 * 1024;

/** Builds the API without listening, so tests can `inject()` or listen on a port of their own. */
export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: BODY_LIMIT_BYTES,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);
  // The provider API speaks JSON only: a text body is refused with 415 rather than misread.
  app.removeContentTypeParser("text/plain");

  const resources = new ResourceService(deps.db, deps.queue);
  await app.register(healthRoutes);
  for (const addon of deps.addons.values()) {
    const credentials = deps.addonCredentials.get(addon.id);
    if (!credentials) throw new Error(`no credentials configured for addon ${addon.id}`);
    await app.register(resourceRoutes, { prefix: `/${addon.id}/resources`, addon, credentials, resources });
  }
  return app;
}

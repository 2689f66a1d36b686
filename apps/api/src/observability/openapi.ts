import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { jsonSchemaTransform } from "fastify-type-provider-zod";

/** The provider endpoints (spec §2): `/<addon>/resources…` and `/<addon>/sso`. */
function isProviderRoute(url: string): boolean {
  return /^\/[^/]+\/(resources|sso)(\/|$)/.test(url);
}

/**
 * The OpenAPI description of the provider endpoints, generated from the zod schemas the routes
 * validate with: the UI at `/docs`, the document at `/docs/json`. Register before the routes.
 */
export async function installOpenApi(app: FastifyInstance, { publicUrl }: { publicUrl: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Berth provider API",
        description: "Scalingo's Addon Provider API as Berth answers it. Each addon's endpoints take that addon's manifest credentials (HTTP Basic).",
        version: "1",
      },
      servers: [{ url: publicUrl }],
      components: { securitySchemes: { addonCredentials: { type: "http", scheme: "basic" } } },
    },
    transform: (input) => {
      if (!isProviderRoute(input.url)) return { schema: { ...input.schema, hide: true }, url: input.url };
      // `POST /` under the `/<addon>/resources` prefix: the platform calls it without the trailing slash.
      const transformed = jsonSchemaTransform({ ...input, url: input.url.replace(/(.)\/$/, "$1") });
      const security = input.url.includes("/resources") ? { security: [{ addonCredentials: [] }] } : {};
      return { ...transformed, schema: { ...transformed.schema, ...security } };
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list" } });
}

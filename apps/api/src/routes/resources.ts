import type { AddonDefinition } from "@berth/addon-sdk";
import type { ForkTokens } from "@berth/backup-store";
import type { PrismaClient } from "@berth/db";
import {
  errorResponseSchema,
  operationAcceptedResponseSchema,
  planChangeRequestSchema,
  planChangeResponseSchema,
  provisionRequestSchema,
  provisionResponseSchema,
  resourceIdParamsSchema,
} from "@berth/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ApiError } from "../errors.js";
import { registerAddonAuth } from "../plugins/addon-auth.js";
import type { DatabaseUserService, ForkSeed, ResourceService } from "@berth/operations";
import type { BackupLinks } from "./backup-links.js";
import { backupRoutes } from "./backups.js";
import { usageRoutes } from "./usage.js";
import { userRoutes } from "./users.js";

export interface ResourceRoutesOptions {
  addon: AddonDefinition;
  credentials: { username: string; password: string };
  resources: ResourceService;
  users: DatabaseUserService;
  db: PrismaClient;
  backupLinks: BackupLinks;
  forkTokens: ForkTokens;
}

const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 404: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema };

/** The provider endpoints of one addon (spec §2), mounted at `/<addon>/resources` behind that addon's credentials. */
export async function resourceRoutes(scope: FastifyInstance, { addon, credentials, resources, users, db, backupLinks, forkTokens }: ResourceRoutesOptions): Promise<void> {
  await registerAddonAuth(scope, { addonId: addon.id, ...credentials });
  const app = scope.withTypeProvider<ZodTypeProvider>();
  usageRoutes(scope, { addon, db });
  backupRoutes(scope, { addon, resources, links: backupLinks, forks: forkTokens });
  userRoutes(scope, { addon, users });

  app.post(
    "/",
    { schema: { body: provisionRequestSchema, response: { 202: provisionResponseSchema, ...errors } } },
    async (request, reply) => {
      const resource = await resources.provision(addon, request.body, { seed: forkSeed(request.body.options, forkTokens) });
      const message =
        resource.status === "provisioned"
          ? `Your ${addon.name} database is ready.`
          : `Your ${addon.name} database is being created; ${addon.configVars.join(", ")} will be set when it is ready.`;
      return reply.code(202).send({ id: resource.id, message });
    },
  );

  for (const method of ["PUT", "PATCH"] as const) {
    app.route({
      method,
      url: "/:id",
      schema: { params: resourceIdParamsSchema, body: planChangeRequestSchema, response: { 200: planChangeResponseSchema, ...errors } },
      handler: async (request) => {
        const outcome = await resources.changePlan(addon, request.params.id, request.body);
        return outcome.kind === "unchanged"
          ? { message: `The database is already on plan ${outcome.plan.displayName}.` }
          : { message: `The database is moving to plan ${outcome.plan.displayName}; it restarts once, its data is kept.` };
      },
    });
  }

  // DELETE, suspend and resume carry no body, but the platform's tooling sends `null` without a
  // content type (DELETE), or `{}` (suspend and resume, spec §2.5): accept and ignore whatever
  // comes, in a scope of its own so other routes keep their 415.
  await app.register(async (bodylessScope) => {
    bodylessScope.removeAllContentTypeParsers();
    bodylessScope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));
    const bodyless = bodylessScope.withTypeProvider<ZodTypeProvider>();
    bodyless.delete("/:id", { schema: { params: resourceIdParamsSchema } }, async (request, reply) => {
      await resources.deprovision(addon, request.params.id);
      return reply.code(204).send();
    });
    // Idempotent, queued in order with the resource's other operations.
    bodyless.post("/:id/suspend", { schema: { params: resourceIdParamsSchema } }, async (request, reply) => {
      await resources.suspend(addon, request.params.id);
      return reply.code(204).send();
    });
    bodyless.post("/:id/resume", { schema: { params: resourceIdParamsSchema } }, async (request, reply) => {
      await resources.resume(addon, request.params.id);
      return reply.code(204).send();
    });
    // The customer's (or their platform's) rotation: no body; each request rotates once more.
    bodyless.post(
      "/:id/credentials/rotate",
      { schema: { params: resourceIdParamsSchema, response: { 202: operationAcceptedResponseSchema, ...errors } } },
      async (request, reply) => {
        const operation = await resources.rotateCredentials(addon, request.params.id);
        const message = `The database gets a new password; ${addon.urlConfigVar} is updated, and the current password keeps working for a grace period, then is refused.`;
        return reply.code(202).send({ operation_id: operation.id, message });
      },
    );
  });
}

/**
 * What a provision is to be created from: the `fork_token` option (from `POST …/backups/:backup_id/fork-token`,
 * or `POST …/fork-token` with a moment), checked here; undefined without one.
 */
function forkSeed(options: Record<string, unknown> | null | undefined, forkTokens: ForkTokens): ForkSeed | undefined {
  const token = options?.fork_token;
  if (token === undefined) return undefined;
  const opened = typeof token === "string" ? forkTokens.openSeed(token) : ({ refused: "invalid" } as const);
  if ("refused" in opened) {
    throw new ApiError("invalid_fork_token", 422, opened.refused === "expired" ? "The fork token has expired; ask for a new one." : "The fork token is not valid.");
  }
  return opened;
}

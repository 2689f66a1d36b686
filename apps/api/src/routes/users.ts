import type { AddonDefinition } from "@berth/addon-sdk";
import type { DatabaseUserSecret, DatabaseUserService, DatabaseUserView } from "@berth/operations";
import {
  databaseUserCreateRequestSchema,
  databaseUserListResponseSchema,
  databaseUserParamsSchema,
  databaseUserPasswordRequestSchema,
  databaseUserSecretResponseSchema,
  errorResponseSchema,
  operationAcceptedResponseSchema,
  resourceIdParamsSchema,
} from "@berth/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";

const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 404: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema };

export interface UserRoutesOptions {
  addon: AddonDefinition;
  users: DatabaseUserService;
}

function userView(user: DatabaseUserView) {
  return { name: user.name, read_only: user.readOnly, protected: user.protected, created_at: user.createdAt?.toISOString() ?? null };
}

function secretView({ user, password, operation }: DatabaseUserSecret, message: string) {
  return { user: { ...userView(user), password }, operation_id: operation.id, message };
}

/** `/<addon>/resources/:id/users…` (Scalingo's database users): inside the addon's authenticated scope. */
export function userRoutes(scope: FastifyInstance, { addon, users }: UserRoutesOptions): void {
  const app = scope.withTypeProvider<ZodTypeProvider>();

  app.get("/:id/users", { schema: { params: resourceIdParamsSchema, response: { 200: databaseUserListResponseSchema, ...errors } } }, async (request) => ({
    users: (await users.list(addon, request.params.id)).map(userView),
  }));

  app.post(
    "/:id/users",
    { schema: { params: resourceIdParamsSchema, body: databaseUserCreateRequestSchema, response: { 202: databaseUserSecretResponseSchema, ...errors } } },
    async (request, reply) => {
      const { name, read_only: readOnly, password } = request.body;
      const created = await users.create(addon, request.params.id, { name, readOnly, ...(password === undefined ? {} : { password }) });
      return reply.code(202).send(secretView(created, `User ${name} is being created; its password is shown this once.`));
    },
  );

  app.delete(
    "/:id/users/:name",
    { schema: { params: databaseUserParamsSchema, response: { 202: operationAcceptedResponseSchema, ...errors } } },
    async (request, reply) => {
      const operation = await users.remove(addon, request.params.id, request.params.name);
      return reply.code(202).send({ operation_id: operation.id, message: `User ${request.params.name} is being removed; its sessions are ended.` });
    },
  );

  app.post(
    "/:id/users/:name/reset_password",
    { schema: { params: databaseUserParamsSchema, body: databaseUserPasswordRequestSchema.optional(), response: { 202: databaseUserSecretResponseSchema, ...errors } } },
    async (request, reply) => {
      const password = request.body?.password;
      const reset = await users.resetPassword(addon, request.params.id, request.params.name, password);
      return reply.code(202).send(secretView(reset, `User ${request.params.name} gets a new password, shown this once; the previous one is refused once it is applied.`));
    },
  );
}

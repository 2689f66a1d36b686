import { createHash, timingSafeEqual } from "node:crypto";
import basicAuth from "@fastify/basic-auth";
import type { FastifyInstance } from "fastify";
import { ApiError, sendApiError } from "../errors.js";

export interface BasicAuthOptions {
  /** The `WWW-Authenticate` realm: browsers keep credentials per realm. */
  realm: string;
  username: string;
  password: string;
  /** The message of a 401 for wrong credentials, e.g. "Wrong credentials for this addon." */
  wrongCredentials: string;
}

/**
 * Guards every route of the scope it is registered in with HTTP Basic
 * credentials. Digests are compared in constant time, so neither the content
 * nor the length of a guess leaks through timing. A refusal is answered here,
 * in the single error shape, rather than thrown: a plugin registered inside
 * the scope (bull-board) installs an error handler of its own.
 */
export async function registerBasicAuth(scope: FastifyInstance, { realm, username, password, wrongCredentials }: BasicAuthOptions): Promise<void> {
  const expected = digest(`${username}:${password}`);
  await scope.register(basicAuth, {
    authenticate: { realm },
    validate: async (givenUser, givenPassword) => {
      if (!timingSafeEqual(digest(`${givenUser}:${givenPassword}`), expected)) {
        throw new ApiError("unauthorized", 401, wrongCredentials);
      }
    },
  });
  scope.addHook("onRequest", async (request, reply) => {
    const refusal = await new Promise<Error | undefined>((resolve) => void scope.basicAuth(request, reply, resolve));
    if (refusal === undefined) return;
    // basicAuth has set WWW-Authenticate already, so browsers ask for credentials.
    return sendApiError(
      reply,
      refusal instanceof ApiError ? refusal : new ApiError("unauthorized", 401, "Missing or malformed Basic authorization."),
    );
  });
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

import { createHash, timingSafeEqual } from "node:crypto";
import basicAuth from "@fastify/basic-auth";
import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors.js";

export interface AddonAuthOptions {
  addonId: string;
  username: string;
  password: string;
}

/**
 * Guards every route of the scope it is registered in with the addon's
 * manifest credentials. Digests are compared in constant time, so neither
 * the content nor the length of a guess leaks through timing.
 */
export async function registerAddonAuth(scope: FastifyInstance, { addonId, username, password }: AddonAuthOptions): Promise<void> {
  const expected = digest(`${username}:${password}`);
  await scope.register(basicAuth, {
    authenticate: { realm: `berth-${addonId}` },
    validate: async (givenUser, givenPassword) => {
      if (!timingSafeEqual(digest(`${givenUser}:${givenPassword}`), expected)) {
        throw new ApiError("unauthorized", 401, "Wrong credentials for this addon.");
      }
    },
  });
  scope.addHook("onRequest", scope.basicAuth);
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

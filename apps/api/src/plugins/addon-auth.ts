import type { FastifyInstance } from "fastify";
import { registerBasicAuth } from "./basic-auth.js";

export interface AddonAuthOptions {
  addonId: string;
  username: string;
  password: string;
}

/** Guards every route of the scope with the addon's manifest credentials (the platform's Basic auth). */
export async function registerAddonAuth(scope: FastifyInstance, { addonId, username, password }: AddonAuthOptions): Promise<void> {
  await registerBasicAuth(scope, { realm: `berth-${addonId}`, username, password, wrongCredentials: "Wrong credentials for this addon." });
}

/**
 * Wire schemas of the endpoints a provider exposes to the platform
 * (spec §2). Unknown fields are accepted everywhere (spec §7.2).
 */
import { z } from "zod";

/** Provider resource ids and platform uuids travel in URLs: keep them URL-safe and bounded (spec §1: ≤ 255). */
export const IDENTIFIER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,254}$/;

const identifier = z
  .string()
  .regex(IDENTIFIER_PATTERN, "must be 1 to 255 characters among letters, digits and . _ @ : -");

/** Plan options are a string map in manifests (spec §3.2); the tester sends `null` when a plan has none. */
const planOptions = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((value) => value ?? {});

export const provisionRequestSchema = z.looseObject({
  plan: z.string().min(1).max(100),
  app_id: identifier,
  options: planOptions,
  uuid: identifier.optional(),
});
export type ProvisionRequest = z.infer<typeof provisionRequestSchema>;

export const configVarsSchema = z.record(z.string(), z.string());
export type ConfigVars = z.infer<typeof configVarsSchema>;

export const provisionResponseSchema = z.object({
  id: z.string().min(1).max(255),
  message: z.string().optional(),
  config: configVarsSchema.optional(),
});
export type ProvisionResponse = z.infer<typeof provisionResponseSchema>;

export const planChangeRequestSchema = z.looseObject({
  plan: z.string().min(1).max(100),
  options: planOptions,
});
export type PlanChangeRequest = z.infer<typeof planChangeRequestSchema>;

export const planChangeResponseSchema = z.object({
  message: z.string().optional(),
  config: configVarsSchema.optional(),
});
export type PlanChangeResponse = z.infer<typeof planChangeResponseSchema>;

export const resourceIdParamsSchema = z.object({ id: identifier });

/** The one error body every Berth HTTP surface answers with. `error` is a stable code, `message` is for people. */
export const errorResponseSchema = z.object({
  error: z.string(),
  message: z.string(),
});
export type ErrorResponse = z.infer<typeof errorResponseSchema>;

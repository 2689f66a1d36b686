/**
 * Wire schemas of the Platform API for providers (spec §4), used by the
 * provider's client and by the in-repo platform stand-in alike.
 */
import { z } from "zod";
import { configVarsSchema } from "./provider.js";

/** Spec §7.5: the gem sends an object, its README an array of {name, value}; accept both, normalise to an object. */
export const addonConfigPatchSchema = z.object({
  config: z.union([
    configVarsSchema,
    z
      .array(z.object({ name: z.string(), value: z.string() }))
      .transform((pairs) => Object.fromEntries(pairs.map(({ name, value }) => [name, value]))),
  ]),
});
export type AddonConfigPatch = z.input<typeof addonConfigPatchSchema>;

export const appConfigPatchSchema = z.object({ config: configVarsSchema });

export const providerAppSummarySchema = z.object({
  addon_provider_id: z.string(),
  app_id: z.string(),
  plan: z.string(),
});
export type ProviderAppSummary = z.infer<typeof providerAppSummarySchema>;

export const paginationSchema = z.object({
  prev_page: z.number().nullable(),
  current_page: z.number(),
  next_page: z.number().nullable(),
  total_pages: z.number(),
  total_count: z.number(),
});

export const providerAppListSchema = z.object({
  apps: z.array(providerAppSummarySchema),
  meta: z.object({ pagination: paginationSchema }).optional(),
});
export type ProviderAppList = z.infer<typeof providerAppListSchema>;

export const providerAppSchema = z.object({
  addon_provider_id: z.string(),
  id: z.string(),
  name: z.string(),
  owner_email: z.string(),
  plan: z.string(),
  config: configVarsSchema,
});
export type ProviderApp = z.infer<typeof providerAppSchema>;

export const providerAppResponseSchema = z.object({ app: providerAppSchema });

/** Environment variable names the platform accepts (POSIX portable names, upper case by convention). */
export const ENV_VAR_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;

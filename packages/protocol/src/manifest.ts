/**
 * The addon manifest (spec §3): what a provider sends to the platform to
 * register an addon. This schema is the wire shape plus the minimum the
 * official tester enforces (spec §3.4); `@berth/manifest`'s `checkManifest`
 * applies the stricter rules and explains every problem.
 *
 * Unknown keys are accepted (and dropped by `parse`), as the tester's JSON
 * decoding ignores them.
 */
import { z } from "zod";

/** Spec §3.2: `options` is a string → string map, sent verbatim as `options` in provision and plan change; `null` means none. */
export const manifestPlanOptionsSchema = z.record(z.string(), z.string());

export const manifestPlanSchema = z.object({
  /** Canonical plan name, sent by the platform as `plan`. */
  name: z.string().min(1),
  display_name: z.string(),
  /** Euros for 30 days. */
  price: z.number(),
  /** Markdown. */
  description: z.string(),
  options: manifestPlanOptionsSchema.nullish(),
});
export type ManifestPlan = z.infer<typeof manifestPlanSchema>;

export const manifestEndpointsSchema = z.object({
  /** Provision, plan change and deprovision are sent to `<base_url>` and `<base_url>/:id`. */
  base_url: z.url(),
  /** Single sign-on: `GET <sso_url>?id=&timestamp=&token=`. */
  sso_url: z.url(),
});
export type ManifestEndpoints = z.infer<typeof manifestEndpointsSchema>;

export const manifestSchema = z.object({
  /** Display name in the platform's addon list. */
  name: z.string(),
  /** HTTP Basic credentials, both ways (platform → provider and provider → Platform API). */
  username: z.string().min(1),
  password: z.string().min(1),
  /** Shared secret of single sign-on tokens: `sha1(id:sso_salt:timestamp)`. */
  sso_salt: z.string().min(1),
  /** A 100x100 logo. The tester only checks it parses, so it may be absent, empty or protocol-relative. */
  logo_url: z.string().optional(),
  short_description: z.string().min(1),
  /** Markdown. */
  description: z.string().min(1),
  /** When true, the platform expects `log_drain_url` in provision responses. */
  log_drain: z.boolean().default(false),
  /** The environment variables the provider may set on the app. */
  config_vars: z.array(z.string()).min(1),
  production: manifestEndpointsSchema,
  /** The only URLs the official tester calls. */
  test: manifestEndpointsSchema,
  plans: z.array(manifestPlanSchema).min(1),
});
export type Manifest = z.infer<typeof manifestSchema>;

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

/** How deep a request's `options` may nest (the options object itself is level 1). */
export const OPTIONS_MAX_DEPTH = 32;
/** How large a request's `options` may be, serialised as JSON (UTF-8 bytes). */
export const OPTIONS_MAX_BYTES = 16 * 1024;

/**
 * Plan options are a string map in manifests (spec §3.2); the tester sends `null` when a plan has none.
 * Their values are kept as sent (stored as JSON), so their depth and size are bounded here, before
 * anything serialises them: `JSON.stringify` overflows the stack on a few thousand levels, which
 * a 64 KiB body holds easily (JSON.parse, the body parser's, does not: it is iterative).
 */
const planOptions = z
  .record(z.string(), z.unknown())
  .nullish()
  .transform((value) => value ?? {})
  .check((ctx) => {
    const problem = optionsProblem(ctx.value);
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
  });

/** Why options are out of bounds, or undefined. The depth is measured without recursion, so any depth is measured safely. */
function optionsProblem(options: Record<string, unknown>): string | undefined {
  const pending: [unknown, number][] = [[options, 1]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > OPTIONS_MAX_DEPTH) return `must be nested at most ${OPTIONS_MAX_DEPTH} levels deep`;
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
  const bytes = new TextEncoder().encode(JSON.stringify(options)).length;
  if (bytes > OPTIONS_MAX_BYTES) return `must be at most ${OPTIONS_MAX_BYTES} bytes as JSON (got ${bytes})`;
  return undefined;
}

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

/**
 * `GET /<addon>/resources/:id/usage?from=&to=` (usage metering, as Scalingo's DBaaS
 * `disk_used`, spec §2.6). Bounds are ISO 8601 date-times with a zone (`Z` or an
 * offset) or dates (midnight UTC); both are optional (the API defaults to the last 24 h).
 */
const isoInstant = z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
  error: "must be an ISO 8601 date-time with a zone, e.g. 2025-01-31T12:00:00Z, or a date",
});

export const usageQuerySchema = z.looseObject({
  from: isoInstant.optional(),
  to: isoInstant.optional(),
});
export type UsageQuery = z.infer<typeof usageQuerySchema>;

export const usageSampleSchema = z.object({
  /** When the sample was taken (ISO 8601, UTC). */
  at: z.string(),
  disk_bytes: z.number().int().nonnegative(),
  memory_bytes: z.number().int().nonnegative(),
  connections: z.number().int().nonnegative(),
});
export type UsageSampleBody = z.infer<typeof usageSampleSchema>;

export const usageResponseSchema = z.object({
  resource_id: z.string(),
  from: z.string(),
  to: z.string(),
  /** Oldest first. */
  samples: z.array(usageSampleSchema),
  /** `disk_bytes` of the latest sample of the window; null when the window holds none. */
  disk_used: z.number().int().nonnegative().nullable(),
  /** The memory limit of the resource's plan; null if the plan is no longer offered. */
  memory_limit_bytes: z.number().int().positive().nullable(),
});
export type UsageResponse = z.infer<typeof usageResponseSchema>;

/**
 * Backups (shaped like Scalingo's database API): `GET|POST /<addon>/resources/:id/backups`,
 * `GET …/backups/:backup_id/archive`, `POST …/restore`, `PUT …/backup-schedule`.
 */
export const backupStatusSchema = z.enum(["scheduled", "running", "done", "failed"]);
export const backupMethodSchema = z.enum(["periodic", "manual", "final"]);

export const backupSchema = z.object({
  id: z.string(),
  status: backupStatusSchema,
  method: backupMethodSchema,
  /** Bytes stored (compressed and encrypted); null until done. */
  size: z.number().int().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
export type BackupView = z.infer<typeof backupSchema>;

export const backupListResponseSchema = z.object({ backups: z.array(backupSchema) });
export const backupCreatedResponseSchema = z.object({ backup: backupSchema.pick({ id: true, status: true }) });
export const backupParamsSchema = z.object({ id: identifier, backup_id: z.uuid() });
export const backupArchiveResponseSchema = z.object({ download_url: z.url(), expires_at: z.string() });

/** `POST …/restore`: one of the database's backups, or (PostgreSQL) a moment of the last 7 days, ISO 8601 with its offset. */
export const restoreRequestSchema = z.union([z.strictObject({ backup_id: z.uuid() }), z.strictObject({ at: z.iso.datetime({ offset: true }) })]);
/** An operation recorded and queued (`POST …/restore`, `POST …/credentials/rotate`): its id, and what will happen. */
export const operationAcceptedResponseSchema = z.object({ operation_id: z.string(), message: z.string() });

export const backupScheduleRequestSchema = z.object({ hour: z.number().int().min(0).max(23) });
export const backupScheduleResponseSchema = z.object({ hour: z.number().int() });

/** `POST …/fork-token`: a new database as this one was at a moment of the last 7 days (PostgreSQL). */
export const momentForkRequestSchema = z.strictObject({ at: z.iso.datetime({ offset: true }) });

/** `POST …/backups/:backup_id/fork-token` (or `POST …/fork-token` with a moment): give `fork_token` as a provision option to create a database from it. */
export const forkTokenResponseSchema = z.object({ fork_token: z.string(), expires_at: z.string() });

/** A database user beside the app's own, as `…/users` shows it (`password` only in the answer that sets it, shown once). */
export const databaseUserSchema = z.object({
  name: z.string(),
  read_only: z.boolean(),
  /** The app's own user: never removed or changed through `…/users`. */
  protected: z.boolean(),
  created_at: z.string().nullable(),
});
export const databaseUserListResponseSchema = z.object({ users: z.array(databaseUserSchema) });
export const databaseUserParamsSchema = z.object({ id: identifier, name: z.string().min(1).max(64) });
/** `POST …/users`: Scalingo's rules (6–32 of `[a-z0-9-]`; a password of 24–64 characters, generated when left out). */
export const databaseUserCreateRequestSchema = z.strictObject({
  name: z.string(),
  read_only: z.boolean().default(false),
  password: z.string().optional(),
});
export const databaseUserPasswordRequestSchema = z.strictObject({ password: z.string().optional() });
export const databaseUserSecretResponseSchema = z.object({
  user: databaseUserSchema.extend({ password: z.string() }),
  operation_id: z.string(),
  message: z.string(),
});

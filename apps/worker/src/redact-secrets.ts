import type { AddonCredentials } from "@berth/addon-sdk";
import type { WorkerDeps } from "./deps.js";

/** Shorter values (a port, "postgres") are no secret, and replacing them would garble messages. */
const MIN_SECRET_LENGTH = 12;

/**
 * The resource's credential values, as they could appear in an error message
 * (a driver echoing a connection string): failure reasons go to the job log,
 * the operation and the dashboards, so they are redacted with these first.
 */
export async function credentialSecrets(deps: Pick<WorkerDeps, "db" | "secrets">, resourceId: string): Promise<string[]> {
  let sealed: (string | null)[];
  try {
    const row = await deps.db.resource.findUnique({ where: { id: resourceId }, select: { credentials: true, nextCredentials: true } });
    sealed = [row?.credentials ?? null, row?.nextCredentials ?? null]; // a warm pool's hand-over holds two sets
  } catch {
    return []; // the control plane is down: the failure being reported is about that, not about this resource's secrets
  }
  return sealed
    .filter((value): value is string => value !== null)
    .flatMap((value) => Object.values(deps.secrets.openJson<AddonCredentials>(value)))
    .filter((value): value is string => typeof value === "string" && value.length >= MIN_SECRET_LENGTH);
}

export function redactSecrets(text: string, secrets: readonly string[]): string {
  return secrets.reduce((redacted, secret) => redacted.replaceAll(secret, "[redacted]"), text);
}

import type { AddonCredentials } from "@berth/addon-sdk";
import type { SecretBox } from "@berth/db";
import type { WorkerDeps } from "./deps.js";

/**
 * The resource's credential values, as they could appear in an error message
 * (a driver echoing a connection string): failure reasons go to the job log,
 * the operation and the dashboards, so they are passed to `redact` (@berth/config) first.
 */
export async function credentialSecrets(deps: Pick<WorkerDeps, "db" | "secrets">, resourceId: string): Promise<string[]> {
  try {
    const row = await deps.db.resource.findUnique({ where: { id: resourceId }, select: { credentials: true, nextCredentials: true, retiringCredentials: true } });
    return row ? resourceSecrets(deps.secrets, row) : [];
  } catch {
    return []; // the control plane is down: the failure being reported is about that, not about this resource's secrets
  }
}

/** The values of a resource's credentials, every set during a rotation; a set that cannot be opened gives none. */
export function resourceSecrets(secrets: SecretBox, resource: { credentials: string | null; nextCredentials: string | null; retiringCredentials: string | null }): string[] {
  return [resource.credentials, resource.nextCredentials, resource.retiringCredentials]
    .filter((value): value is string => value !== null)
    .flatMap((sealed) => {
      try {
        return Object.values(secrets.openJson<AddonCredentials>(sealed));
      } catch {
        return [];
      }
    })
    .filter((value): value is string => typeof value === "string");
}

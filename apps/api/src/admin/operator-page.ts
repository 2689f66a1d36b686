import { OPERATIONS_QUEUE } from "@berth/jobs";
import type { ContainmentEvent, Operation, Resource } from "@berth/db";
import { html, type RawHtml } from "../dashboard/html.js";
import { QUEUE_BOARD_PATH, jobPagePath } from "./queue-board.js";
import type { BackupAge } from "./backup-ages.js";

interface ResourceFilters {
  status?: Resource["status"];
  addon?: string;
}

export interface OperatorView {
  filters: ResourceFilters;
  statuses: readonly Resource["status"][];
  addonIds: readonly string[];
  resources: readonly Resource[];
  /** How many resources match the filters; more than `resources` when the list is cut. */
  resourceCount: number;
  failedOperations: readonly (Operation & { resource: Pick<Resource, "addon" | "appId" | "status"> })[];
  /** Databases hurt by an OOM kill or an exit and not answering yet, newest first. */
  degradedResources: readonly Resource[];
  /** The latest containment events, newest first. */
  containmentEvents: readonly (ContainmentEvent & { resource: Pick<Resource, "appId" | "plan" | "status"> })[];
  /** Running databases whose last successful backup is older than 26 hours, oldest first. */
  overdueBackups: readonly BackupAge[];
  now: Date;
}

/** A resource's age, short: "42 s", "7 min", "5 h", "12 d". */
function age(since: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - since.getTime()) / 1000));
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function timestamp(date: Date | null): string {
  return date ? `${date.toISOString().slice(0, 19).replace("T", " ")} UTC` : "—";
}

/** `/admin` with these filters; one of them replaced. */
function filterHref(filters: ResourceFilters, change: ResourceFilters): string {
  const query = new URLSearchParams();
  const merged = { ...filters, ...change };
  if (merged.status) query.set("status", merged.status);
  if (merged.addon) query.set("addon", merged.addon);
  const search = query.toString();
  return search ? `/admin?${search}` : "/admin";
}

function filterNav(label: string, key: keyof ResourceFilters, values: readonly string[], filters: ResourceFilters): RawHtml {
  const current = filters[key];
  return html`<nav class="filters" aria-label="${label}"><span class="muted">${label}:</span>
  <a href="${filterHref(filters, { [key]: undefined })}" class="${current ? "" : "active"}">all</a>
  ${values.map((value) => html`<a href="${filterHref(filters, { [key]: value })}" class="${current === value ? "active" : ""}">${value.replace("_", " ")}</a>`)}
</nav>`;
}

export function operatorBody(view: OperatorView): RawHtml {
  const { filters, resources, failedOperations, now } = view;
  return html`
<h1>Operator console</h1>
<p class="sub">${view.resourceCount} resource${view.resourceCount === 1 ? "" : "s"}${filters.status || filters.addon ? " matching" : ""} ·
  ${failedOperations.length} failed operation${failedOperations.length === 1 ? "" : "s"} ·
  ${view.degradedResources.length} degraded ·
  every job, its progress and its log: <a href="${QUEUE_BOARD_PATH}">job queues</a></p>
${filterNav("Status", "status", view.statuses, filters)}
${filterNav("Addon", "addon", view.addonIds, filters)}
${overdueBackupsSection(view)}
${containmentSections(view)}
<section class="card">
  <h2>Resources</h2>
  ${
    resources.length === 0
      ? html`<p class="muted">No resource matches.</p>`
      : html`<table data-testid="resources"><thead><tr><th>Resource</th><th>Addon</th><th>Plan</th><th>App</th><th>Status</th><th>Container</th><th>Age</th></tr></thead><tbody>
  ${resources.map(
    (resource) => html`<tr data-resource-id="${resource.id}"><td><code>${resource.id}</code></td><td>${resource.addon}</td><td>${resource.plan}</td>
      <td>${resource.appId}</td><td><span class="badge ${resource.status}">${resource.status.replace("_", " ")}</span>${
        resource.statusReason ? html`<div class="muted">${resource.statusReason}</div>` : ""
      }</td>
      <td>${resource.containerName ? html`<code>${resource.containerName}</code>` : "—"}${
        resource.port !== null ? html`<div class="muted">${resource.publicHost ?? ""}:${resource.port}</div>` : ""
      }</td>
      <td class="nowrap" title="${timestamp(resource.createdAt)}">${age(resource.createdAt, now)}</td></tr>`,
  )}
  </tbody></table>${
    view.resourceCount > resources.length ? html`<p class="muted">The newest ${resources.length} of ${view.resourceCount}; filter to see others.</p>` : ""
  }`
  }
</section>
<section class="card">
  <h2>Failed operations</h2>
  ${
    failedOperations.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table data-testid="failed-operations"><thead><tr><th>Operation</th><th>Resource</th><th>Reason</th><th>Attempts</th><th>Failed</th><th>Job</th></tr></thead><tbody>
  ${failedOperations.map(
    (operation) => html`<tr data-operation-id="${operation.id}"><td>${operation.kind.replace("_", " ")}${operation.targetPlan && operation.kind === "change_plan" ? html` → ${operation.targetPlan}` : ""}
      <div class="muted"><code>${operation.id}</code></div></td>
      <td><code>${operation.resourceId}</code><div class="muted">app ${operation.resource.appId} · now ${operation.resource.status.replace("_", " ")}</div></td>
      <td>${operation.error ?? "no reason recorded"}${operation.step ? html`<div class="muted">at step ${operation.step}</div>` : ""}</td>
      <td>${operation.attempts}</td>
      <td class="nowrap">${timestamp(operation.finishedAt)}</td>
      <td><a href="${jobPagePath(OPERATIONS_QUEUE, operation.id)}">job</a></td></tr>`,
  )}
  </tbody></table>
  <p class="muted">Retry one with <code>berth operations retry &lt;operation id&gt;</code>: it reopens the operation and runs its job again.</p>`
  }
</section>`;
}

/** Databases whose daily backup is overdue: a failing dump, a full store, a worker down. */
function overdueBackupsSection({ overdueBackups, now }: OperatorView): RawHtml {
  return html`<section class="card">
  <h2>Backups overdue (none for 26 hours)</h2>
  ${
    overdueBackups.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table data-testid="overdue-backups"><thead><tr><th>Resource</th><th>Addon</th><th>App</th><th>Last backup</th></tr></thead><tbody>
  ${overdueBackups.map(
    (overdue) => html`<tr data-resource-id="${overdue.resourceId}"><td><code>${overdue.resourceId}</code></td><td>${overdue.addon}</td><td>${overdue.appId}</td>
      <td class="nowrap">${overdue.lastBackupAt ? html`<span title="${timestamp(overdue.lastBackupAt)}">${age(overdue.lastBackupAt, now)} ago</span>` : "never"}</td></tr>`,
  )}
  </tbody></table>
  <p class="muted">See the resource's failed backup operations above; <code>berth backups create &lt;resource id&gt;</code> takes one now.</p>`
  }
</section>`;
}

/** Degraded databases (on top: they need a look) and the latest containment events. */
function containmentSections({ degradedResources, containmentEvents, now }: OperatorView): RawHtml {
  return html`<section class="card">
  <h2>Degraded databases</h2>
  ${
    degradedResources.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table data-testid="degraded-resources"><thead><tr><th>Resource</th><th>Addon</th><th>Plan</th><th>App</th><th>Reason</th><th>Since</th></tr></thead><tbody>
  ${degradedResources.map(
    (resource) => html`<tr data-resource-id="${resource.id}"><td><code>${resource.id}</code></td><td>${resource.addon}</td><td>${resource.plan}</td>
      <td>${resource.appId}</td><td>${resource.statusReason ?? "no reason recorded"}</td>
      <td class="nowrap" title="${timestamp(resource.updatedAt)}">${age(resource.updatedAt, now)}</td></tr>`,
  )}
  </tbody></table>
  <p class="muted">Back to provisioned by themselves once the database answers (Docker restarts an exited container). One that stays here is not restarting: see its container.</p>`
  }
</section>
<section class="card">
  <h2>Containment events</h2>
  ${
    containmentEvents.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table data-testid="containment-events"><thead><tr><th>When</th><th>Resource</th><th>Kind</th><th>Reason</th><th>Recovered</th></tr></thead><tbody>
  ${containmentEvents.map(
    (event) => html`<tr data-resource-id="${event.resourceId}"><td class="nowrap">${timestamp(event.occurredAt)}</td>
      <td><code>${event.resourceId}</code><div class="muted">${event.addon} · ${event.resource.plan} · app ${event.resource.appId} · now ${event.resource.status.replace("_", " ")}</div></td>
      <td>${event.kind === "oom" ? "out of memory" : "exit"}</td><td>${event.reason}<div class="muted"><code>${event.containerName}</code></div></td>
      <td class="nowrap">${event.recoveredAt ? timestamp(event.recoveredAt) : "not yet"}</td></tr>`,
  )}
  </tbody></table>`
  }
</section>`;
}

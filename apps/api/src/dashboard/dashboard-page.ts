import { formatDiskMb, type AddonDefinition, type AddonPlan } from "@berth/addon-sdk";
import type { Backup, ContainmentEvent, Operation, Resource } from "@berth/db";
import type { DatabaseUserView } from "@berth/operations";
import { html, type RawHtml } from "./html.js";
import { usageChart } from "./usage-chart.js";

interface UsageView {
  at: Date;
  diskBytes: number;
  memoryBytes: number;
  /** The container's CPU time so far (a counter), null when not sampled. */
  cpuNanos: number | null;
  connections: number;
}

export interface DashboardView {
  resource: Resource;
  addon: AddonDefinition;
  plan: AddonPlan | undefined;
  operations: readonly Operation[];
  /** The latest incidents (OOM kills, exits), newest first. */
  containmentEvents: readonly ContainmentEvent[];
  /** Its backups, newest first; undefined when its engine has none. */
  backups?: readonly Backup[];
  /** Its users, the app's own first; undefined when its engine has no others. */
  users?: readonly DatabaseUserView[] | undefined;
  samples: readonly UsageView[];
  /** The connection URL with its password replaced by dots. */
  maskedUrl: string | undefined;
  nonce: string;
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

function ago(date: Date): string {
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const OPERATION_LABEL: Record<Operation["kind"], string> = {
  provision: "Provisioning",
  change_plan: "Plan change",
  deprovision: "Deprovisioning",
  backup: "Backup",
  restore: "Restore",
  suspend: "Suspension",
  resume: "Resumption",
  rotate_credentials: "Credential rotation",
  sync_users: "Users changed",
};

function meter(used: number, limit: number | undefined): RawHtml {
  if (!limit) return html``;
  // A native element: the page's CSP forbids inline style attributes.
  return html`<progress value="${Math.min(used, limit)}" max="${limit}"></progress>`;
}

/**
 * CPU use between consecutive samples, as a share of the plan's CPUs (100 %: all of them, the
 * container's limit). A counter that went back (the container was replaced) starts a new series.
 */
export function cpuUse(samples: readonly UsageView[], cpus: number): { at: Date; value: number }[] {
  const points: { at: Date; value: number }[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [samples[i - 1]!, samples[i]!];
    const elapsedNanos = (after.at.getTime() - before.at.getTime()) * 1e6;
    if (before.cpuNanos === null || after.cpuNanos === null || after.cpuNanos < before.cpuNanos || elapsedNanos <= 0) continue;
    points.push({ at: after.at, value: ((after.cpuNanos - before.cpuNanos) / elapsedNanos / cpus) * 100 });
  }
  return points;
}

function formatPercent(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} %`;
}

/** The connection limit a plan sets, whatever the engine calls it. */
function connectionLimit(plan: AddonPlan | undefined): number | undefined {
  const limit = plan?.settings.max_connections ?? plan?.settings.maxclients;
  return typeof limit === "number" ? limit : undefined;
}

export function dashboardBody(view: DashboardView): RawHtml {
  const { resource, addon, plan, operations, samples } = view;
  const latest = samples[samples.length - 1];
  const memoryLimit = plan ? plan.limits.memoryMb * 1024 * 1024 : undefined;
  const connections = connectionLimit(plan);
  const diskLimit = plan ? plan.limits.diskMb * 1024 * 1024 : undefined;
  const cpu = plan ? cpuUse(samples, plan.limits.cpus) : [];
  const latestCpu = cpu[cpu.length - 1];
  return html`
<h1>${addon.name} <span class="badge ${resource.status}" data-testid="status">${resource.status.replace("_", " ")}</span></h1>
<p class="sub">Resource <strong>${resource.id}</strong> of app <strong>${resource.appId}</strong> · created ${resource.createdAt.toISOString().slice(0, 16).replace("T", " ")} UTC</p>
${resource.status === "suspended" ? html`<div class="card" data-testid="suspended"><strong>Suspended</strong> by the platform: the database does not run and refuses connections. Its data, URL and credentials are kept; it comes back as it was when the account is restored.</div>` : ""}
${resource.statusReason ? html`<div class="card" data-testid="status-reason"><strong>Why:</strong> ${resource.statusReason}${
  resource.status === "degraded" ? html`<div class="muted">Sessions were cut. The database is restarting or recovering by itself; this clears as soon as it answers again.</div>` : ""
}</div>` : ""}
<div class="grid">
  <section class="card"><h2>Plan</h2><div class="big" data-testid="plan">${plan?.displayName ?? resource.plan}</div>
    <div class="muted">${resource.plan}${plan ? html` · ${plan.limits.memoryMb} MiB · ${plan.limits.cpus} CPU · ${formatDiskMb(plan.limits.diskMb)} disk` : ""}</div></section>
  <section class="card"><h2>Engine</h2><div class="big">${addon.name}</div><div class="muted" data-testid="image">${resource.image ?? "image not recorded yet"}</div></section>
  <section class="card"><h2>Memory</h2><div class="big" data-testid="memory">${latest ? formatBytes(latest.memoryBytes) : "—"}</div>
    ${latest ? meter(latest.memoryBytes, memoryLimit) : ""}<div class="muted">of ${memoryLimit ? formatBytes(memoryLimit) : "?"}</div></section>
  <section class="card"><h2>CPU</h2><div class="big" data-testid="cpu">${latestCpu ? formatPercent(latestCpu.value) : "—"}</div>
    ${latestCpu ? meter(latestCpu.value, 100) : ""}<div class="muted">of ${plan ? plan.limits.cpus : "?"} CPU</div></section>
  <section class="card"><h2>Connections</h2><div class="big" data-testid="connections">${latest ? latest.connections : "—"}</div>
    ${latest ? meter(latest.connections, connections) : ""}<div class="muted">${connections ? html`of ${connections} allowed` : ""}</div></section>
  <section class="card"><h2>Disk used</h2><div class="big" data-testid="disk">${latest ? formatBytes(latest.diskBytes) : "—"}</div>
    ${latest ? meter(latest.diskBytes, diskLimit) : ""}<div class="muted" data-testid="disk-limit">${plan ? html`of ${formatDiskMb(plan.limits.diskMb)} · ` : ""}${latest ? html`sampled ${ago(latest.at)}` : "no sample yet"}</div></section>
</div>
<section class="card" id="connection">
  <h2>Connection URL</h2>
  ${
    view.maskedUrl
      ? html`<code class="url" id="connection-url" data-testid="connection-url">${view.maskedUrl}</code>
  <button type="button" id="reveal">Show password</button>
  <p class="muted">Also in your app's environment as <code>${addon.configVars.join(", ")}</code>.</p>
  ${addon.rotation ? rotationForm(resource) : ""}
  <script nonce="${view.nonce}">
    document.getElementById("reveal").addEventListener("click", async (event) => {
      const response = await fetch(location.pathname.replace(/\\/$/, "") + "/connection", { credentials: "same-origin" });
      if (!response.ok) { event.target.textContent = "Could not load it"; return; }
      document.getElementById("connection-url").textContent = (await response.json()).url;
      event.target.remove();
    });
  </script>`
      : html`<p class="muted">Available once the database is ready.</p>`
  }
</section>
<div class="grid">
  <section class="card"><h2>Disk, last 24 h</h2>${usageChart(samples.map((s) => ({ at: s.at, value: s.diskBytes })), { label: "Disk used", format: formatBytes })}</section>
  <section class="card"><h2>Connections, last 24 h</h2>${usageChart(samples.map((s) => ({ at: s.at, value: s.connections })), { label: "Connections", format: String })}</section>
  <section class="card"><h2>CPU, last 24 h</h2>${usageChart(cpu, { label: "CPU (share of the plan's)", format: formatPercent })}</section>
</div>
${view.users ? usersSection(view.resource, view.users) : ""}
${view.backups ? backupsSection(view.resource, view.backups, { pointInTime: Boolean(addon.backup?.archive) }) : ""}
${containmentSection(view.containmentEvents)}
<section class="card">
  <h2>Operations</h2>
  <table data-testid="operations"><thead><tr><th>Operation</th><th>Status</th><th>Requested</th><th>Finished</th><th>Detail</th></tr></thead><tbody>
  ${operations.map(
    (operation) => html`<tr><td>${OPERATION_LABEL[operation.kind]}${operation.targetPlan && operation.kind === "change_plan" ? html` → ${operation.targetPlan}` : ""}</td>
      <td><span class="badge ${operation.status}">${operation.status}</span></td>
      <td>${operation.createdAt.toISOString().slice(0, 19).replace("T", " ")}</td>
      <td>${operation.finishedAt ? operation.finishedAt.toISOString().slice(0, 19).replace("T", " ") : "—"}</td>
      <td class="muted">${operation.error ?? (operation.status === "running" ? `at step ${operation.step ?? "start"}` : "")}</td></tr>`,
  )}
  </tbody></table>
</section>`;
}

/** Users: the app's own and the others, each removable; a form to create one (its password is shown once, on the next page). */
function usersSection(resource: Resource, users: readonly DatabaseUserView[]): RawHtml {
  const base = `/dashboard/${encodeURIComponent(resource.id)}/users`;
  return html`<section class="card" id="users">
  <h2>Users</h2>
  <table data-testid="users"><thead><tr><th>Name</th><th>Access</th><th></th></tr></thead><tbody>
  ${users.map(
    (user) => html`<tr><td><code>${user.name}</code></td><td>${user.readOnly ? "read only" : "read and write"}</td>
      <td>${user.protected ? html`<span class="muted">the app's own</span>` : html`<form method="post" action="${base}/${encodeURIComponent(user.name)}/delete"><button type="submit">Remove</button></form>`}</td></tr>`,
  )}
  </tbody></table>
  <form method="post" action="${base}">
    <label>Name: <input name="name" pattern="[a-z0-9\-]{6,32}" title="6 to 32 lowercase letters, digits and dashes" autocomplete="off" required data-testid="user-name"></label>
    <label><input type="checkbox" name="read_only" value="on" data-testid="user-read-only"> read only</label>
    <button type="submit" data-testid="create-user">Create user</button>
  </form>
</section>`;
}

/** "Rotate the password": a new one is sent to the app (which restarts); the old one works for a grace period. */
function rotationForm(resource: Resource): RawHtml {
  return html`<details data-testid="rotate"><summary>Rotate the password…</summary><form method="post" action="/dashboard/${encodeURIComponent(resource.id)}/credentials/rotate">
    <p>Gives the database a new password and sends the new URL to app ${resource.appId}, which restarts with it. The current password keeps working for a short while, so the restart drops no request; then it is refused.</p>
    <button type="submit" data-testid="rotate-now">Rotate now</button></form></details>`;
}

function timestamp(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

/** Backups: the list with download and restore, "Back up now", the daily hour. Forms post to the dashboard's own routes. */
function backupsSection(resource: Resource, backups: readonly Backup[], { pointInTime }: { pointInTime: boolean }): RawHtml {
  const base = `/dashboard/${encodeURIComponent(resource.id)}`;
  return html`<section class="card" id="backups">
  <h2>Backups</h2>
  <form method="post" action="${base}/backups"><button type="submit" data-testid="backup-now">Back up now</button></form>
  <form method="post" action="${base}/backup-schedule" class="muted">Daily backup at
    <input type="number" name="hour" min="0" max="23" value="${resource.backupHour ?? ""}" placeholder="auto" data-testid="backup-hour"> h UTC
    <button type="submit">Save</button> ${resource.backupHour === null ? "(now: an hour of the night chosen for this database)" : ""}</form>
  ${
    backups.length === 0
      ? html`<p class="muted" data-testid="backups-none">No backup yet.</p>`
      : html`<table data-testid="backups"><thead><tr><th>Taken (UTC)</th><th>Kind</th><th>Status</th><th>Size</th><th></th></tr></thead><tbody>
  ${backups.map(
    (backup) => html`<tr data-backup-id="${backup.id}"><td class="nowrap">${timestamp(backup.createdAt)}</td><td>${backup.method}</td>
      <td><span class="badge ${backup.status}">${backup.status}</span></td><td>${backup.size === null ? "—" : formatBytes(Number(backup.size))}</td>
      <td>${
        backup.status === "done"
          ? html`<a href="${base}/backups/${backup.id}/download">Download</a>
        <details><summary>Restore…</summary><form method="post" action="${base}/restore">
          <p>This replaces <strong>all the data</strong> of ${resource.id} (app ${resource.appId}) with this backup of ${timestamp(backup.createdAt)} UTC; what was written since is lost. The database restarts once.</p>
          <input type="hidden" name="backup_id" value="${backup.id}">
          <label>Type <code>${resource.id}</code> to confirm: <input name="confirm" autocomplete="off" required></label>
          <button type="submit">Restore</button></form></details>`
          : ""
      }</td></tr>`,
  )}
  </tbody></table>`
  }
  ${
    pointInTime
      ? html`<details data-testid="restore-moment"><summary>Restore to a moment…</summary><form method="post" action="${base}/restore">
    <p>Puts <strong>all the data</strong> of ${resource.id} (app ${resource.appId}) back as it was at a moment of the last 7 days since its first backup; what was written after it is lost. The database restarts once.</p>
    <label>Moment (UTC): <input type="datetime-local" name="at" step="1" required></label>
    <label>Type <code>${resource.id}</code> to confirm: <input name="confirm" autocomplete="off" required></label>
    <button type="submit">Restore</button></form></details>`
      : ""
  }
</section>`;
}

/** Incidents: what hurt the database without anyone asking (the plan's memory limit, a crash), and when it was back. */
function containmentSection(events: readonly ContainmentEvent[]): RawHtml {
  return html`<section class="card">
  <h2>Incidents</h2>
  ${
    events.length === 0
      ? html`<p class="muted" data-testid="containment-events-none">None: the database has not run out of memory nor stopped unexpectedly.</p>`
      : html`<table data-testid="containment-events"><thead><tr><th>When (UTC)</th><th>What happened</th><th>Back</th></tr></thead><tbody>
  ${events.map(
    (event) => html`<tr><td class="nowrap">${timestamp(event.occurredAt)}</td>
      <td><span class="badge degraded">${event.kind === "oom" ? "out of memory" : "exited"}</span> ${event.reason}</td>
      <td class="nowrap">${event.recoveredAt ? timestamp(event.recoveredAt) : html`<span class="muted">not yet</span>`}</td></tr>`,
  )}
  </tbody></table>
  <p class="muted">Out of memory: the plan's memory limit was reached and the system ended a process of the database; a larger plan gives it more.</p>`
  }
</section>`;
}

export function messageBody(title: string, message: string): RawHtml {
  return html`<section class="card"><h1>${title}</h1><p>${message}</p></section>`;
}

/** A user just created: its password, shown this once (it is stored encrypted, and never shown again). */
export function userSecretBody(resourceId: string, name: string, password: string): RawHtml {
  return html`<section class="card"><h1>User ${name} created</h1>
<p>Its password, shown this once: <code data-testid="user-password">${password}</code></p>
<p class="muted">Keep it now: it is not shown again (a new one can be set). The user can log in within seconds.</p>
<p><a href="/dashboard/${encodeURIComponent(resourceId)}#users">Back to the dashboard</a></p></section>`;
}

/**
 * `berth resources list|show|rotate|deprovision`: the databases Berth runs, as the
 * control plane records them. Credentials are never printed.
 */
import { ResourceStatus, type Operation, type Resource } from "@berth/db";
import { InvalidArgumentError, Option, type Command } from "commander";
import { addonOf, findAddon, findResource, type CliContext } from "../context.js";
import { withControlPlane, withDatabase } from "../control-plane.js";
import { CommandFailure } from "../errors.js";
import { age, formatFields, formatTable, timestamp } from "../table.js";

const STATUSES = Object.values(ResourceStatus);

export function registerResourcesCommands(program: Command, context: CliContext): void {
  const resources = program.command("resources").description("the databases Berth runs (reads BERTH_DATABASE_URL)");

  resources
    .command("list")
    .description("list resources, newest first: id, addon, plan, app, status, container, age")
    .addOption(new Option("--status <status>", "only resources in this status").choices(STATUSES))
    .option("--addon <addon>", `only resources of this addon (${[...context.addons.keys()].join(", ")})`)
    .option("--limit <n>", "at most this many", parseLimit, 200)
    .action(async (options: { status?: Resource["status"]; addon?: string; limit: number }) => {
      await listResources(context, options);
    });

  resources
    .command("show")
    .description("one resource in full, with its operations (their status, attempts, step and error)")
    .argument("<id>", "the resource's id, e.g. postgresql-0123456789abcdef")
    .action(async (id: string) => {
      await showResource(context, id);
    });

  resources
    .command("rotate")
    .description(
      "rotate a resource's credentials as its owner's POST …/credentials/rotate does: a new password, sent to the app; " +
        "the previous one works for BERTH_ROTATION_GRACE_SECONDS more (reads BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX)",
    )
    .argument("<id>", "the resource's id")
    .action(async (id: string) => {
      const operation = await withControlPlane(context, async ({ db, resources }) => resources.rotateCredentials(addonOf(context, await findResource(db, id)), id));
      context.io.stdout(`Rotation of ${id}'s credentials queued: operation ${operation.id}.\nFollow it with: berth jobs follow ${operation.id}\n`);
    });

  resources
    .command("deprovision")
    .description(
      "remove a resource as the platform's DELETE does: records a deprovision operation and queues it " +
        "(its container, volume and data are deleted; reads BERTH_DATABASE_URL, BERTH_REDIS_URL, BERTH_QUEUE_PREFIX)",
    )
    .argument("<id>", "the resource's id")
    .action(async (id: string) => {
      await deprovisionResource(context, id);
    });
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError("must be a positive integer.");
  return limit;
}

async function listResources(context: CliContext, options: { status?: Resource["status"]; addon?: string; limit: number }): Promise<void> {
  if (options.addon !== undefined) findAddon(context, options.addon);
  const where = { ...(options.status ? { status: options.status } : {}), ...(options.addon ? { addon: options.addon } : {}) };
  const [rows, total] = await withDatabase(context, (db) =>
    Promise.all([db.resource.findMany({ where, orderBy: { createdAt: "desc" }, take: options.limit }), db.resource.count({ where })]),
  );
  const { io } = context;
  if (rows.length === 0) {
    io.stdout("No resources.\n");
    return;
  }
  const now = new Date();
  io.stdout(
    formatTable(
      ["ID", "ADDON", "PLAN", "APP", "STATUS", "CONTAINER", "AGE"],
      rows.map((resource) => [resource.id, resource.addon, resource.plan, resource.appId, resource.status, resource.containerName, age(resource.createdAt, now)]),
    ),
  );
  if (total > rows.length) io.stderr(`(the newest ${rows.length} of ${total}; --limit shows more)\n`);
}

async function showResource(context: CliContext, id: string): Promise<void> {
  const found = await withDatabase(context, (db) =>
    db.resource.findUnique({ where: { id }, include: { operations: { orderBy: { seq: "asc" } } } }),
  );
  if (!found) throw new CommandFailure(`no resource with id ${id}`);
  const { operations, ...resource } = found;
  context.io.stdout(resourceFields(resource) + "\nOperations:\n" + operationsTable(operations));
}

function resourceFields(resource: Resource): string {
  const now = new Date();
  return formatFields([
    ["ID", resource.id],
    ["Addon", resource.addon],
    ["Plan", resource.plan],
    ["App", resource.appId],
    ["Platform uuid", resource.platformUuid],
    ["Status", resource.statusReason ? `${resource.status} (${resource.statusReason})` : resource.status],
    ["Container", resource.containerName],
    ["Volume", resource.volumeName],
    ["Image", resource.image],
    ["Address", resource.port !== null ? `${resource.publicHost ?? "?"}:${resource.port}` : undefined],
    ["Docker host", resource.dockerHost],
    ["Created", `${timestamp(resource.createdAt)} (${age(resource.createdAt, now)} ago)`],
    ["Provisioned", timestamp(resource.provisionedAt)],
    ["Deprovisioned", timestamp(resource.deprovisionedAt)],
  ]);
}

function operationsTable(operations: readonly Operation[]): string {
  if (operations.length === 0) return "  none\n";
  return formatTable(
    ["SEQ", "OPERATION", "KIND", "STATUS", "ATTEMPTS", "STEP", "CREATED", "FINISHED", "ERROR"],
    operations.map((operation) => [
      operation.seq,
      operation.id,
      operation.kind === "change_plan" && operation.targetPlan ? `change_plan → ${operation.targetPlan}` : operation.kind,
      operation.status,
      operation.attempts,
      operation.step,
      timestamp(operation.createdAt),
      timestamp(operation.finishedAt),
      operation.error,
    ]),
  );
}

async function deprovisionResource(context: CliContext, id: string): Promise<void> {
  const operation = await withControlPlane(context, async ({ db, resources }) => resources.deprovision(addonOf(context, await findResource(db, id)), id));
  const { io } = context;
  if (!operation) {
    io.stdout(`Resource ${id} is deprovisioned already.\n`);
  } else if (operation.status === "succeeded") {
    io.stdout(`Resource ${id} was deprovisioned by operation ${operation.id}.\n`);
  } else {
    io.stdout(`Deprovisioning of ${id} queued: operation ${operation.id}.\nFollow it with: berth jobs follow ${operation.id}\n`);
  }
}

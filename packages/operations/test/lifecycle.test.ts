import { randomUUID } from "node:crypto";
import { ResourceStatus, createDatabase, type PrismaClient } from "@berth/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  IllegalTransitionError,
  OPERATION_KINDS,
  RESOURCE_TRANSITIONS,
  canTransition,
  requireTransition,
  statusesBefore,
  stepPercent,
  transition,
} from "../src/index.js";

const ALL = Object.values(ResourceStatus);

describe("the resource lifecycle", () => {
  it("reaches every status from a new resource (provisioning, or warming for the pool)", () => {
    const reached = new Set<ResourceStatus>(["provisioning", "warming"]);
    for (let grown = true; grown; ) {
      const before = reached.size;
      for (const from of [...reached]) for (const to of RESOURCE_TRANSITIONS[from]) reached.add(to);
      grown = reached.size > before;
    }
    expect([...reached].sort()).toEqual([...ALL].sort());
  });

  it("ends at deprovisioned, which nothing leaves", () => {
    expect(RESOURCE_TRANSITIONS.deprovisioned).toEqual([]);
    // Whatever a resource is going through, it can be removed.
    for (const status of ALL.filter((s) => s !== "deprovisioned")) expect(canTransition(status, "deprovisioning"), status).toBe(true);
    expect(statusesBefore("deprovisioned")).toEqual(["deprovisioning"]);
  });

  it("allows the moves the other parts make: a claim, an incident and its recovery, a retry of each kind", () => {
    expect(canTransition("warm", "provisioning")).toBe(true); // the API's claim of a pool database
    expect(canTransition("provisioned", "degraded")).toBe(true);
    expect(canTransition("degraded", "provisioned")).toBe(true);
    for (const kind of Object.values(OPERATION_KINDS)) expect(canTransition("failed", kind.runningStatus)).toBe(true);
  });

  it("refuses what would lose track of a database", () => {
    expect(canTransition("deprovisioned", "provisioned")).toBe(false);
    expect(canTransition("deprovisioning", "provisioned")).toBe(false);
    expect(canTransition("warming", "provisioned")).toBe(false); // a pool database is never reported without a claim
    expect(canTransition("changing_plan", "degraded")).toBe(false); // a plan change stops the container on purpose
  });

  it("gives each step of a path its share of the steps before it; a step off the path has none", () => {
    const steps = OPERATION_KINDS.deprovision.steps;
    expect(steps.map((step) => stepPercent("deprovision", step))).toEqual([0, 50]);
    expect(stepPercent("provision", "cleanup")).toBeUndefined();
  });
});

/** The writer, against the control plane's PostgreSQL: a move the table forbids is refused in the statement itself. */
describe("transition", () => {
  const databaseUrl = process.env.BERTH_TEST_DATABASE_URL;
  let db: PrismaClient;
  const created: string[] = [];

  beforeAll(() => {
    if (!databaseUrl) throw new Error("BERTH_TEST_DATABASE_URL must name a migrated test database (scripts/test.sh sets it)");
    db = createDatabase({ url: databaseUrl });
  });
  afterAll(async () => {
    await db?.resource.deleteMany({ where: { id: { in: created } } });
    await db?.$disconnect();
  });

  async function resourceIn(status: ResourceStatus): Promise<string> {
    const id = `lifecycle-${randomUUID()}`;
    await db.resource.create({ data: { id, addon: "lifecycle-test", appId: "app", plan: "small", status } });
    created.push(id);
    return id;
  }

  it("moves along an allowed transition, with the other columns in the same statement", async () => {
    const id = await resourceIn("provisioning");
    expect(await transition(db, id, "provisioned", { data: { statusReason: null, port: 4242 } })).toBe(true);
    expect(await db.resource.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "provisioned", port: 4242 });
  });

  it("accepts staying put (a replayed step) and refuses a forbidden move without writing anything", async () => {
    const id = await resourceIn("deprovisioned");
    expect(await transition(db, id, "deprovisioned")).toBe(true);
    expect(await transition(db, id, "provisioned", { data: { port: 1 } })).toBe(false);
    expect(await db.resource.findUniqueOrThrow({ where: { id } })).toMatchObject({ status: "deprovisioned", port: null });
    await expect(requireTransition(db, id, "provisioned")).rejects.toThrow(IllegalTransitionError);
    await expect(requireTransition(db, id, "provisioned")).rejects.toThrow(`cannot go from deprovisioned to provisioned`);
  });

  it("honours a narrower `from`: a pool database claimed meanwhile is not removed", async () => {
    const id = await resourceIn("provisioning");
    expect(await transition(db, id, "deprovisioning", { from: ["warm"] })).toBe(false);
    expect((await db.resource.findUniqueOrThrow({ where: { id } })).status).toBe("provisioning");
  });
});

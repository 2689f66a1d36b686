import { addons } from "@berth/addons";
import Fastify, { type FastifyInstance } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, installErrorHandling } from "../src/errors.js";
import type { PrismaClient } from "@berth/db";
import { usageRoutes, usageWindow } from "../src/routes/usage.js";

const now = new Date("2025-03-10T12:00:00Z");
const HOUR = 3600 * 1000;

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("invalid_request");
    expect((error as ApiError).statusCode).toBe(400);
    return (error as ApiError).message;
  }
  throw new Error("expected a refusal");
}

describe("usage window", () => {
  it("defaults to the last 24 hours", () => {
    expect(usageWindow({}, now)).toEqual({ from: new Date("2025-03-09T12:00:00Z"), to: now });
  });

  it("takes 24 hours before `to` when only `to` is given, and up to now when only `from` is", () => {
    expect(usageWindow({ to: "2025-03-01T00:00:00Z" }, now)).toEqual({
      from: new Date("2025-02-28T00:00:00Z"),
      to: new Date("2025-03-01T00:00:00Z"),
    });
    expect(usageWindow({ from: "2025-03-10T06:00:00+01:00" }, now)).toEqual({ from: new Date("2025-03-10T05:00:00Z"), to: now });
  });

  it("accepts from = to, dates at midnight UTC, and exactly 31 days", () => {
    expect(usageWindow({ from: "2025-03-01T00:00:00Z", to: "2025-03-01T00:00:00Z" }, now).from).toEqual(new Date("2025-03-01T00:00:00Z"));
    expect(usageWindow({ from: "2025-01-01", to: "2025-02-01" }, now)).toEqual({
      from: new Date("2025-01-01T00:00:00Z"),
      to: new Date("2025-02-01T00:00:00Z"),
    });
  });

  it("refuses from after to, and windows over 31 days", () => {
    expect(refusal(() => usageWindow({ from: "2025-03-02T00:00:00Z", to: "2025-03-01T00:00:00Z" }, now))).toMatch(/is after/);
    expect(refusal(() => usageWindow({ from: "2025-01-01T00:00:00Z", to: "2025-02-01T00:00:01Z" }, now))).toMatch(/31 days/);
    // `from` alone far back: the window runs to now.
    expect(refusal(() => usageWindow({ from: "2025-01-01T00:00:00Z" }, now))).toMatch(/31 days/);
  });
});

describe("GET /:id/usage", () => {
  const addon = addons.get("postgresql")!;
  const samples = [
    { takenAt: new Date(Date.now() - 2 * HOUR), diskBytes: 40_000_000n, memoryBytes: 9_000_000n, connections: 1 },
    { takenAt: new Date(Date.now() - HOUR), diskBytes: 52_000_000n, memoryBytes: 12_000_000n, connections: 3 },
  ];
  const queries: unknown[] = [];
  const db = {
    resource: {
      findFirst: async ({ where }: { where: { id: string; addon: string } }) =>
        where.id === "postgresql-known" && where.addon === "postgresql" ? { plan: "postgresql-sandbox" } : null,
    },
    usageSample: {
      findMany: async (query: unknown) => {
        queries.push(query);
        return samples;
      },
    },
  };
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    installErrorHandling(app);
    await app.register(async (scope) => usageRoutes(scope, { addon, db: db as unknown as PrismaClient }), {
      prefix: "/postgresql/resources",
    });
  });
  afterAll(() => app.close());

  it("answers the samples as JSON numbers, the latest disk use and the plan's memory", async () => {
    const response = await app.inject({ url: "/postgresql/resources/postgresql-known/usage" });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      resource_id: "postgresql-known",
      samples: [
        { at: samples[0]!.takenAt.toISOString(), disk_bytes: 40_000_000, memory_bytes: 9_000_000, connections: 1 },
        { at: samples[1]!.takenAt.toISOString(), disk_bytes: 52_000_000, memory_bytes: 12_000_000, connections: 3 },
      ],
      disk_used: 52_000_000,
      memory_limit_bytes: 256 * 1024 * 1024,
    });
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(24 * HOUR);
  });

  it("refuses a malformed or reversed window with the single error shape", async () => {
    for (const query of ["from=yesterday", "to=2025-03-01T00:00:00", "from=2025-03-02T00:00:00Z&to=2025-03-01T00:00:00Z", "from=2025-01-01"]) {
      const response = await app.inject({ url: `/postgresql/resources/postgresql-known/usage?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(Object.keys(response.json()).sort()).toEqual(["error", "message"]);
      expect(response.json().error).toBe("invalid_request");
    }
  });

  it("answers 404 resource_not_found for an unknown id", async () => {
    const response = await app.inject({ url: "/postgresql/resources/postgresql-unknown/usage" });
    expect(response.statusCode).toBe(404);
    expect(response.json().error).toBe("resource_not_found");
  });
});

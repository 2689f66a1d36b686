import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "./generated/prisma/client.js";

export { Prisma, PrismaClient };
export type PrismaClientOrTransaction = PrismaClient | Prisma.TransactionClient;

export interface DatabaseOptions {
  url: string;
  /** Connections in this process's pool. */
  poolSize?: number;
}

/** The one way Berth opens its control-plane database: Prisma over the pg driver adapter (no native engine). */
export function createDatabase({ url, poolSize = 10 }: DatabaseOptions): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: poolSize }) });
}

/** Unique constraint violated: a concurrent writer got there first (by a model query, or a raw one: P2010 carries the driver's kind). */
export function isUniqueViolation(error: unknown): error is Prisma.PrismaClientKnownRequestError {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  if (error.code === "P2002") return true;
  const cause = (error.meta as { driverAdapterError?: { cause?: { kind?: string } } } | undefined)?.driverAdapterError?.cause;
  return error.code === "P2010" && cause?.kind === "UniqueConstraintViolation";
}

/** Error codes of Prisma meaning the database cannot be reached right now (retry later). */
const UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);

/** The control plane is down or restarting: the request may be retried as it is. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) return UNAVAILABLE_CODES.has(error.code);
  return error instanceof Prisma.PrismaClientInitializationError;
}

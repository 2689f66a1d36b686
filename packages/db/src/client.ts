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

/** What the driver adapter said of a failed raw query (Prisma's P2010 carries it), if anything. */
function rawQueryCause(error: Prisma.PrismaClientKnownRequestError): { kind?: string; originalCode?: string } | undefined {
  if (error.code !== "P2010") return undefined;
  return (error.meta as { driverAdapterError?: { cause?: { kind?: string; originalCode?: string } } } | undefined)?.driverAdapterError?.cause;
}

/** Unique constraint violated: a concurrent writer got there first (by a model query or a raw one). */
export function isUniqueViolation(error: unknown): error is Prisma.PrismaClientKnownRequestError {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  return error.code === "P2002" || rawQueryCause(error)?.kind === "UniqueConstraintViolation";
}

/** Error codes of Prisma meaning the database cannot be reached right now (retry later). */
const UNAVAILABLE_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
/** The same, as the driver adapter reports them for raw queries. */
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
/** PostgreSQL's classes 08 (connection exception) and 57 (operator intervention: shutting down, starting up). */
const UNAVAILABLE_SQLSTATE = /^(08|57)/;

/** The control plane is down or restarting: the request may be retried as it is. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (UNAVAILABLE_CODES.has(error.code)) return true;
    const cause = rawQueryCause(error);
    return UNAVAILABLE_KINDS.has(cause?.kind ?? "") || (cause?.kind === "postgres" && UNAVAILABLE_SQLSTATE.test(cause.originalCode ?? ""));
  }
  return error instanceof Prisma.PrismaClientInitializationError;
}

export * from "./client.js";
export * from "./secret-box.js";
export type { Resource, Operation } from "./generated/prisma/client.js";
export { ResourceStatus, OperationKind, OperationStatus } from "./generated/prisma/enums.js";

export * from "./client.js";
export * from "./secret-box.js";
export type { Resource, Operation, ContainmentEvent } from "./generated/prisma/client.js";
export { ResourceStatus, OperationKind, OperationStatus, ContainmentEventKind } from "./generated/prisma/enums.js";

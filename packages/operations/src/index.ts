export { ResourceService, type AcceptedProvision, type PlanChangeOutcome } from "./resource-service.js";
export { OperationRefusal, refusals, type RefusalCode } from "./refusals.js";

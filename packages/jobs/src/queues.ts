import { Queue, type ConnectionOptions } from "bullmq";
import { ARCHIVE_QUEUE, BACKUP_SCHEDULE_QUEUE, MAINTENANCE_QUEUE, OPERATIONS_QUEUE, USAGE_QUEUE } from "./catalog.js";

/** Every queue Berth uses, in the order operators' views list them. */
export const BERTH_QUEUES = [OPERATIONS_QUEUE, USAGE_QUEUE, MAINTENANCE_QUEUE, BACKUP_SCHEDULE_QUEUE, ARCHIVE_QUEUE] as const;

/**
 * A handle on each of Berth's queues, for views that read or act on any job (the
 * operator console, the CLI). Producers keep their own queues with their job options.
 * Closing them leaves a connection passed in open: its owner closes it.
 */
export function openBerthQueues({ connection, prefix }: { connection: ConnectionOptions; prefix?: string }): Queue[] {
  return BERTH_QUEUES.map((name) => new Queue(name, { connection, prefix }));
}

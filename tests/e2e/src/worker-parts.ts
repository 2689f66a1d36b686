import type { WorkerOptions } from "@berth/worker";

/**
 * What the tests' workers (in a stack's process, or spawned) leave out of production's: the
 * reconciler acts on the whole test database, whose operations belong to other stacks' queues
 * (tests call `reconcileOnce` themselves); the usage sampler measures every running database, so it
 * runs only where a test asks for it; the backup scheduler, like the reconciler, would act on every
 * stack's databases, and so would the archive shipper (a restore to a moment ships its database's
 * archive itself); process metrics are production's.
 */
export const testWorkerParts = { processMetrics: false, reconciler: false, usageSampler: false, backupScheduler: false, archiveShipper: false } as const satisfies WorkerOptions;

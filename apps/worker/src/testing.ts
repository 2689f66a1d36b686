/**
 * `@berth/worker/testing`: the Docker runtime and the disk images on their own, for tests and the
 * bench that make or inspect containers and disks beside a worker (a worker itself is `createWorker`),
 * and the steps of each operation.
 */
export { DockerRuntime } from "./runtime/docker-runtime.js";
export { DiskImages } from "./runtime/disk-images.js";
/** Each operation's steps, in order: the fault test kills a worker at each. */
export { OPERATION_STEPS } from "./job-report.js";

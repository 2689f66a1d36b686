/**
 * `@berth/worker/testing`: the Docker runtime and the disk images on their own, for tests and the
 * bench that make or inspect containers and disks beside a worker (a worker itself is `createWorker`).
 */
export { DockerRuntime } from "./runtime/docker-runtime.js";
export { ExecFailedError } from "./runtime/container-runtime.js";
export { DiskImages } from "./runtime/disk-images.js";

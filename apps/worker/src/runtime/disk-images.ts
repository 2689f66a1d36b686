import { execFile } from "node:child_process";
import { mkdirSync, realpathSync } from "node:fs";
import { mkdir, open, readdir, readFile, realpath, rename, rm, rmdir, stat, statfs } from "node:fs/promises";
import { join, resolve } from "node:path";
import pRetry, { AbortError } from "p-retry";
import { promisify } from "node:util";
import { RefusedError } from "../errors.js";

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;

/**
 * A database's disk: a filesystem of its own, of the plan's size, so the engine's writes stop at
 * the plan's disk ("No space left on device") instead of filling the host's disk.
 *
 * Per volume, in this deployment's directory (`BERTH_DISK_DIR/<deployment id>/`):
 *
 * - `<volume>.img`: a sparse file of the plan's size holding an ext4 filesystem (`mkfs.ext4 -m 0`,
 *   inode tables and journal initialised at once, so no kernel thread keeps writing afterwards).
 *   The host's disk holds only the blocks written so far, never more than the size.
 * - attached to a loop device (`losetup --nooverlap`: an image already attached reuses its device,
 *   so two attachments, that is two filesystems on one image, never happen) and mounted at
 *   `<volume>/` (`nodev,nosuid,noexec`; `discard`, so blocks the engine frees are given back to
 *   the host as holes in the image);
 * - `<volume>/data/`: the directory the Docker volume binds (`type=none,o=bind`), not the root of
 *   the filesystem, which holds ext4's `lost+found`. Docker copies an image's content into it at
 *   the first mount like into any empty volume. It only exists inside the mounted filesystem:
 *   while the image is not mounted (after a host reboot) the bind fails and the container does not
 *   start, rather than writing on the host's disk.
 *
 * Docker's `local` driver cannot mount a file itself (`o=loop` fails with "invalid argument"), hence
 * the worker's own losetup and mount. Every step is idempotent and checks the state it finds, so a
 * crash at any point is mended by running `ensure` or `remove` again; a new image is built under a
 * temporary name and renamed when complete, so a half-made filesystem is never used. Calls for one
 * volume are serialised within the process; across processes losetup's `--nooverlap` and the mount
 * table are the guards.
 *
 * Needs root (losetup, mount) on the Docker host itself, in its mount namespace.
 */
export class DiskImages {
  readonly #queues = new Map<string, Promise<unknown>>();

  readonly dir: string;

  /** Creates the directory (mode 700) now: the mount table names paths with symbolic links resolved, so this does too. */
  constructor(dir: string) {
    mkdirSync(resolve(dir), { recursive: true, mode: 0o700 });
    this.dir = realpathSync(resolve(dir));
  }

  imagePath(volume: string): string {
    return join(this.dir, `${volume}.img`);
  }

  mountPath(volume: string): string {
    return join(this.dir, volume);
  }

  /** The directory the Docker volume binds. */
  dataPath(volume: string): string {
    return join(this.mountPath(volume), "data");
  }

  /** Creates the image if it is missing (never reformats one), attaches and mounts it; returns the data directory. */
  ensure(volume: string, sizeMb: number): Promise<string> {
    return this.#serialised(volume, async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      if (!(await exists(this.imagePath(volume)))) await this.#create(volume, sizeMb);
      await this.#mounted(volume);
      return this.dataPath(volume);
    });
  }

  /** Attaches and mounts an existing image (after a reboot); true when it was not mounted. Rejects when there is no image. */
  mount(volume: string): Promise<boolean> {
    return this.#serialised(volume, async () => {
      if (!(await exists(this.imagePath(volume)))) throw new Error(`no disk image ${this.imagePath(volume)}`);
      return this.#mounted(volume);
    });
  }

  /**
   * Unmounts, detaches and deletes the image and its mount point; absent parts are fine. The Docker
   * volume must be gone first: a filesystem still mounted elsewhere (a container's volume) is not
   * detached.
   */
  remove(volume: string): Promise<void> {
    return this.#serialised(volume, async () => {
      const image = this.imagePath(volume);
      const mountPath = this.mountPath(volume);
      // A mount made twice (two processes racing) is stacked: unmount until none is left.
      for (let attempt = 0; (await mountsAt(mountPath)).length > 0; attempt++) {
        if (attempt >= 5) throw new Error(`${mountPath} is still mounted after ${attempt} unmounts`);
        await run("umount", [mountPath]);
      }
      for (const device of await devicesOf(image)) {
        const elsewhere = await mountsOfDevice(device);
        if (elsewhere.length > 0) throw new Error(`${device} (${image}) is still mounted at ${elsewhere.join(", ")}`);
        await run("losetup", ["-d", device]).catch(async (error: unknown) => {
          if ((await devicesOf(image)).includes(device)) throw error; // else detached meanwhile
        });
      }
      await rm(image, { force: true });
      await rm(`${image}.tmp`, { force: true });
      // Empty unless something wrote into the unmounted directory: then keep it and say so.
      await rmdir(mountPath).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
    });
  }

  /** Size, bytes used by the filesystem (statfs) and host blocks the image takes; undefined without an image. */
  async usage(volume: string): Promise<DiskUsage | undefined> {
    const image = await stat(this.imagePath(volume)).catch(() => undefined);
    if (!image) return undefined;
    let usedBytes: number | undefined;
    if ((await mountsAt(this.mountPath(volume))).length > 0) {
      const fs = await statfs(this.mountPath(volume));
      usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
    }
    return { sizeBytes: image.size, usedBytes, allocatedBytes: image.blocks * 512 };
  }

  /**
   * Refuses (PermanentError) a new size the data does not fit in with room to spare: the
   * filesystem's used bytes must stay under `SHRINK_MAX_FILL` of the new size, and `resize2fs`'s
   * own estimate of the smallest size it can shrink the filesystem to (which counts where the
   * blocks lie, not only how many are used) must be within it: checked here, before the
   * database is stopped, rather than found by the offline shrink.
   */
  async checkFits(volume: string, sizeMb: number): Promise<void> {
    const usage = await this.usage(volume);
    if (!usage || sizeMb * MiB >= usage.sizeBytes) return;
    if (usage.usedBytes === undefined) await this.mount(volume);
    const used = (await this.usage(volume))!.usedBytes!;
    const advice = "delete data (and VACUUM FULL / OPTIMIZE TABLE) first, or choose a plan with a bigger disk";
    if (used > sizeMb * MiB * SHRINK_MAX_FILL) {
      throw new DiskTooSmallError(
        `the data takes ${mib(used)} MiB of its ${mib(usage.sizeBytes)} MiB disk; a disk of ${sizeMb} MiB must keep ` +
          `${Math.round((1 - SHRINK_MAX_FILL) * 100)}% free, so it holds at most ${mib(sizeMb * MiB * SHRINK_MAX_FILL)} MiB: ${advice}`,
      );
    }
    const device = (await devicesOf(this.imagePath(volume)))[0];
    if (device === undefined) return;
    const minimum = await minimumFilesystemBytes(device);
    if (minimum > sizeMb * MiB) {
      throw new DiskTooSmallError(
        `the data takes ${mib(used)} MiB, but its filesystem cannot shrink below ${mib(minimum)} MiB (resize2fs's estimate, ` +
          `which counts where the data lies) to a disk of ${sizeMb} MiB: ${advice}`,
      );
    }
  }

  /**
   * Gives the filesystem this size; "needs-offline" when that needs the volume unused and a
   * container uses it: call again once the container is gone (a plan change's replacement).
   *
   * Growing: truncate, `losetup -c`, `resize2fs` while mounted (online) where the kernel allows it;
   * online growth needs CAP_SYS_RESOURCE, which e.g. this project's development machine's root
   * lacks ("Permission denied to resize filesystem"): then offline like shrinking. Shrinking (ext4
   * cannot shrink online) and offline growth: unmount, `e2fsck -f`, `resize2fs` to the size,
   * truncate and `losetup -c` (after the filesystem shrank, or before it grows), mount again.
   * Replaying after a crash finishes the job: the filesystem's block count and the file's size say
   * what is left, and resize2fs to the size it has already is a no-op.
   */
  resize(volume: string, sizeMb: number): Promise<"done" | "needs-offline"> {
    return this.#serialised(volume, async () => {
      const image = this.imagePath(volume);
      const mountPath = this.mountPath(volume);
      const target = sizeMb * MiB;
      await this.#mounted(volume);
      const device = (await devicesOf(image))[0]!;
      const fsBytes = await filesystemBytes(device);
      const fileBytes = (await stat(image)).size;
      if (fsBytes === target) {
        // Shrunk before a crash that came before the truncate (or nothing to do at all).
        if (fileBytes !== target) {
          await truncateTo(image, target);
          await run("losetup", ["-c", device]);
        }
        return "done";
      }
      const inUse = (await mountsOfDevice(device)).some((path) => path !== mountPath);
      if (target > fsBytes) {
        if (fileBytes < target) await truncateTo(image, target);
        await run("losetup", ["-c", device]);
        try {
          await run("resize2fs", [device, `${sizeMb}M`]);
          return "done";
        } catch (error) {
          if (!/Permission denied/.test((error as Error).message)) throw error;
        }
      }
      if (inUse) return "needs-offline";
      await run("umount", [mountPath]);
      try {
        await fsck(device);
        await run("resize2fs", [device, `${sizeMb}M`]).catch((error: unknown) => {
          throw new DiskTooSmallError(`the filesystem cannot take ${sizeMb} MiB: ${(error as Error).message}`);
        });
        if (fileBytes !== target) {
          await truncateTo(image, target);
          await run("losetup", ["-c", device]);
        }
      } finally {
        await this.#mountDevice(device, mountPath);
      }
      return "done";
    });
  }

  /** Volume names with anything in the directory (image, half-made image, mount point). */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [] as string[];
      throw error;
    });
    return [...new Set(names.map((name) => name.replace(/\.img(\.tmp)?$/, "")))].sort();
  }

  /** Builds the filesystem under a temporary name, complete before it gets its own. */
  async #create(volume: string, sizeMb: number): Promise<void> {
    const image = this.imagePath(volume);
    const partial = `${image}.tmp`;
    await rm(partial, { force: true });
    const file = await open(partial, "wx", 0o600);
    try {
      await file.truncate(sizeMb * MiB); // sparse: no block is written
    } finally {
      await file.close();
    }
    // -m 0: no blocks reserved for root (nothing runs as root in there); no lazy init: the
    // inode tables and journal are initialised now (as holes where the kernel allows), not by
    // a kernel thread writing in the background after the mount. -T default: the layout of a
    // disk of 512 MiB or more (4 KiB blocks, an inode per 16 KiB) at every size, so the tests'
    // tiny disks behave like the plans' (mke2fs would pick 1 KiB blocks below 512 MiB, which
    // resize2fs shrinks badly).
    await run("mkfs.ext4", ["-q", "-F", "-T", "default", "-m", "0", "-E", "lazy_itable_init=0,lazy_journal_init=0", "-L", "berth-data", partial]);
    await rename(partial, image);
  }

  /** Attached and mounted, with the data directory: whatever part was missing is done. True when it had to mount. */
  async #mounted(volume: string): Promise<boolean> {
    // As the kernel records it: losetup resolves symbolic links.
    const image = await realpath(this.imagePath(volume));
    const mountPath = this.mountPath(volume);
    const mounts = await mountsAt(mountPath);
    let mountedNow = false;
    if (mounts.length === 0) {
      // --nooverlap: an image already attached (a crash after losetup) gets its device back instead of a second one.
      const device = (await run("losetup", ["--nooverlap", "--find", "--show", image])).trim();
      await this.#mountDevice(device, mountPath);
      mountedNow = true;
    } else {
      for (const mount of mounts) {
        const backing = await backingFileOf(mount.source);
        if (backing !== image) throw new Error(`${mountPath} has another filesystem mounted (${mount.source}: ${backing ?? "not a loop device"}), not ${image}`);
      }
    }
    await mkdir(this.dataPath(volume), { recursive: true });
    return mountedNow;
  }

  async #mountDevice(device: string, mountPath: string): Promise<void> {
    await mkdir(mountPath, { recursive: true, mode: 0o700 });
    await run("mount", ["-t", "ext4", "-o", "nodev,nosuid,noexec,discard", device, mountPath]);
  }

  #serialised<T>(volume: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(volume) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(task);
    this.#queues.set(volume, next);
    void next
      .catch(() => undefined)
      .then(() => {
        if (this.#queues.get(volume) === next) this.#queues.delete(volume);
      });
    return next;
  }
}

export interface DiskUsage {
  /** The filesystem's size (the image file's length). */
  readonly sizeBytes: number;
  /** Used by the filesystem (data and ext4's own), when mounted. */
  readonly usedBytes: number | undefined;
  /** Blocks the image file takes on the host's disk: at most `sizeBytes`. */
  readonly allocatedBytes: number;
}

/** A plan change to a disk the data does not fit in. */
class DiskTooSmallError extends RefusedError {
  constructor(message: string) {
    super(message);
    this.name = "DiskTooSmallError";
  }
}

/** A smaller disk is accepted when the data takes at most this share of it. */
const SHRINK_MAX_FILL = 0.8;

interface MountEntry {
  /** `major:minor` of the mounted filesystem. */
  readonly device: string;
  readonly mountPoint: string;
  readonly source: string;
}

/** The mount table of this process's namespace (the host's: the worker runs on the Docker host). */
async function mountTable(): Promise<MountEntry[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(" ");
      const separator = fields.indexOf("-");
      return { device: fields[2]!, mountPoint: unescapeMount(fields[4]!), source: unescapeMount(fields[separator + 2] ?? "") };
    });
}

async function mountsAt(path: string): Promise<MountEntry[]> {
  return (await mountTable()).filter((mount) => mount.mountPoint === path);
}

/** Where this loop device's filesystem is mounted (ours, and Docker's bind mounts for containers). */
async function mountsOfDevice(device: string): Promise<string[]> {
  const number = await deviceNumber(device).catch(() => undefined);
  if (!number) return [];
  return (await mountTable()).filter((mount) => mount.device === number).map((mount) => mount.mountPoint);
}

/** The file behind a loop device, as the kernel says (`/dev/loop3` → `/sys/block/loop3/loop/backing_file`). */
async function backingFileOf(device: string): Promise<string | undefined> {
  const match = /^\/dev\/(loop\d+)$/.exec(device);
  if (!match) return undefined;
  return (await readFile(`/sys/block/${match[1]}/loop/backing_file`, "utf8").catch(() => "")).trim() || undefined;
}

async function deviceNumber(device: string): Promise<string> {
  const { rdev } = await stat(device);
  // Linux's encoding of dev_t.
  const major = (rdev >> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** Loop devices backed by this file (normally none or one). */
async function devicesOf(image: string): Promise<string[]> {
  const out = await run("losetup", ["--noheadings", "--output", "NAME", "--associated", image]);
  return out.split("\n").map((line) => line.trim()).filter(Boolean);
}

/** The filesystem's size as its superblock says (block count × block size). */
async function filesystemBytes(device: string): Promise<number> {
  const header = await run("dumpe2fs", ["-h", device]);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(header)?.[1]);
  const bytes = field("Block count") * field("Block size");
  if (!Number.isFinite(bytes) || bytes <= 0) throw new Error(`dumpe2fs ${device}: no block count and size`);
  return bytes;
}

/** `resize2fs -P`: the smallest size the filesystem can be shrunk to, in bytes (it reads a mounted one too). */
async function minimumFilesystemBytes(device: string): Promise<number> {
  const estimate = Number(/minimum size of the filesystem:\s*(\d+)/.exec(await run("resize2fs", ["-P", device]))?.[1]);
  const header = await run("dumpe2fs", ["-h", device]);
  const blockSize = Number(/^Block size:\s+(\d+)/m.exec(header)?.[1]);
  if (!Number.isFinite(estimate * blockSize) || estimate <= 0) throw new Error(`resize2fs -P ${device}: no estimate`);
  return estimate * blockSize;
}

/**
 * e2fsck's exit codes: 0 clean, 1 errors corrected; more is a filesystem it could not mend. A
 * device still "in use" is retried for a few seconds: Docker releases a removed container's bind
 * mount of the volume shortly after the removal returns (seen under load here).
 */
async function fsck(device: string): Promise<void> {
  await pRetry(
    async () => {
      try {
        await execFileAsync("e2fsck", ["-f", "-p", device]);
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === 1) return;
        const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
        const failure = new Error(`e2fsck ${device} exited with ${code}: ${`${stdout}\n${stderr}`.trim()}`);
        // "<device> is in use." (on stdout), then "Cannot continue, aborting." (on stderr).
        if (!/in use|Cannot continue/.test(`${stdout}${stderr}`)) throw new AbortError(failure);
        throw failure;
      }
    },
    { retries: 8, minTimeout: 250, maxTimeout: 2_000 },
  );
}

async function truncateTo(path: string, bytes: number): Promise<void> {
  const file = await open(path, "r+");
  try {
    await file.truncate(bytes);
  } finally {
    await file.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );
}

async function run(command: string, args: readonly string[]): Promise<string> {
  try {
    return (await execFileAsync(command, args, { timeout: 120_000 })).stdout;
  } catch (error) {
    const stderr = ((error as { stderr?: string }).stderr ?? "").trim();
    throw new Error(`${command} ${args.join(" ")} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function mib(bytes: number): number {
  return Math.round(bytes / MiB);
}

import { randomBytes } from "node:crypto";
import { createReadStream, type Dirent } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { BackupNotFoundError } from "./errors.js";
import { isObjectKey } from "./object-key.js";
import type { ObjectStorage, StoredObjectInfo } from "./object-storage.js";

/**
 * Objects as files under one directory on the host (`BERTH_BACKUP_DIR`), a key's segments as
 * sub-directories. A write goes to a hidden temporary file beside its final name, is flushed to
 * disk, then renamed over it, and the directory flushed too: after a crash the key names either
 * the whole new object, the previous one, or nothing; never half an object.
 */
export class DirectoryStorage implements ObjectStorage {
  readonly #root: string;

  /** `root` must be an absolute path; it is created on the first write if missing. */
  constructor(root: string) {
    this.#root = root;
  }

  async write(key: string, body: Readable): Promise<void> {
    const path = this.#pathOf(key);
    const directory = dirname(path);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    // Hidden (keys never start with "."), so listings never see it, and unique per write.
    const temporary = join(directory, `.${basename(path)}.${randomBytes(6).toString("hex")}.partial`);
    const file = await open(temporary, "wx", 0o600);
    try {
      for await (const chunk of body) await file.write(chunk as Buffer);
      await file.sync();
    } catch (error) {
      body.destroy();
      await file.close().catch(() => {});
      await rm(temporary, { force: true });
      throw error;
    }
    await file.close();
    try {
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    await syncDirectory(directory);
  }

  async read(key: string): Promise<Readable> {
    const path = this.#pathOf(key);
    // Opened before the stream is handed out, so a missing object is an answer, not a stream error.
    const file = await open(path, "r").catch((error: NodeJS.ErrnoException) => {
      throw isMissing(error) ? new BackupNotFoundError(key, { cause: error }) : error;
    });
    if (!(await file.stat()).isFile()) {
      await file.close();
      throw new BackupNotFoundError(key);
    }
    return createReadStream(path, { fd: file, highWaterMark: 256 * 1024 });
  }

  async stat(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      const info = await stat(this.#pathOf(key));
      return info.isFile() ? { key, size: info.size, lastModified: info.mtime } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.#pathOf(key), { force: true });
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async list(prefix: string): Promise<StoredObjectInfo[]> {
    // Start at the deepest directory the prefix names whole ("a/b/c" → a/b), and descend only
    // into directories that can hold a matching key.
    const start = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : "";
    const found: StoredObjectInfo[] = [];
    const visit = async (keyPrefix: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(join(this.#root, keyPrefix), { withFileTypes: true });
      } catch (error) {
        if (isMissing(error)) return;
        throw error;
      }
      for (const entry of entries) {
        const key = keyPrefix + entry.name;
        // Temporary files are hidden, foreign files are not valid keys: neither is listed.
        if (!isObjectKey(key)) continue;
        if (entry.isDirectory()) {
          if ((key + "/").startsWith(prefix) || prefix.startsWith(key + "/")) await visit(key + "/");
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await stat(join(this.#root, key)).catch((error: unknown) => {
            if (isMissing(error)) return undefined; // deleted meanwhile
            throw error;
          });
          if (info) found.push({ key, size: info.size, lastModified: info.mtime });
        }
      }
    };
    await visit(start);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  #pathOf(key: string): string {
    // Keys are validated by the caller (BackupStore): no segment is "." or "..", none is absolute.
    return join(this.#root, ...key.split("/"));
  }
}

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** No such file, or a file where the key wants a directory (key `a/b` while `a` is an object). */
function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

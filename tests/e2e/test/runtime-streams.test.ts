/**
 * The runtime's streaming commands on the real Docker Engine, with a plain container (the local
 * Redis image's shell and coreutils, running `sleep`): a dump read out as a stream with
 * backpressure, a stream written in as stdin, a file streamed into a volume, and how each fails.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { ContainerSpec } from "@berth/addon-sdk";
import { DockerRuntime, ExecFailedError } from "@berth/worker/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../src/ports.js";

const run = promisify(execFile);
const dockerHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
const image = process.env.BERTH_ADDON_REDIS_IMAGE ?? "berth-local/redis:7";
const deploymentId = `streamtest-${randomBytes(4).toString("hex")}`;
const runtime = new DockerRuntime({ dockerHost, deploymentId });
const forever = new AbortController().signal;

function specWith(command: readonly string[]): ContainerSpec {
  return {
    image,
    command,
    env: {},
    files: [],
    fileOwner: { uid: 999, gid: 999 },
    dataPath: "/data",
    socketPath: "/data/none.sock",
    memoryBytes: 256 * 1024 * 1024,
    nanoCpus: 1_000_000_000,
    pidsLimit: 64,
    stopTimeoutSeconds: 1,
  };
}

async function startContainer(command: readonly string[], volumeName?: string): Promise<{ name: string; volumeName: string }> {
  const resourceId = randomUUID();
  const name = `berth-${deploymentId}-${resourceId.slice(0, 8)}`;
  const labels = { resourceId, addonId: "redis", plan: "stream-test" };
  const volume = volumeName ?? `${name}-data`;
  await runtime.ensureVolume(volume, labels, 64);
  await runtime.ensureContainerRunning({ name, volumeName: volume, labels, port: await freePort(), spec: specWith(command) });
  return { name, volumeName: volume };
}

/** `size` random bytes in chunks of 64 KiB, and their SHA-256 once read whole. */
function randomInput(size: number): { stream: Readable; sha256: () => string } {
  const hash = createHash("sha256");
  let left = size;
  const stream = new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(left, 64 * 1024));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

/** Reads a stream whole into its SHA-256 and length. */
async function digest(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** What a stream ends with: its error, or "ended". */
async function outcome(stream: Readable): Promise<unknown> {
  try {
    for await (const _chunk of stream);
    return "ended";
  } catch (error) {
    return error;
  }
}

/** The command lines of the processes running in a container (what `docker top` shows). */
async function processesOf(name: string): Promise<string> {
  return (await run("docker", ["top", name, "-o", "pid,args"])).stdout;
}

async function removeEverythingOfThisTest(): Promise<void> {
  const filter = `label=berth.deployment=${deploymentId}`;
  const containers = (await run("docker", ["ps", "-aq", "--filter", filter])).stdout.split("\n").filter(Boolean);
  if (containers.length > 0) await run("docker", ["rm", "-f", ...containers]);
  const volumes = (await run("docker", ["volume", "ls", "-q", "--filter", filter])).stdout.split("\n").filter(Boolean);
  if (volumes.length > 0) await run("docker", ["volume", "rm", ...volumes]);
}

describe("runtime: commands streamed in and out of a container", () => {
  let box: string;

  beforeAll(async () => {
    box = (await startContainer(["sleep", "100000"])).name;
  });
  afterAll(removeEverythingOfThisTest);

  it("writes 24 MiB of stdin to a command and streams it back out whole, with a prefix line first", async () => {
    const input = randomInput(24 * 1024 * 1024);
    const result = await runtime.execWithInput(
      box,
      { command: ["sh", "-c", 'IFS= read -r line; printf "%s\\n" "$line" >/tmp/prefix; cat >/tmp/blob; echo stored >&2'], stdin: "a secret line\n" },
      input.stream,
      forever,
    );
    expect(result).toEqual({ exitCode: 0, output: "stored" });

    const back = await digest(await runtime.execStream(box, { command: ["cat", "/tmp/blob"] }, forever));
    expect(back).toEqual({ sha256: input.sha256(), bytes: 24 * 1024 * 1024 });
    const prefix = await digest(await runtime.execStream(box, { command: ["cat", "/tmp/prefix"] }, forever));
    expect(prefix.sha256).toBe(createHash("sha256").update("a secret line\n").digest("hex"));
  });

  it("gives a stream's command its stdin and closes it", async () => {
    const stream = await runtime.execStream(box, { command: ["sh", "-c", "cat; echo done"], stdin: "from stdin\n" }, forever);
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("from stdin\ndone\n");
  });

  it("holds a command back while its reader does not read (backpressure), and a reader that stops ends the command", async () => {
    const stream = await runtime.execStream(box, { command: ["cat", "/dev/zero"] }, forever);
    let received = 0;
    for await (const chunk of stream) {
      received += (chunk as Buffer).length;
      if (received > 4 * 1024 * 1024) break; // ends the loop and destroys the stream
    }
    // Paused here for a while: without backpressure the process would buffer gigabytes meanwhile.
    const paused = await runtime.execStream(box, { command: ["cat", "/dev/zero"] }, forever);
    await new Promise((resolve) => paused.once("readable", resolve));
    await sleep(1_500);
    expect(paused.readableLength).toBeLessThanOrEqual(1024 * 1024);
    expect(process.memoryUsage().arrayBuffers).toBeLessThan(512 * 1024 * 1024);
    paused.destroy();
    // Each `cat` gets EPIPE at its next write once its connection is gone.
    await expect.poll(() => processesOf(box), { timeout: 30_000, interval: 200 }).not.toContain("cat /dev/zero");
  });

  it("errors a stream whose command exits non-zero, after its output, with the end of its stderr in the message", async () => {
    const stream = await runtime.execStream(
      box,
      // 200 KiB on stderr first: only its end is kept.
      { command: ["sh", "-c", "i=0; while [ $i -lt 3200 ]; do echo 'noise noise noise noise noise noise noise'; i=$((i+1)); done >&2; echo partial; echo 'pg_dump: error: it broke' >&2; exit 3"] },
      forever,
    );
    const chunks: Buffer[] = [];
    let failure: unknown;
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (error) {
      failure = error;
    }
    expect(Buffer.concat(chunks).toString()).toBe("partial\n");
    expect(failure).toBeInstanceOf(ExecFailedError);
    const error = failure as ExecFailedError;
    expect(error.exitCode).toBe(3);
    expect(error.program).toBe("sh");
    expect(error.message).toMatch(/^sh exited with 3: .*pg_dump: error: it broke$/s);
    expect(error.stderr.length).toBeLessThanOrEqual(4096);
  });

  it("errors a stream when its signal aborts, and rejects at once for an absent container or an aborted signal", async () => {
    const controller = new AbortController();
    const stream = await runtime.execStream(box, { command: ["sh", "-c", "echo started; exec sleep 600"] }, controller.signal);
    const first = await new Promise<Buffer>((resolve) => stream.once("data", resolve));
    expect(first.toString()).toBe("started\n");
    controller.abort(new Error("deadline"));
    expect(await outcome(stream)).toMatchObject({ message: "sh was aborted", cause: { message: "deadline" } });
    await expect.poll(() => processesOf(box), { timeout: 30_000, interval: 200 }).not.toContain("sleep 600");

    await expect(runtime.execStream(`berth-${deploymentId}-absent`, { command: ["true"] }, forever)).rejects.toMatchObject({ statusCode: 404 });
    await expect(runtime.execStream(box, { command: ["true"] }, controller.signal)).rejects.toThrow("deadline");
  });

  it("rejects a load whose command fails, with its output, without waiting for the rest of a large input", async () => {
    const input = randomInput(64 * 1024 * 1024);
    const failure = await runtime
      .execWithInput(box, { command: ["sh", "-c", "echo 'ERROR 1064 (42000) at line 1: syntax' >&2; exit 4"] }, input.stream, forever)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecFailedError);
    expect(failure).toMatchObject({ exitCode: 4 });
    expect((failure as Error).message).toContain("ERROR 1064 (42000) at line 1: syntax");
    expect(input.stream.destroyed).toBe(true);
  });

  it("rejects a load whose command fails while its input stalls, without waiting for the input", async () => {
    const stalled = new Readable({ read() {} }); // one chunk, then nothing: an upload that hangs
    stalled.push(Buffer.alloc(1024, 0x61));
    const failure = await runtime.execWithInput(box, { command: ["sh", "-c", "sleep 1; echo 'pg_restore: error: input file is too short' >&2; exit 1"] }, stalled, forever).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecFailedError);
    expect(failure).toMatchObject({ exitCode: 1, message: "sh exited with 1: pg_restore: error: input file is too short" });
    expect(stalled.destroyed).toBe(true);
  });

  it("rejects a load whose command exits 0 before it read all its input", async () => {
    const input = randomInput(64 * 1024 * 1024);
    const failure = await runtime.execWithInput(box, { command: ["sh", "-c", "exit 0"] }, input.stream, forever).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ExecFailedError);
    expect((failure as Error).message).toMatch(/^sh exited 0 before it read all its input/);
  });

  it("rejects a load with its input's own error, even though the command exits 0 on the part it got", async () => {
    let sent = 0;
    const input = new Readable({
      read() {
        if (sent >= 1024 * 1024) return void this.destroy(new Error("the archive's checksum does not match"));
        sent += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x61));
      },
    });
    await expect(runtime.execWithInput(box, { command: ["sh", "-c", "cat >/tmp/cut-short"] }, input, forever)).rejects.toThrow("the archive's checksum does not match");
    expect(await processesOf(box)).not.toContain("cat >/tmp/cut-short");
  });

  it("rejects a load when its signal aborts, its input destroyed, and at once for an absent container", async () => {
    const controller = new AbortController();
    const input = new Readable({ read() {} }); // never ends: only the abort ends this load
    input.push("partial");
    const loading = runtime.execWithInput(box, { command: ["sh", "-c", "cat >/dev/null; echo never"] }, input, controller.signal);
    await expect.poll(() => processesOf(box), { timeout: 30_000, interval: 200 }).toContain("cat >/dev/null; echo never");
    controller.abort(new Error("deadline"));
    await expect(loading).rejects.toThrow("deadline");
    expect(input.destroyed).toBe(true);
    // Ended, not left waiting for the rest of its stdin.
    expect(await processesOf(box)).not.toContain("cat >/dev/null; echo never");

    const other = Readable.from([Buffer.from("x")]);
    await expect(runtime.execWithInput(`berth-${deploymentId}-absent`, { command: ["cat"] }, other, forever)).rejects.toMatchObject({ statusCode: 404 });
    expect(other.destroyed).toBe(true);
  });
});

describe("runtime: a file streamed into a volume before its database starts", () => {
  afterAll(removeEverythingOfThisTest);

  it("writes exactly the content, in a directory made for it, owned by the engine's user, then the database's container reads it", async () => {
    const resourceId = randomUUID();
    const labels = { resourceId, addonId: "redis", plan: "stream-test" };
    const volumeName = `berth-${deploymentId}-${resourceId.slice(0, 8)}-data`;
    await runtime.ensureVolume(volumeName, labels, 64);
    const size = 5 * 1024 * 1024 + 123;
    const input = randomInput(size);
    await runtime.writeVolumeFile({ volumeName, labels, spec: specWith(["sleep", "100000"]), path: "restore/dump.rdb", size }, input.stream, forever);

    const { name } = await startContainer(["sleep", "100000"], volumeName);
    expect(await digest(await runtime.execStream(name, { command: ["cat", "/data/restore/dump.rdb"] }, forever))).toEqual({ sha256: input.sha256(), bytes: size });
    const { output } = await runtime.exec(name, { command: ["ls", "-ln", "/data", "/data/restore"] }, forever);
    expect(output).toMatch(/^drwx------ \d+ 999 999 .* restore$/m);
    expect(output).toMatch(/^-rw------- 1 999 999 5243003 .* dump\.rdb$/m);
    // The helper container is gone.
    expect((await run("docker", ["ps", "-aq", "--filter", `name=${volumeName}-load`])).stdout.trim()).toBe("");
  });

  it("refuses content shorter or longer than its announced size, and a content that fails, without hanging", async () => {
    const resourceId = randomUUID();
    const labels = { resourceId, addonId: "redis", plan: "stream-test" };
    const volumeName = `berth-${deploymentId}-${resourceId.slice(0, 8)}-data`;
    await runtime.ensureVolume(volumeName, labels, 64);
    const file = { volumeName, labels, spec: specWith(["sleep", "100000"]), path: "dump.rdb" };

    await expect(runtime.writeVolumeFile({ ...file, size: 1000 }, Readable.from([Buffer.alloc(999)]), forever)).rejects.toThrow(
      "the content ended after 999 of its 1000 bytes",
    );
    await expect(runtime.writeVolumeFile({ ...file, size: 1000 }, Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), forever)).rejects.toThrow(
      "the content is longer than its 1000 bytes",
    );
    const failing = new Readable({
      read() {
        this.destroy(new Error("decryption failed"));
      },
    });
    await expect(runtime.writeVolumeFile({ ...file, size: 1000 }, failing, forever)).rejects.toThrow("decryption failed");
    const controller = new AbortController();
    const never = new Readable({ read() {} });
    const writing = runtime.writeVolumeFile({ ...file, size: 1000 }, never, controller.signal);
    await sleep(300);
    controller.abort(new Error("deadline"));
    await expect(writing).rejects.toThrow("deadline");
    expect(never.destroyed).toBe(true);
    expect((await run("docker", ["ps", "-aq", "--filter", `name=${volumeName}-load`])).stdout.trim()).toBe("");
  });
});

import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { withEngineSession } from "../src/index.js";

class FakeClient extends EventEmitter {
  closed = 0;
  connect = () => new Promise<void>((resolve) => setTimeout(resolve, 5));
}

describe("withEngineSession", () => {
  it("connects, runs, closes once, and hears the client's error events", async () => {
    const client = new FakeClient();
    const result = await withEngineSession(
      new AbortController().signal,
      { open: () => client, connect: (c) => c.connect(), close: (c) => void c.closed++ },
      async (c) => {
        c.emit("error", new Error("server gone")); // unheard, this would throw
        return 42;
      },
    );
    expect([result, client.closed, client.listenerCount("error")]).toEqual([42, 1, 1]);
  });

  it("ends the client on abort, so a hanging call rejects at once", async () => {
    const client = new FakeClient();
    const controller = new AbortController();
    const hanging = withEngineSession(
      controller.signal,
      { open: () => client, close: (c) => void (c.closed++, c.emit("closed")), abort: (c) => void c.emit("closed") },
      (c) => new Promise((_resolve, reject) => c.once("closed", () => reject(new Error("connection closed")))),
    );
    setTimeout(() => controller.abort(), 5);
    await expect(hanging).rejects.toThrow("connection closed");
    expect(client.closed).toBe(1);
  });

  it("rejects soon after an abort even when the client never settles its calls nor its close", async () => {
    const controller = new AbortController();
    const never = () => new Promise<never>(() => undefined);
    const hanging = withEngineSession(controller.signal, { open: () => new FakeClient(), connect: never, close: never }, async () => 1);
    setTimeout(() => controller.abort(new Error("deadline")), 5);
    await expect(hanging).rejects.toThrow("deadline");
  });

  it("does not open a client once aborted, and ignores errors of closing", async () => {
    let opened = 0;
    await expect(withEngineSession(AbortSignal.abort(), { open: () => ++opened, close: () => undefined }, async () => 1)).rejects.toThrow();
    expect(opened).toBe(0);
    await expect(withEngineSession(new AbortController().signal, { open: () => 1, close: () => Promise.reject(new Error("x")) }, async () => "ok")).resolves.toBe("ok");
  });
});

import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../src/index.js";

/** Every refused request answers a JSON error with a stable code, and creates nothing. */
describe("provider endpoints refuse bad requests", () => {
  let stack: Stack;
  let base: string;
  let auth: string;
  beforeAll(async () => {
    stack = await startStack();
    base = `${stack.apiUrl}/postgresql/resources`;
    const { username, password } = stack.credentials("postgresql");
    auth = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${base}${path}`, {
      method,
      body,
      headers: { authorization: auth, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as { error: string; message: string }) : undefined, headers: response.headers };
  }

  const validBody = () => JSON.stringify({ plan: "postgresql-sandbox", app_id: "app-1", uuid: randomUUID() });

  it.each([
    ["wrong password", { authorization: `Basic ${Buffer.from("postgresql:nope").toString("base64")}` }],
    ["no credentials", { authorization: "" }],
    ["malformed header", { authorization: "Basic !!!" }],
  ])("401 on %s", async (_case, headers) => {
    const before = await stack.db.resource.count();
    const response = await send("POST", "/", validBody(), headers);
    expect(response.status).toBe(401);
    expect(response.body?.error).toBe("unauthorized");
    expect(response.headers.get("www-authenticate")).toContain("Basic");
    expect(await stack.db.resource.count()).toBe(before);
  });

  it("401 with another addon's or a prefix of the password", async () => {
    const { username, password } = stack.credentials("postgresql");
    const prefix = `Basic ${Buffer.from(`${username}:${password.slice(0, -1)}`).toString("base64")}`;
    expect((await send("POST", "/", validBody(), { authorization: prefix })).status).toBe(401);
  });

  it("422 with the available plans on an unknown plan", async () => {
    const before = await stack.db.resource.count();
    const response = await send("POST", "/", JSON.stringify({ plan: "gigantic", app_id: "app-1" }));
    expect(response.status).toBe(422);
    expect(response.body?.error).toBe("unknown_plan");
    expect(response.body?.message).toContain("postgresql-sandbox");
    expect(await stack.db.resource.count()).toBe(before);
  });

  it("400 on malformed JSON, missing fields, wrong types; 415 on another content type", async () => {
    const before = await stack.db.resource.count();
    const malformed = await send("POST", "/", '{"plan": "postgresql-sandbox",');
    expect([malformed.status, malformed.body?.error]).toEqual([400, "invalid_json"]);
    const missing = await send("POST", "/", JSON.stringify({ app_id: "app-1" }));
    expect([missing.status, missing.body?.error]).toEqual([400, "invalid_request"]);
    expect(missing.body?.message).toContain("plan");
    const wrongType = await send("POST", "/", JSON.stringify({ plan: 42, app_id: "app-1" }));
    expect([wrongType.status, wrongType.body?.error]).toEqual([400, "invalid_request"]);
    const badAppId = await send("POST", "/", JSON.stringify({ plan: "postgresql-sandbox", app_id: "../../etc/passwd" }));
    expect([badAppId.status, badAppId.body?.error]).toEqual([400, "invalid_request"]);
    const text = await send("POST", "/", "plan=x", { "content-type": "text/plain" });
    expect([text.status, text.body?.error]).toEqual([415, "unsupported_media_type"]);
    expect(await stack.db.resource.count()).toBe(before);
  });

  it("accepts unknown fields", async () => {
    const driver = stack.driver("postgresql");
    const response = await fetch(base, {
      method: "POST",
      headers: { authorization: auth, "content-type": "application/json" },
      body: JSON.stringify({ plan: "postgresql-sandbox", app_id: "app-extra", shard_id: "s1", future_field: { x: 1 } }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 60_000, interval: 250 }).toBe(
      "deprovisioned",
    );
  });

  it("409 idempotency_conflict on a uuid reused with another plan or app_id, naming the field; the same request still answers the same id", async () => {
    const driver = stack.driver("postgresql");
    const uuid = randomUUID();
    const first = await driver.provision({ plan: "postgresql-sandbox", app_id: "app-idem", uuid });
    expect(first.status).toBe(202);
    const { id } = first.body as { id: string };
    const post = (body: object) => send("POST", "/", JSON.stringify({ uuid, ...body }));
    // Concurrently too: the unique index decides, then the parameters are compared.
    const [otherPlan, otherApp, both, same] = await Promise.all([
      post({ plan: "postgresql-starter-512", app_id: "app-idem" }),
      post({ plan: "postgresql-sandbox", app_id: "app-other" }),
      post({ plan: "postgresql-starter-512", app_id: "app-other" }),
      post({ plan: "postgresql-sandbox", app_id: "app-idem" }),
    ]);
    expect([otherPlan.status, otherPlan.body?.error]).toEqual([409, "idempotency_conflict"]);
    expect(otherPlan.body?.message).toContain(`plan 'postgresql-sandbox' (this request: 'postgresql-starter-512')`);
    expect(otherPlan.body?.message).not.toContain("app_id");
    expect([otherApp.status, otherApp.body?.error]).toEqual([409, "idempotency_conflict"]);
    expect(otherApp.body?.message).toContain(`app_id 'app-idem' (this request: 'app-other')`);
    expect(otherApp.body?.message).not.toContain("plan '");
    expect([both.status, both.body?.error]).toEqual([409, "idempotency_conflict"]);
    expect(both.body?.message).toMatch(/plan .* and app_id /);
    expect(same.status).toBe(202);
    expect((same.body as unknown as { id: string }).id).toBe(id);
    expect(await stack.db.resource.count({ where: { platformUuid: uuid } })).toBe(1);

    // After a plan change the original request is still the same request (compared with the plan it was provisioned with).
    await stack.standIn.waitForProvisioned(id, { timeoutMs: 120_000 });
    expect((await driver.changePlan(id, "postgresql-starter-512")).status).toBe(200);
    expect((await post({ plan: "postgresql-sandbox", app_id: "app-idem" })).status).toBe(202);
    expect((await driver.deprovision(id)).status).toBe(204);
    await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: 120_000, interval: 250 }).toBe(
      "deprovisioned",
    );
  });

  it("404 on an unknown id for plan change and deprovision", async () => {
    const put = await send("PUT", "/postgresql-0000000000000000", JSON.stringify({ plan: "postgresql-sandbox" }));
    expect([put.status, put.body?.error]).toEqual([404, "resource_not_found"]);
    const del = await send("DELETE", "/postgresql-0000000000000000");
    expect([del.status, del.body?.error]).toEqual([404, "resource_not_found"]);
    const traversal = await send("DELETE", "/..%2F..%2Fetc");
    expect(traversal.status).toBe(400);
  });

  it("404 JSON on an unknown route or addon", async () => {
    const response = await fetch(`${stack.apiUrl}/nosuchdb/resources`, { method: "POST", headers: { authorization: auth } });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: string }).error).toBe("not_found");
  });
});

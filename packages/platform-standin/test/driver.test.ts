import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startPlatformStandIn, type PlatformStandIn, type StandInAddon } from "../src/index.js";
import { startFakeProvider, type FakeProvider } from "./fake-provider.js";

const postgresql: StandInAddon = {
  id: "postgresql",
  username: "berth-postgresql",
  password: "pg-password-123",
  configVars: ["SCALINGO_POSTGRESQL_URL"],
};
const expectedAuthorization = `Basic ${Buffer.from("berth-postgresql:pg-password-123").toString("base64")}`;

let standIn: PlatformStandIn;
let provider: FakeProvider;

beforeEach(async () => {
  standIn = await startPlatformStandIn({ addons: [postgresql] });
  provider = await startFakeProvider();
});

afterEach(async () => {
  await standIn.close();
  await provider.close();
});

async function appsOfPostgresql(): Promise<unknown> {
  const response = await fetch(`${standIn.url}/v1/provider/apps`, { headers: { Authorization: expectedAuthorization } });
  return response.json();
}

describe("provision", () => {
  it("POSTs the JSON body to the base URL with Basic auth and JSON headers", async () => {
    provider.answers.push({ status: 202, body: { id: "res-1", message: "Database creation has started" } });
    const response = await standIn.driver("postgresql", provider.baseUrl).provision({
      plan: "free",
      app_id: "my-app",
      uuid: "ad-123",
      options: { version: "16" },
    });

    expect(response).toEqual({ status: 202, body: { id: "res-1", message: "Database creation has started" } });
    const [request] = provider.received;
    expect(request).toMatchObject({ method: "POST", url: "/scalingo/resources" });
    expect(request?.headers.authorization).toBe(expectedAuthorization);
    expect(request?.headers["content-type"]).toBe("application/json");
    expect(request?.headers.accept).toBe("application/json");
    expect(request?.body).toEqual({ plan: "free", app_id: "my-app", options: { version: "16" }, uuid: "ad-123" });
  });

  it("sends a fresh uuid when none is given, none at all with uuid: null, and options {} by default", async () => {
    provider.answers.push({ status: 201, body: { id: "a" } }, { status: 201, body: { id: "b" } }, { status: 201, body: { id: "c" } });
    const driver = standIn.driver("postgresql", `${provider.baseUrl}/`);
    await driver.provision({ plan: "free", app_id: "app-1" });
    await driver.provision({ plan: "free", app_id: "app-1" });
    await driver.provision({ plan: "free", app_id: "app-1", uuid: null });

    const [first, second, third] = provider.received.map((request) => request.body as Record<string, unknown>);
    expect(first?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(second?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(first?.uuid).not.toBe(second?.uuid);
    expect(third).toEqual({ plan: "free", app_id: "app-1", options: {} });
    // A trailing slash on the base URL does not change the path.
    expect(provider.received.every((request) => request.url === "/scalingo/resources")).toBe(true);
  });

  it("makes the resource known on a 2xx answer with an id, and only then", async () => {
    provider.answers.push(
      { status: 422, body: { error: "unknown plan" } },
      { status: 201, body: { message: "no id" } },
      { status: 201, body: { id: "res-ok", config: { SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" } } },
    );
    const driver = standIn.driver("postgresql", provider.baseUrl);
    expect((await driver.provision({ plan: "nope", app_id: "app-x" })).status).toBe(422);
    expect((await driver.provision({ plan: "free", app_id: "app-y" })).status).toBe(201);
    await driver.provision({ plan: "free", app_id: "app-z" });

    expect(await appsOfPostgresql()).toMatchObject({ apps: [{ app_id: "app-z", plan: "free" }] });
    expect(standIn.addonConfig("res-ok")).toEqual({ SCALINGO_POSTGRESQL_URL: "postgres://u:p@127.0.0.1/db" });
  });

  it("returns a body that is not JSON as text", async () => {
    provider.answers.push({ status: 500, body: "<html>oops</html>" });
    const response = await standIn.driver("postgresql", provider.baseUrl).provision({ plan: "free", app_id: "a" });
    expect(response).toEqual({ status: 500, body: "<html>oops</html>" });
  });
});

describe("changePlan", () => {
  it("PUTs {plan, options} to <base>/<id> by default, URL-encoding the id", async () => {
    provider.answers.push({ status: 200, body: { message: "changed" } });
    const response = await standIn.driver("postgresql", provider.baseUrl).changePlan("res/1 x", "premium");
    expect(response).toEqual({ status: 200, body: { message: "changed" } });
    const [request] = provider.received;
    expect(request).toMatchObject({ method: "PUT", url: "/scalingo/resources/res%2F1%20x", body: { plan: "premium", options: {} } });
    expect(request?.headers.authorization).toBe(expectedAuthorization);
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  it("can use PATCH and send plan options", async () => {
    provider.answers.push({ status: 202, body: { message: "Database plan is being changed" } });
    await standIn.driver("postgresql", provider.baseUrl).changePlan("res-1", "premium", { method: "PATCH", planOptions: { size: "1g" } });
    expect(provider.received[0]).toMatchObject({ method: "PATCH", body: { plan: "premium", options: { size: "1g" } } });
  });

  it("updates the known plan on a 200 answer only", async () => {
    provider.answers.push({ status: 202, body: { id: "res-1" } });
    const driver = standIn.driver("postgresql", provider.baseUrl);
    await driver.provision({ plan: "free", app_id: "app-1" });

    provider.answers.push({ status: 202, body: { message: "later" } });
    await driver.changePlan("res-1", "premium");
    expect(await appsOfPostgresql()).toMatchObject({ apps: [{ plan: "free" }] });

    provider.answers.push({ status: 200, body: { config: { SCALINGO_POSTGRESQL_URL: "new-url" } } });
    await driver.changePlan("res-1", "premium");
    expect(await appsOfPostgresql()).toMatchObject({ apps: [{ plan: "premium" }] });
    expect(standIn.addonConfig("res-1")).toEqual({ SCALINGO_POSTGRESQL_URL: "new-url" });
  });
});

describe("deprovision", () => {
  it("DELETEs <base>/<id> without a body or content type and returns the raw body", async () => {
    provider.answers.push({ status: 204 });
    const response = await standIn.driver("postgresql", provider.baseUrl).deprovision("res-1");
    expect(response).toEqual({ status: 204, body: "" });
    const [request] = provider.received;
    expect(request).toMatchObject({ method: "DELETE", url: "/scalingo/resources/res-1", rawBody: "" });
    expect(request?.headers.authorization).toBe(expectedAuthorization);
    expect(request?.headers["content-type"]).toBeUndefined();
  });

  it("returns whatever body the provider sent as raw text", async () => {
    provider.answers.push({ status: 200, body: { message: "bye" } });
    const response = await standIn.driver("postgresql", provider.baseUrl).deprovision("res-1");
    expect(response).toEqual({ status: 200, body: '{"message":"bye"}' });
  });
});

describe("driver()", () => {
  it("refuses an unknown addon", () => {
    expect(() => standIn.driver("mysql", provider.baseUrl)).toThrow(/unknown addon "mysql"/);
  });
});

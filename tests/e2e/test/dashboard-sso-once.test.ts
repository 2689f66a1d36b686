import { createHash, randomBytes } from "node:crypto";
import { ssoToken } from "@berth/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../src/index.js";

/** One JSON line of the API's log, as much of it as these tests read. */
interface LogLine {
  msg: string;
  reqId?: string;
  req?: { url?: string };
  resourceId?: string;
}

/**
 * An SSO link opens at most one session, even when used twice at once, and no
 * token of a query string reaches the API's log, on any route. The real API on
 * the real control-plane PostgreSQL; the resource is a row of the control plane
 * (signing in needs no running database).
 */
describe("single sign-on: one session per link, no token in the logs", () => {
  const log: string[] = [];
  let stack: Stack;
  let id: string;
  let salt: string;
  let maxAgeSeconds: number;
  // Each test signs in with links of its own timestamp, so of its own token.
  const base = Math.floor(Date.now() / 1000);

  const sso = (timestamp: number, token = ssoToken(id, salt, timestamp)) => ({
    token,
    url: `${stack.apiUrl}/postgresql/sso?id=${encodeURIComponent(id)}&timestamp=${timestamp}&token=${token}`,
    path: `/postgresql/sso?id=${encodeURIComponent(id)}&timestamp=${timestamp}&token=`,
  });
  const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: "manual", headers });
  const lines = () => log.map((line) => JSON.parse(line) as LogLine);

  beforeAll(async () => {
    stack = await startStack({ inProcessWorker: false, apiLog: { write: (line) => void log.push(line) } });
    salt = stack.credentials("postgresql").ssoSalt;
    maxAgeSeconds = Number(stack.env.BERTH_SSO_MAX_AGE_SECONDS ?? 300);
    id = `postgresql-${randomBytes(8).toString("hex")}`;
    await stack.db.resource.create({ data: { id, addon: "postgresql", appId: "app-sso-once", plan: "postgresql-sandbox", status: "provisioned" } });
  });

  afterAll(async () => {
    if (!stack) return;
    await stack.db.resource.updateMany({ where: { id }, data: { status: "deprovisioned" } });
    await stack.close();
  });

  it("opens a session with a link's first use and refuses every later one", async () => {
    const timestamp = base;
    const link = sso(timestamp);
    const first = await get(link.url);
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe(`/dashboard/${id}`);
    const cookie = first.headers.getSetCookie().find((c) => c.startsWith("berth_session="));
    expect(cookie).toBeDefined();
    expect((await get(`${stack.apiUrl}/dashboard/${id}`, { cookie: cookie!.split(";")[0]! })).status).toBe(200);

    const again = await get(link.url);
    expect(again.status).toBe(403);
    expect(again.headers.getSetCookie()).toEqual([]);
    const page = await again.text();
    expect(page).toContain("Access refused");
    expect(page).toContain("already been used");
    // The same token in capitals (the signature check ignores case), or posted as a form: still the same token.
    expect((await get(sso(timestamp, link.token.toUpperCase()).url)).status).toBe(403);
    const posted = await fetch(`${stack.apiUrl}/postgresql/sso`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ id, timestamp: String(timestamp), token: link.token }),
    });
    expect(posted.status).toBe(403);

    // Only the token's SHA-256 is kept, until the token expires.
    const hash = createHash("sha256").update(link.token).digest("hex");
    const row = await stack.db.usedSsoToken.findUnique({ where: { tokenHash: hash } });
    expect(row?.expiresAt.getTime()).toBe((timestamp + maxAgeSeconds + 1) * 1000);
    expect(await stack.db.usedSsoToken.count({ where: { tokenHash: link.token } })).toBe(0);

    // A new link from the platform opens a new session.
    expect((await get(sso(timestamp - 1).url)).status).toBe(303);

    const refusals = lines().filter((line) => line.msg === "SSO token already used: refused");
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    expect(refusals.every((line) => line.resourceId === id)).toBe(true);
  });

  it("gives exactly one session to concurrent uses of one link", async () => {
    const link = sso(base - 2);
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(link.url)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([303, 403, 403, 403, 403, 403, 403, 403]);
    expect(answers.filter((answer) => answer.headers.getSetCookie().some((c) => c.startsWith("berth_session="))).length).toBe(1);
  });

  it("prunes the tokens whose window has ended when it records a new one", async () => {
    const expired = `expired-${randomBytes(8).toString("hex")}`;
    const current = `current-${randomBytes(8).toString("hex")}`;
    await stack.db.usedSsoToken.createMany({
      data: [
        { tokenHash: expired, expiresAt: new Date(Date.now() - 60_000) },
        { tokenHash: current, expiresAt: new Date(Date.now() + 600_000) },
      ],
    });
    expect((await get(sso(base - 3).url)).status).toBe(303);
    expect(await stack.db.usedSsoToken.count({ where: { tokenHash: expired } })).toBe(0);
    expect(await stack.db.usedSsoToken.count({ where: { tokenHash: current } })).toBe(1);
  });

  it("logs request paths with every token= and resource_token= value redacted, on every route", async () => {
    const link = sso(base - 4);
    const secrets = [link.token, ...Array.from({ length: 4 }, () => randomBytes(20).toString("hex"))];
    const [token, healthToken, healthResourceToken, missingToken, dashboardToken] = secrets as [string, string, string, string, string];
    const requests: [string, string][] = [
      [link.url, `${link.path}[redacted]`], // signs in
      [link.url, `${link.path}[redacted]`], // refused: already used
      [`${stack.apiUrl}/health?token=${healthToken}&resource_token=${healthResourceToken}`, "/health?token=[redacted]&resource_token=[redacted]"],
      [`${stack.apiUrl}/no-such-route?token=${missingToken}`, "/no-such-route?token=[redacted]"],
      [`${stack.apiUrl}/dashboard/${id}?resource_token=${dashboardToken}`, `/dashboard/${id}?resource_token=[redacted]`],
    ];
    const statuses: number[] = [];
    for (const [index, [url]] of requests.entries()) statuses.push((await get(url, { "x-request-id": `redaction-${base}-${index}` })).status);
    expect(statuses).toEqual([303, 403, 200, 404, 403]);

    // Every request's lines, through its last one, are written.
    const ofRequest = (index: number) => lines().filter((line) => line.reqId === `redaction-${base}-${index}`);
    await expect
      .poll(() => requests.every((_, index) => ofRequest(index).some((line) => line.msg === "request completed")))
      .toBe(true);

    for (const [index, [, loggedUrl]] of requests.entries()) {
      expect(ofRequest(index).find((line) => line.msg === "incoming request")?.req?.url).toBe(loggedUrl);
    }
    expect(ofRequest(1).some((line) => line.msg === "SSO token already used: refused")).toBe(true);
    for (const secret of [token, healthToken, healthResourceToken, missingToken, dashboardToken]) {
      expect(log.filter((line) => line.includes(secret))).toEqual([]);
    }
    // Nor any other test's: each token= in the log is a redacted one.
    expect(log.filter((line) => /token=(?!\[redacted\])/i.test(line))).toEqual([]);
  });
});

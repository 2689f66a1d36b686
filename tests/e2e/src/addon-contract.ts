import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { AddonDefinition } from "@berth/addon-sdk";
import type { EngineTestClient } from "@berth/addon-sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretBox } from "@berth/db";
import { ssoToken } from "@berth/protocol";
import { containersOf, dockerInspect, volumeExists, volumesOf } from "./docker.js";
import { networkOfNamespace, tcpConnects, tcpFromNamespaceOf, type Target } from "./network-namespace.js";
import { startStack, type Stack } from "./stack.js";

const MiB = 1024 * 1024;

/** The app's URL with another user's name and password. */
function userUrl(url: string, user: { name: string; password: string }): string {
  const other = new URL(url);
  other.username = user.name;
  other.password = encodeURIComponent(user.password);
  return other.toString();
}

function hostPort(url: string): Target {
  const { hostname, port } = new URL(url);
  return { host: hostname, port: Number(port) };
}
const WAIT = { timeout: 120_000, interval: 200 };
const ROTATION_GRACE_SECONDS = 8;

/**
 * The battery every engine passes against real containers, through the whole
 * system (API, queue, worker, Docker) and the platform stand-in: the checks a
 * customer and an operator would make. Call it once per addon.
 */
export function runAddonContract(addon: AddonDefinition, engine: EngineTestClient): void {
  const [firstPlan, secondPlan] = addon.plans;
  if (!firstPlan || !secondPlan) throw new Error(`the contract needs two plans of ${addon.id}`);

  describe(`${addon.name} addon contract`, () => {
    let stack: Stack;
    let id: string;
    let url: string;
    /** URLs of the database's other users (engines that have them), once created. */
    let userUrls: { reader: string; writer: string } | undefined;
    beforeAll(async () => {
      // A grace period long enough to open a session with each password while both work.
      stack = await startStack({ env: { BERTH_ROTATION_GRACE_SECONDS: String(ROTATION_GRACE_SECONDS) } });
    });
    afterAll(async () => {
      await stack?.close();
    });

    const status = async () => (await stack.db.resource.findUnique({ where: { id } }))?.status;

    it("provisions: the platform receives the config var, then the provision action", async () => {
      const response = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `contract-${addon.id}` });
      expect(response.status).toBe(202);
      id = (response.body as { id: string }).id;
      await stack.standIn.waitForProvisioned(id, { timeoutMs: WAIT.timeout });
      const config = stack.standIn.addonConfig(id) ?? {};
      expect(Object.keys(config)).toEqual([...addon.configVars]);
      url = config[addon.urlConfigVar]!;
      expect(url).toContain("127.0.0.1:");
      await expect.poll(status, WAIT).toBe("provisioned");
    });

    it("serves the delivered URL: data written is read back", async () => {
      const session = await engine.connect(url);
      await session.write("greeting", `hello from ${addon.id}`);
      expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
      await session.close();
    });

    // Early, so that every check after it (the attacks, plan changes, suspension, backups) runs with rotated credentials.
    if (addon.rotation) {
      it("rotates its credentials: the platform receives a new URL once; both work for the grace period, then only the new one", async () => {
        const configCalls = () => stack.standIn.calls.filter((call) => call.resourceId === id && call.path.endsWith("/config") && call.status === 200).length;
        const callsBefore = configCalls();
        const response = await stack.driver(addon.id).request("POST", `${id}/credentials/rotate`);
        expect(response.status).toBe(202);
        const operationId = (response.body as { operation_id: string }).operation_id;
        const operation = () => stack.db.operation.findUniqueOrThrow({ where: { id: operationId } });
        await expect.poll(async () => (await operation()).step, WAIT).toBe("grace");
        const rotated = stack.standIn.addonConfig(id)![addon.urlConfigVar]!;
        expect(rotated).not.toBe(url);
        expect(new URL(rotated).password).not.toBe(new URL(url).password);
        // Within the grace period: the app's old instances and its restarted ones are both served.
        for (const each of [url, rotated]) {
          const session = await engine.connect(each);
          expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
          await session.close();
        }
        expect((await operation()).status, `both passwords were tried within the ${ROTATION_GRACE_SECONDS} s grace period`).toBe("running");
        await expect.poll(async () => (await operation()).status, WAIT).toBe("succeeded");
        await expect(engine.connect(url)).rejects.toThrow();
        const session = await engine.connect(rotated);
        expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
        await session.close();
        expect(configCalls()).toBe(callsBefore + 1);
        url = rotated;
      });
    }

    it("applies the plan's limits, in Docker and in the engine", async () => {
      await expectPlanApplied(firstPlan);
    });

    // Each attack a hostile customer tries with the delivered URL is refused by the engine itself.
    it.each(Object.keys(engine.attacks))("refuses the customer's attack: %s", async (name) => {
      const refusal = await engine.attacks[name]!(url);
      console.log(`[attack] ${addon.id}: ${name} → ${refusal}`);
      expect(refusal).not.toBe("");
    });

    it("has no network: nothing on the host's loopback answers from inside its container, and no route leads out", async () => {
      const inspect = (await dockerInspect(`berth-${id}`))!;
      expect(inspect.HostConfig.NetworkMode).toBe("none");
      const targets: Record<string, Target> = {
        "the control plane's PostgreSQL": hostPort(stack.env.BERTH_DATABASE_URL!),
        "Berth's Redis (the job queue)": hostPort(stack.env.BERTH_REDIS_URL!),
        "the provider API": hostPort(stack.apiUrl),
        "the platform stand-in": hostPort(stack.standIn.url),
        "this database's public port, where any tenant's gateway port is": hostPort(url),
      };
      // Each target does answer on the host: the refusals below are the container's doing.
      for (const [name, target] of Object.entries(targets)) expect([name, await tcpConnects(target)]).toEqual([name, true]);
      const outcomes = await tcpFromNamespaceOf(inspect.State.Pid, Object.values(targets));
      const fromInside = Object.fromEntries(Object.keys(targets).map((name, index) => [name, outcomes[index]]));
      console.log(`[attack] ${addon.id}: connections from inside the container → ${JSON.stringify(fromInside)}`);
      for (const [name, outcome] of Object.entries(fromInside)) expect([name, outcome]).not.toEqual([name, "connected"]);
      expect(await networkOfNamespace(inspect.State.Pid)).toEqual({ interfaces: ["lo"], routesOut: [] });
    });

    it("keeps every password out of the Docker API (environment, command line, labels)", async () => {
      const secrets = new SecretBox(Buffer.from(stack.env.BERTH_ENCRYPTION_KEY!, "base64"));
      const record = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      const credentials = secrets.openJson<Record<string, string>>(record.credentials!);
      const inspected = JSON.stringify(await dockerInspect(`berth-${id}`));
      const passwords = Object.entries(credentials).filter(([field]) => /password/i.test(field));
      expect(passwords.length).toBeGreaterThan(0);
      for (const [field, value] of passwords) expect([field, inspected.includes(value)]).toEqual([field, false]);
    });

    it("refuses a wrong password", async () => {
      const wrong = new URL(url);
      wrong.password = "wrong-password-0123456789abcdef";
      await expect(engine.connect(wrong.toString())).rejects.toThrow();
    });

    // Before the plan change, which checks that they survive it (a new container on the same volume).
    if (addon.users) {
      const engineUsers = addon.users;
      it("keeps users beside the app's own: a read-only one reads and cannot write, a read-write one writes; removed or reset, the old password is refused", async () => {
        const api = (method: string, path: string, body?: unknown) => stack.driver(addon.id).request(method, `${id}/${path}`, body);
        const settled = async (response: { status: number; body: unknown }) => {
          expect(response.status, JSON.stringify(response.body)).toBe(202);
          const operationId = (response.body as { operation_id: string }).operation_id;
          await expect.poll(async () => (await stack.db.operation.findUniqueOrThrow({ where: { id: operationId } })).status, WAIT).toBe("succeeded");
          return response.body as { user: { name: string; password: string; read_only: boolean } };
        };
        const listed = await api("GET", "users");
        expect(listed.status).toBe(200);
        expect((listed.body as { users: { name: string; protected: boolean }[] }).users).toEqual([expect.objectContaining({ protected: true })]);
        const appUser = (listed.body as { users: { name: string }[] }).users[0]!.name;

        const reader = (await settled(await api("POST", "users", { name: "reader-one", read_only: true }))).user;
        expect([reader.name, reader.read_only]).toEqual(["reader-one", true]);
        expect(reader.password).toMatch(/^[A-Za-z0-9]{32}$/);
        const writer = (await settled(await api("POST", "users", { name: "writer-one", password: "Given-Password-0123456789" }))).user;
        expect(writer).toMatchObject({ read_only: false, password: "Given-Password-0123456789" });
        userUrls = { reader: userUrl(url, reader), writer: userUrl(url, writer) };

        const readerSession = await engine.connect(userUrls.reader);
        expect(await readerSession.read("greeting")).toBe(`hello from ${addon.id}`);
        await expect(readerSession.write("from-reader", "refused")).rejects.toThrow();
        await readerSession.close();
        const writerSession = await engine.connect(userUrls.writer);
        await writerSession.write("from-writer", "written by another user");
        await writerSession.close();
        const appSession = await engine.connect(url);
        expect(await appSession.read("from-writer")).toBe("written by another user");
        await appSession.close();

        // Refusals, each with its stable code.
        const code = async (response: Promise<{ status: number; body: unknown }>) => {
          const { status: answered, body } = await response;
          return [answered, (body as { error: string }).error];
        };
        expect(await code(api("POST", "users", { name: "reader-one" }))).toEqual([409, "user_exists"]);
        expect(await code(api("POST", "users", { name: "Bad_Name" }))).toEqual([422, "invalid_user"]);
        expect(await code(api("POST", "users", { name: engineUsers.reservedNames[0] }))).toEqual([422, "invalid_user"]);
        expect(await code(api("POST", "users", { name: "short-pass", password: "too-short" }))).toEqual([422, "invalid_user"]);
        expect(await code(api("DELETE", `users/${appUser}`))).toEqual([409, "user_protected"]);
        expect(await code(api("DELETE", "users/nobody-here"))).toEqual([404, "user_not_found"]);

        // A new password: the previous one is refused; a removed user: refused altogether.
        const reset = (await settled(await api("POST", "users/writer-one/reset_password", {}))).user;
        await expect(engine.connect(userUrls.writer)).rejects.toThrow();
        userUrls.writer = userUrl(url, reset);
        await (await engine.connect(userUrls.writer)).close();
        const temporary = (await settled(await api("POST", "users", { name: "temporary", read_only: true }))).user;
        await (await engine.connect(userUrl(url, temporary))).close();
        await settled(await api("DELETE", "users/temporary"));
        await expect(engine.connect(userUrl(url, temporary))).rejects.toThrow();
        expect((((await api("GET", "users")).body) as { users: { name: string }[] }).users.map((each) => each.name)).toEqual([appUser, "reader-one", "writer-one"]);
      });
    }

    it("changes plan keeping the data and applying the new limits", async () => {
      const response = await stack.driver(addon.id).changePlan(id, secondPlan.name);
      expect(response.status).toBe(200);
      await expect.poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.plan, WAIT).toBe(secondPlan.name);
      expect(await status()).toBe("provisioned");
      await expectPlanApplied(secondPlan);
      const session = await engine.connect(url);
      expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
      await session.close();
      // The other users too, with their access.
      if (userUrls) {
        const reader = await engine.connect(userUrls.reader);
        expect(await reader.read("from-writer")).toBe("written by another user");
        await expect(reader.write("from-reader", "refused")).rejects.toThrow();
        await reader.close();
        const writer = await engine.connect(userUrls.writer);
        await writer.write("from-writer", "written after the plan change");
        await writer.close();
      }
    });

    it("suspends: the container goes, connections are refused, the data stays; resumed, the same URL opens it", async () => {
      const driver = stack.driver(addon.id);
      const calls = () => stack.standIn.calls.filter((call) => call.resourceId === id).length;
      const callsBefore = calls();
      expect(await driver.suspend(id)).toEqual({ status: 204, body: "" });
      // Again, as Scalingo's own database provider sends it: idempotent.
      expect((await driver.request("POST", `${id}/suspend`, {})).status).toBe(204);
      await expect.poll(status, WAIT).toBe("suspended");
      expect(await stack.db.operation.count({ where: { resourceId: id, kind: "suspend" } })).toBe(1);
      expect(await containersOf(id)).toEqual([]);
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect(await volumeExists(resource.volumeName!)).toBe(true);
      expect([resource.port, resource.credentials === null]).toEqual([Number(new URL(url).port), false]);
      await expect(engine.connect(url)).rejects.toThrow();
      // The customer's dashboard says so.
      const timestamp = Math.floor(Date.now() / 1000);
      const sso = await fetch(`${stack.apiUrl}/${addon.id}/sso?id=${id}&timestamp=${timestamp}&token=${ssoToken(id, stack.credentials(addon.id).ssoSalt, timestamp)}`, { redirect: "manual" });
      const cookie = sso.headers.getSetCookie().find((each) => each.startsWith("berth_session="))!.split(";")[0]!;
      expect(await (await fetch(`${stack.apiUrl}/dashboard/${id}`, { headers: { cookie } })).text()).toContain('data-testid="suspended"');
      const refused = async (response: Promise<{ status: number; body: unknown }>) => {
        const { status: code, body } = await response;
        return [code, (body as { error: string }).error];
      };
      expect(await refused(driver.changePlan(id, firstPlan.name))).toEqual([409, "resource_suspended"]);
      if (addon.backup) expect(await refused(driver.request("POST", `${id}/backups`))).toEqual([409, "resource_suspended"]);

      expect(await driver.resume(id)).toEqual({ status: 204, body: "" });
      await expect.poll(status, WAIT).toBe("provisioned");
      expect((await driver.resume(id)).status).toBe(204);
      expect(await stack.db.operation.count({ where: { resourceId: id, kind: "resume" } })).toBe(1);
      const session = await engine.connect(url);
      expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
      await session.close();
      // The URL is the same: the platform was told nothing.
      expect(calls()).toBe(callsBefore);
    });

    describe.runIf(addon.backup)("backups", () => {
      const api = (method: string, path: string, body?: unknown) => stack.driver(addon.id).request(method, `${id}/${path}`, body);
      let backupId: string;

      it("takes a backup on demand, listed with its method, size and times", async () => {
        const session = await engine.connect(url);
        await session.write("backed-up", "in the backup");
        await session.close();
        const created = await api("POST", "backups");
        expect(created.status).toBe(202);
        backupId = (created.body as { backup: { id: string; status: string } }).backup.id;
        expect(created.body).toEqual({ backup: { id: backupId, status: "scheduled" } });
        const listed = async () => ((await api("GET", "backups")).body as { backups: { id: string; status: string }[] }).backups.find((b) => b.id === backupId);
        await expect.poll(async () => (await listed())?.status, WAIT).toBe("done");
        const backup = (await listed()) as unknown as Record<string, unknown>;
        expect(backup).toMatchObject({ method: "manual", status: "done" });
        expect(backup.size).toBeGreaterThan(0);
        for (const field of ["created_at", "started_at", "finished_at"]) expect(Date.parse(backup[field] as string)).not.toBeNaN();
      });

      it("downloads it through a signed link valid 10 minutes: the engine's own dump, decrypted", async () => {
        const archive = await api("GET", `backups/${backupId}/archive`);
        expect(archive.status).toBe(200);
        const { download_url, expires_at } = archive.body as { download_url: string; expires_at: string };
        const minutesLeft = (Date.parse(expires_at) - Date.now()) / 60_000;
        expect(minutesLeft).toBeGreaterThan(8);
        expect(minutesLeft).toBeLessThanOrEqual(10);
        // The link is on the API's public URL (BERTH_PUBLIC_URL); this stack's API listens on a port of its own.
        const link = new URL(download_url);
        expect(link.origin).toBe(new URL(stack.env.BERTH_PUBLIC_URL ?? "http://127.0.0.1:4000").origin);
        const local = new URL(`${link.pathname}${link.search}`, stack.apiUrl);
        const response = await fetch(local);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-disposition")).toContain(`.${addon.backup!.format}"`);
        const dump = Buffer.from(await response.arrayBuffer());
        const record = await stack.db.backup.findUniqueOrThrow({ where: { id: backupId } });
        expect(dump.length).toBe(Number(record.contentSize));
        expect(dump.length).toBeLessThan(Number(record.size) * 50); // what is stored is the dump, compressed
        const forged = new URL(local);
        forged.searchParams.set("token", forged.searchParams.get("token")!.replace(/.$/, (last) => (last === "A" ? "B" : "A")));
        const refused = await fetch(forged);
        expect([refused.status, ((await refused.json()) as { error: string }).error]).toEqual([403, "download_link_invalid"]);
      });

      it("restores it: the data written since is gone, the backup's is back, on one volume", async () => {
        const before = await engine.connect(url);
        await before.write("backed-up", "changed after the backup");
        await before.write("after-backup", "written after the backup");
        await before.close();
        const restored = await api("POST", "restore", { backup_id: backupId });
        expect(restored.status).toBe(202);
        const operationId = (restored.body as { operation_id: string }).operation_id;
        await expect.poll(async () => (await stack.db.operation.findUnique({ where: { id: operationId } }))?.status, WAIT).toBe("succeeded");
        expect(await status()).toBe("provisioned");
        const after = await engine.connect(url);
        expect(await after.read("backed-up")).toBe("in the backup");
        expect(await after.read("greeting")).toBe(`hello from ${addon.id}`);
        expect(await after.read("after-backup")).toBeUndefined();
        await after.close();
        expect(await volumesOf(id)).toEqual([(await stack.db.resource.findUniqueOrThrow({ where: { id } })).volumeName]);
        // The database's other users are its own still, whatever the backup held.
        if (userUrls) {
          const reader = await engine.connect(userUrls.reader);
          expect(await reader.read("backed-up")).toBe("in the backup");
          await expect(reader.write("from-reader", "refused")).rejects.toThrow();
          await reader.close();
        }
      });

      it("forks it into a new database for another app, which the delivered URL opens", async () => {
        const token = await api("POST", `backups/${backupId}/fork-token`);
        expect(token.status).toBe(201);
        const { fork_token } = token.body as { fork_token: string };
        const forked = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `contract-fork-${addon.id}`, options: { fork_token } });
        expect(forked.status).toBe(202);
        const forkId = (forked.body as { id: string }).id;
        await stack.standIn.waitForProvisioned(forkId, { timeoutMs: WAIT.timeout });
        const forkUrl = stack.standIn.addonConfig(forkId)![addon.urlConfigVar]!;
        expect(forkUrl).not.toBe(url);
        const session = await engine.connect(forkUrl);
        expect(await session.read("backed-up")).toBe("in the backup");
        await session.close();
        // Its own credentials: the source's URL does not open it.
        const sourceCredentials = new URL(url);
        const crossed = new URL(forkUrl);
        crossed.username = sourceCredentials.username;
        crossed.password = sourceCredentials.password;
        await expect(engine.connect(crossed.toString())).rejects.toThrow();
        expect((await stack.driver(addon.id).deprovision(forkId)).status).toBe(204);
      });

      it("refuses a damaged backup before touching the database", async () => {
        const created = await api("POST", "backups");
        const damagedId = (created.body as { backup: { id: string } }).backup.id;
        await expect.poll(async () => (await stack.db.backup.findUnique({ where: { id: damagedId } }))?.status, WAIT).toBe("done");
        const record = await stack.db.backup.findUniqueOrThrow({ where: { id: damagedId } });
        const file = join(stack.env.BERTH_BACKUP_DIR!, record.objectKey!);
        const bytes = await readFile(file);
        bytes[bytes.length >> 1]! ^= 0xff;
        await writeFile(file, bytes);
        const session = await engine.connect(url);
        await session.write("backed-up", "written after the damaged backup");
        await session.close();
        const restored = await api("POST", "restore", { backup_id: damagedId });
        const operationId = (restored.body as { operation_id: string }).operation_id;
        await expect.poll(async () => (await stack.db.operation.findUnique({ where: { id: operationId } }))?.status, WAIT).toBe("failed");
        expect((await stack.db.operation.findUniqueOrThrow({ where: { id: operationId } })).error).toMatch(/damaged/);
        expect(await status()).toBe("provisioned");
        const after = await engine.connect(url);
        expect(await after.read("backed-up")).toBe("written after the damaged backup");
        await after.close();
      });

      // Point-in-time recovery, for the engines that keep a continuous archive (PostgreSQL).
      if (addon.backup?.archive) {
        /** Writes `key` before a moment and again after it (each in a session of its own), and returns the moment. */
        const writeAroundMoment = async (key: string, before: string, after: string): Promise<Date> => {
          const first = await engine.connect(url);
          await first.write(key, before);
          await first.close();
          await sleep(300);
          const at = new Date();
          await sleep(300);
          const second = await engine.connect(url);
          await second.write(key, after);
          await second.close();
          return at;
        };
        it("puts it back to a moment between two writes (point-in-time recovery)", async () => {
          // The last backup took a physical copy of the database's current volume; every change since is archived.
          const at = await writeAroundMoment("moment", "before the moment", "after the moment");
          const after = await engine.connect(url);
          await after.write("after-moment", "written after the moment");
          await after.close();
          const restored = await api("POST", "restore", { at: at.toISOString() });
          expect(restored.status).toBe(202);
          const operationId = (restored.body as { operation_id: string }).operation_id;
          await expect.poll(async () => (await stack.db.operation.findUnique({ where: { id: operationId } }))?.status, WAIT).toBe("succeeded");
          expect(await status()).toBe("provisioned");
          const session = await engine.connect(url);
          expect(await session.read("moment")).toBe("before the moment");
          expect(await session.read("after-moment")).toBeUndefined();
          expect(await session.read("greeting")).toBe(`hello from ${addon.id}`);
          // Writable, with the password the platform holds.
          await session.write("after-recovery", "written once recovered");
          expect(await session.read("after-recovery")).toBe("written once recovered");
          await session.close();
          expect(await volumesOf(id)).toEqual([(await stack.db.resource.findUniqueOrThrow({ where: { id } })).volumeName]);
        });

        it("refuses a moment it cannot reach, with a stable code", async () => {
          const codeOf = async (body: unknown) => {
            const response = await api("POST", "restore", body);
            return [response.status, (response.body as { error: string }).error];
          };
          const hour = 3600_000;
          expect(await codeOf({ at: new Date(Date.now() + hour).toISOString() })).toEqual([422, "restore_time_out_of_range"]);
          expect(await codeOf({ at: new Date(Date.now() - 8 * 24 * hour).toISOString() })).toEqual([422, "restore_time_out_of_range"]);
          // Restored (above) since its last backup: a moment after the restore needs a backup taken after it.
          expect(await codeOf({ at: new Date().toISOString() })).toEqual([422, "restore_time_out_of_range"]);
          expect(await codeOf({ at: "yesterday" })).toEqual([400, "invalid_request"]);
          expect(await codeOf({ at: new Date().toISOString(), backup_id: backupId })).toEqual([400, "invalid_request"]);
        });

        it("forks a moment into a new database for another app (point-in-time recovery)", async () => {
          // A backup since the restore above: the moments after it can be reached again.
          const created = await api("POST", "backups");
          const newBackup = (created.body as { backup: { id: string } }).backup.id;
          await expect.poll(async () => (await stack.db.operation.findFirst({ where: { backupId: newBackup } }))?.status, WAIT).toBe("succeeded");
          const at = await writeAroundMoment("fork-moment", "before the fork's moment", "after the fork's moment");
          const token = await api("POST", "fork-token", { at: at.toISOString() });
          expect(token.status).toBe(201);
          const { fork_token } = token.body as { fork_token: string };
          const forked = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `contract-moment-fork-${addon.id}`, options: { fork_token } });
          expect(forked.status).toBe(202);
          const forkId = (forked.body as { id: string }).id;
          await stack.standIn.waitForProvisioned(forkId, { timeoutMs: WAIT.timeout });
          const forkUrl = stack.standIn.addonConfig(forkId)![addon.urlConfigVar]!;
          const fork = await engine.connect(forkUrl);
          expect(await fork.read("fork-moment")).toBe("before the fork's moment");
          await fork.write("fork-only", "written in the fork");
          await fork.close();
          const source = await engine.connect(url);
          expect(await source.read("fork-moment")).toBe("after the fork's moment");
          expect(await source.read("fork-only")).toBeUndefined();
          await source.close();
          // Its own credentials: the source's do not open it.
          const crossed = new URL(forkUrl);
          crossed.username = new URL(url).username;
          crossed.password = new URL(url).password;
          await expect(engine.connect(crossed.toString())).rejects.toThrow();
          // Nor do the source's other users, whose roles the recovered copy held.
          for (const other of Object.values(userUrls ?? {})) {
            const { username, password } = new URL(other);
            await expect(engine.connect(Object.assign(new URL(forkUrl), { username, password }).toString())).rejects.toThrow();
          }
          expect((await stack.driver(addon.id).deprovision(forkId)).status).toBe(204);
          const refused = await api("POST", "fork-token", { at: new Date(Date.now() + 3600_000).toISOString() });
          expect([refused.status, (refused.body as { error: string }).error]).toEqual([422, "restore_time_out_of_range"]);
        });
      }

      it("answers bad requests with a stable code", async () => {
        const codeOf = async (method: string, path: string, body?: unknown) => {
          const response = await api(method, path, body);
          return [response.status, (response.body as { error: string }).error];
        };
        expect(await codeOf("POST", "restore", { backup_id: "00000000-0000-4000-8000-000000000000" })).toEqual([404, "backup_not_found"]);
        expect(await codeOf("POST", "restore", { backup_id: "not-a-uuid" })).toEqual([400, "invalid_request"]);
        expect(await codeOf("GET", "backups/00000000-0000-4000-8000-000000000000/archive")).toEqual([404, "backup_not_found"]);
        expect(await codeOf("PUT", "backup-schedule", { hour: 24 })).toEqual([400, "invalid_request"]);
        if (!addon.backup?.archive) expect(await codeOf("POST", "restore", { at: new Date().toISOString() })).toEqual([422, "point_in_time_not_supported"]);
        const forged = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: "contract-forged-fork", options: { fork_token: "not.a-token" } });
        expect([forged.status, (forged.body as { error: string }).error]).toEqual([422, "invalid_fork_token"]);
        expect(await api("PUT", "backup-schedule", { hour: 3 })).toMatchObject({ status: 200, body: { hour: 3 } });
      });
    });

    it("deprovisions leaving no container, volume or live record", async () => {
      const response = await stack.driver(addon.id).deprovision(id);
      expect([response.status, response.body]).toEqual([204, ""]);
      await expect.poll(status, WAIT).toBe("deprovisioned");
      expect(await containersOf(id)).toEqual([]);
      expect(await volumesOf(id)).toEqual([]);
      const record = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect([record.port, record.credentials]).toEqual([null, null]);
      await expect(engine.connect(url)).rejects.toThrow();
      if (addon.backup) {
        // Its data was kept first: a final backup, listed with the deleted resource's backups.
        const listed = (await stack.driver(addon.id).request("GET", `${id}/backups`)).body as { backups: { method: string; status: string }[] };
        expect(listed.backups.filter((backup) => backup.method === "final")).toMatchObject([{ status: "done" }]);
        const backups = await stack.driver(addon.id).request("POST", `${id}/backups`);
        expect([backups.status, (backups.body as { error: string }).error]).toEqual([404, "resource_not_found"]);
      }
    });

    async function expectPlanApplied(plan: typeof firstPlan) {
      const inspect = await dockerInspect(`berth-${id}`);
      expect(inspect?.State.Running).toBe(true);
      expect(inspect?.HostConfig.Memory).toBe(plan!.limits.memoryMb * MiB);
      expect(inspect?.HostConfig.NanoCpus).toBe(Math.round(plan!.limits.cpus * 1e9));
      expect(inspect?.HostConfig.PidsLimit).toBe(plan!.limits.pids);
      expect(inspect?.Config.Labels["berth.plan"]).toBe(plan!.name);
      const session = await engine.connect(url);
      const reported = Object.fromEntries(
        await Promise.all(Object.keys(engine.expectedSettings(plan!)).map(async (name): Promise<[string, string]> => [name, await session.setting(name)])),
      );
      await session.close();
      expect(reported).toEqual(engine.expectedSettings(plan!));
    }
  });

  describe(`${addon.name} that never becomes ready`, () => {
    const readyTimeoutMs = 4_000;
    // A real container that listens, but not where it is reached (the gateway pipes to a socket
    // the engine never makes): the worker's probes never succeed.
    const unreachable: AddonDefinition = {
      ...addon,
      readyTimeoutMs,
      containerSpec: (input) => {
        const spec = addon.containerSpec(input);
        return { ...spec, socketPath: `${spec.dataPath}/nobody-listens-here.sock` };
      },
    };
    let stack: Stack;
    beforeAll(async () => {
      stack = await startStack({ addons: new Map([[addon.id, unreachable]]) });
    });
    afterAll(async () => {
      await stack?.close();
    });

    it("fails cleanly within the addon's timeout and leaves nothing behind", async () => {
      const response = await stack.driver(addon.id).provision({ plan: firstPlan.name, app_id: `never-ready-${addon.id}` });
      expect(response.status).toBe(202);
      const id = (response.body as { id: string }).id;
      await expect
        .poll(async () => (await stack.db.resource.findUnique({ where: { id } }))?.status, { timeout: readyTimeoutMs + 60_000, interval: 200 })
        .toBe("failed");
      const resource = await stack.db.resource.findUniqueOrThrow({ where: { id } });
      expect(resource.statusReason).toContain(`did not accept connections within ${readyTimeoutMs} ms`);
      expect(resource.port).toBeNull();
      const [operation] = await stack.db.operation.findMany({ where: { resourceId: id } });
      expect([operation?.status, operation?.attempts]).toEqual(["failed", 1]);
      expect(await containersOf(id)).toEqual([]);
      expect(await volumeExists(`berth-${id}-data`)).toBe(false);
      expect(stack.standIn.calls.filter((call) => call.resourceId === id)).toEqual([]);
    });
  });
}

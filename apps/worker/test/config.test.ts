import { randomBytes } from "node:crypto";
import { addons } from "@berth/addons";
import { ConfigError, addonEnvName } from "@berth/config";
import { describe, expect, it } from "vitest";
import { loadWorkerConfig } from "../src/config.js";

const valid = {
  BERTH_REDIS_URL: "redis://127.0.0.1:6390",
  BERTH_DATABASE_URL: "postgresql://postgres@127.0.0.1:5433/berth",
  BERTH_PLATFORM_API_URL: "https://api.osc-fr1.scalingo.com",
  BERTH_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
  ...Object.fromEntries(
    [...addons.keys()].flatMap((id) => [
      [addonEnvName(id, "USERNAME"), `berth-${id}`],
      [addonEnvName(id, "PASSWORD"), "a-long-enough-password"],
    ]),
  ),
};

describe("worker configuration", () => {
  it("applies defaults and per-addon settings", () => {
    const config = loadWorkerConfig({ ...valid, BERTH_PORT_RANGE: "30000-30100", BERTH_ADDON_POSTGRESQL_IMAGE: "my/pg:15" }, addons);
    expect(config.portRange).toEqual({ first: 30_000, last: 30_100 });
    expect(config.bindAddress).toBe("127.0.0.1");
    expect(config.dockerHost).toBe("unix:///var/run/docker.sock");
    expect(config.addons.get("postgresql")).toEqual({
      image: "my/pg:15",
      credentials: { username: "berth-postgresql", password: "a-long-enough-password" },
    });
    expect(config.addons.get("redis")?.image).toBe("redis:7");
  });

  it("runs only the enabled addons: one whose credentials are not configured is left off, with the reason", () => {
    const withoutRedis = { ...valid, BERTH_ADDON_REDIS_USERNAME: undefined, BERTH_ADDON_REDIS_PASSWORD: undefined };
    const config = loadWorkerConfig(withoutRedis, addons);
    expect(config.enabledAddons.has("redis")).toBe(false);
    expect(config.addons.has("redis")).toBe(false);
    expect(config.addonsLeftOff).toEqual([{ id: "redis", reason: expect.stringContaining("BERTH_ADDON_REDIS_USERNAME") }]);
    expect([...loadWorkerConfig({ ...valid, BERTH_ADDONS: "postgresql" }, addons).enabledAddons.keys()]).toEqual(["postgresql"]);
  });

  it("puts each database on a disk of its own under /var/lib/berth/disks unless told otherwise; off means plain volumes", () => {
    expect(loadWorkerConfig(valid, addons).disks).toEqual({ limits: "loop", dir: "/var/lib/berth/disks" });
    expect(loadWorkerConfig({ ...valid, BERTH_DISK_LIMITS: "off", BERTH_DISK_DIR: "/srv/disks" }, addons).disks).toEqual({
      limits: "off",
      dir: "/srv/disks",
    });
    expect(() => loadWorkerConfig({ ...valid, BERTH_DISK_LIMITS: "quota" }, addons)).toThrow(/BERTH_DISK_LIMITS: must be "loop"/);
    expect(() => loadWorkerConfig({ ...valid, BERTH_DISK_DIR: "disks" }, addons)).toThrow(/BERTH_DISK_DIR: must be an absolute path/);
    // The worker mounts the disks where the engine binds them from: the same host.
    expect(() => loadWorkerConfig({ ...valid, DOCKER_HOST: "tcp://10.0.0.5:2375" }, addons)).toThrow(/BERTH_DISK_LIMITS: "loop" needs the worker on the Docker host/);
    expect(loadWorkerConfig({ ...valid, DOCKER_HOST: "tcp://10.0.0.5:2375", BERTH_DISK_LIMITS: "off" }, addons).dockerHost).toBe("tcp://10.0.0.5:2375");
  });

  it("serves its health and metrics on 127.0.0.1:4001 unless told otherwise, and refuses a bad port", () => {
    expect(loadWorkerConfig(valid, addons).http).toEqual({ host: "127.0.0.1", port: 4001 });
    expect(loadWorkerConfig({ ...valid, BERTH_WORKER_HTTP_HOST: "0.0.0.0", BERTH_WORKER_HTTP_PORT: "9100" }, addons).http).toEqual({
      host: "0.0.0.0",
      port: 9100,
    });
    expect(() => loadWorkerConfig({ ...valid, BERTH_WORKER_HTTP_PORT: "70000" }, addons)).toThrow(/BERTH_WORKER_HTTP_PORT/);
  });

  it("falls back to the addon's official image", () => {
    expect(loadWorkerConfig(valid, addons).addons.get("postgresql")?.image).toBe("postgres:15");
  });

  it("lists every problem at once, naming each variable", () => {
    let error: unknown;
    try {
      loadWorkerConfig(
        { ...valid, BERTH_REDIS_URL: "http://x", BERTH_ENCRYPTION_KEY: "short", BERTH_ADDON_POSTGRESQL_PASSWORD: undefined, BERTH_PORT_RANGE: "9-1" },
        addons,
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues } = error as ConfigError;
    expect(issues.join("\n")).toMatch(/BERTH_ADDON_POSTGRESQL_PASSWORD is required/);
    expect(issues.join("\n")).toMatch(/BERTH_REDIS_URL/);
    expect(issues.join("\n")).toMatch(/BERTH_ENCRYPTION_KEY/);
    expect(issues.join("\n")).toMatch(/BERTH_PORT_RANGE/);
  });

  it("reads the warm pool per plan and refuses what cannot be pooled", () => {
    expect(loadWorkerConfig(valid, addons).warmPool).toEqual([]);
    expect(loadWorkerConfig({ ...valid, BERTH_WARM_POOL: " postgresql-sandbox=2, postgresql-starter-512=0 " }, addons).warmPool).toEqual([
      { addonId: "postgresql", plan: "postgresql-sandbox", size: 2 },
      { addonId: "postgresql", plan: "postgresql-starter-512", size: 0 },
    ]);
    const problems = (value: string) => {
      try {
        loadWorkerConfig({ ...valid, BERTH_WARM_POOL: value }, addons);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error(`BERTH_WARM_POOL=${value} was accepted`);
    };
    expect(problems("postgresql-sandbox")).toMatch(/must look like <plan>=<count>/);
    expect(problems("postgresql-sandbox=-1")).toMatch(/must look like <plan>=<count>/);
    expect(problems("postgresql-gold=1")).toMatch(/no installed addon has a plan "postgresql-gold"/);
    expect(problems("influxdb-sandbox=1")).toMatch(/influxdb cannot change a database's password/);
    expect(problems("postgresql-sandbox=51")).toMatch(/more than 50/);
    expect(problems("postgresql-sandbox=1,postgresql-sandbox=2")).toMatch(/listed twice/);
  });
});

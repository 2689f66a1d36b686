import { describe, expect, it } from "vitest";
import { influxdbAddon, influxdbConfig } from "../src/index.js";

const credentials = influxdbAddon.generateCredentials();
const [plan] = influxdbAddon.plans;

describe("the InfluxDB addon", () => {
  it("keeps every password out of the container's command, environment and the admin command's arguments", () => {
    const spec = influxdbAddon.containerSpec({ plan: plan!, credentials, image: "berth-local/influxdb:1.6" });
    const bootstrap = influxdbAddon.bootstrap!(credentials);
    const visible = JSON.stringify([spec.command, spec.env, bootstrap.command]);
    for (const secret of [credentials.password, credentials.adminPassword]) expect(visible).not.toContain(secret);
    expect(bootstrap.stdin).toContain(credentials.adminPassword);
    // (in curl's configuration, where the statement's double quotes are escaped)
    expect(bootstrap.stdin).toContain(`GRANT ALL ON \\"${credentials.database}\\" TO \\"${credentials.user}\\"`);
    expect(bootstrap.stdin).toContain(`CREATE USER \\"${credentials.user}\\" WITH PASSWORD '${credentials.password}';`); // not WITH ALL PRIVILEGES
  });

  it("listens with authentication on a socket inside its volume, TCP on the container's loopback only", () => {
    const spec = influxdbAddon.containerSpec({ plan: plan!, credentials, image: "berth-local/influxdb:1.6" });
    const config = influxdbConfig(plan!);
    expect(spec.socketPath.startsWith(`${spec.dataPath}/`)).toBe(true);
    expect(config).toContain(`bind-socket = "${spec.socketPath}"`);
    for (const line of ["auth-enabled = true", "unix-socket-enabled = true", "pprof-enabled = false", 'bind-address = "127.0.0.1:8086"', 'bind-address = "127.0.0.1:8088"', "store-enabled = false"]) {
      expect(config).toContain(line);
    }
    expect(config).toContain(`max-select-buckets = ${plan!.settings.max_select_buckets}`);
  });

  it("delivers http://user:password@host:port/database", () => {
    expect(influxdbAddon.connectionConfig({ host: "db.example", port: 20001, credentials }, plan!)).toEqual({
      SCALINGO_INFLUX_URL: `http://${credentials.user}:${credentials.password}@db.example:20001/${credentials.database}`,
    });
  });
});

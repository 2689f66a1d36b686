import { formatDiskMb } from "@berth/addon-sdk";
import { addons } from "@berth/addons";
import { manifestSchema } from "@berth/protocol";
import { describe, expect, it } from "vitest";
import { buildManifest, checkManifest } from "../src/index.js";

const deployment = {
  publicUrl: "https://berth.example.com/",
  username: "berth-test",
  password: "0123456789abcdef0123",
  ssoSalt: "fedcba9876543210fedc",
};

describe("buildManifest", () => {
  it.each([...addons.values()])("generates a manifest of the $id addon that passes every check", (addon) => {
    const manifest = buildManifest(addon, deployment);
    expect(checkManifest(manifest, { addons })).toEqual([]);
    // Through JSON, as the platform receives it.
    expect(checkManifest(JSON.parse(JSON.stringify(manifest)), { addons })).toEqual([]);
    expect(manifestSchema.parse(manifest)).toEqual(manifest);
  });

  it("takes the URLs from the deployment and the rest from the definition", () => {
    const postgresql = addons.get("postgresql")!;
    const manifest = buildManifest(postgresql, { ...deployment, testPublicUrl: "http://127.0.0.1:4000" });
    expect(manifest).toMatchObject({
      name: postgresql.name,
      username: "berth-test",
      password: deployment.password,
      sso_salt: deployment.ssoSalt,
      logo_url: "https://berth.example.com/assets/postgresql.svg",
      short_description: postgresql.shortDescription,
      description: postgresql.description,
      log_drain: false,
      config_vars: ["SCALINGO_POSTGRESQL_URL"],
      production: {
        base_url: "https://berth.example.com/postgresql/resources",
        sso_url: "https://berth.example.com/postgresql/sso",
      },
      test: { base_url: "http://127.0.0.1:4000/postgresql/resources", sso_url: "http://127.0.0.1:4000/postgresql/sso" },
    });
    expect(manifest.plans).toHaveLength(postgresql.plans.length);
    const sandbox = postgresql.plans[0]!;
    expect(manifest.plans[0]).toEqual({
      name: sandbox.name,
      display_name: sandbox.displayName,
      price: sandbox.price,
      description: sandbox.description,
      options: Object.fromEntries(Object.entries(sandbox.settings).map(([key, value]) => [key, String(value)])),
    });
    // A test instance on http is fine: only production must be https.
    expect(checkManifest(manifest, { addons })).toEqual([]);
  });

  it.each([...addons.values()])("tells customers each $id plan's disk size in its description", (addon) => {
    const manifest = buildManifest(addon, deployment);
    for (const [index, plan] of addon.plans.entries()) {
      expect(manifest.plans[index]!.description).toContain(`${formatDiskMb(plan.limits.diskMb)} of disk`);
    }
  });

  it("uses the public URL for the test URLs by default and a given logo URL as is", () => {
    const redis = addons.get("redis")!;
    const manifest = buildManifest(redis, { ...deployment, logoUrl: "https://cdn.example.com/redis.png" });
    expect(manifest.test).toEqual(manifest.production);
    expect(manifest.logo_url).toBe("https://cdn.example.com/redis.png");
  });

  it("builds on a public URL with a path", () => {
    const mysql = addons.get("mysql")!;
    const manifest = buildManifest(mysql, { ...deployment, publicUrl: "https://example.com/berth" });
    expect(manifest.production.base_url).toBe("https://example.com/berth/mysql/resources");
    expect(checkManifest(manifest, { addons })).toEqual([]);
  });
});

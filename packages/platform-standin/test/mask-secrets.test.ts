import { describe, expect, it } from "vitest";
import { maskSecrets } from "../src/index.js";

describe("maskSecrets", () => {
  it("masks passwords inside URLs and keeps the rest", () => {
    expect(maskSecrets({ config: { SCALINGO_POSTGRESQL_URL: "postgres://user:s3cr3t@127.0.0.1:5432/db?sslmode=disable" } })).toEqual({
      config: { SCALINGO_POSTGRESQL_URL: "postgres://user:***@127.0.0.1:5432/db?sslmode=disable" },
    });
    expect(maskSecrets("redis://:only-password@127.0.0.1:6379")).toBe("redis://:***@127.0.0.1:6379");
    expect(maskSecrets("http://127.0.0.1:4100/v1")).toBe("http://127.0.0.1:4100/v1");
  });

  it("masks values of secret-looking names, in both config forms", () => {
    expect(maskSecrets({ config: { SCALINGO_POSTGRESQL_PASSWORD: "pw", SCALINGO_POSTGRESQL_USER: "u" } })).toEqual({
      config: { SCALINGO_POSTGRESQL_PASSWORD: "***", SCALINGO_POSTGRESQL_USER: "u" },
    });
    expect(maskSecrets({ config: [{ name: "API_TOKEN", value: "t" }, { name: "HOST", value: "h" }] })).toEqual({
      config: [{ name: "API_TOKEN", value: "***" }, { name: "HOST", value: "h" }],
    });
  });

  it("leaves other values alone", () => {
    expect(maskSecrets(undefined)).toBeUndefined();
    expect(maskSecrets({ n: 1, b: true, x: null })).toEqual({ n: 1, b: true, x: null });
  });
});

import { randomBytes } from "node:crypto";
import { ConfigError } from "@berth/config";
import { describe, expect, it } from "vitest";
import { backupStoreConfigSchema, createBackupStore } from "../src/index.js";

describe("createBackupStore's configuration", () => {
  const encryptionKey = randomBytes(32);

  it("fills the S3 backend's defaults", () => {
    const parsed = backupStoreConfigSchema.parse({
      backend: { kind: "s3", bucket: "berth-backups", accessKeyId: "AKID", secretAccessKey: "secret" },
      encryptionKey,
    });
    expect(parsed).toEqual({
      backend: {
        kind: "s3",
        region: "us-east-1",
        bucket: "berth-backups",
        accessKeyId: "AKID",
        secretAccessKey: "secret",
        forcePathStyle: false,
        keyPrefix: "",
        partSizeBytes: 16 * 1024 * 1024,
        partConcurrency: 2,
      },
      encryptionKey,
      previousEncryptionKeys: [],
    });
  });

  it("refuses a bad configuration with one line per problem, naming the field", () => {
    const refused = (() => {
      try {
        createBackupStore({
          backend: {
            kind: "s3",
            endpoint: "ftp://storage.example",
            bucket: "Not_A_Bucket",
            accessKeyId: "",
            secretAccessKey: "secret",
            keyPrefix: "../",
            partSizeBytes: 1024,
          },
          encryptionKey: randomBytes(16),
          previousEncryptionKeys: [randomBytes(31)],
        });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(ConfigError);
    const issues = (refused as ConfigError).issues.join("\n");
    for (const field of ["backend.endpoint", "backend.bucket", "backend.accessKeyId", "backend.keyPrefix", "backend.partSizeBytes", "encryptionKey", "previousEncryptionKeys.0"]) {
      expect(issues).toContain(`backup store ${field}:`);
    }
  });

  it("wants an absolute directory, and a known backend", () => {
    expect(() => createBackupStore({ backend: { kind: "directory", directory: "backups" }, encryptionKey })).toThrow(/backend\.directory: must be an absolute path/);
    expect(() => createBackupStore({ backend: { kind: "ftp" } as never, encryptionKey })).toThrow(ConfigError);
  });
});

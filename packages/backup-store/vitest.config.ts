import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Multi-MiB streams through brotli, AES-GCM and a loopback S3 server on a slow shared machine:
    // generous, only so that a stuck test ends.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});

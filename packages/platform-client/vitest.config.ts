import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The tests use real HTTP on 127.0.0.1 and real Retry-After waits: generous, so a slow machine is not a failure.
    testTimeout: 30_000,
  },
});

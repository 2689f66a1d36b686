import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The tests run the real `berth` as a subprocess (tsx compiles it at each start).
    testTimeout: 30_000,
  },
});

import { defineConfig } from "vitest/config";

// Real containers take seconds to start: generous timeouts, and files run one
// after another since they share one Docker Engine on a 2-core machine.
export default defineConfig({
  test: {
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});

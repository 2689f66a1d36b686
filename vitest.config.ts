import { defineConfig } from "vitest/config";

// One run for the whole monorepo; each package may refine its own settings in
// its vitest.config.ts. Files run one at a time: the system tests share one
// Docker Engine, Redis and PostgreSQL on a 2-core machine.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "tests/*"].map((glob) => `${import.meta.dirname}/${glob}`),
    fileParallelism: false,
  },
});

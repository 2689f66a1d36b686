// knip (scripts/lint.sh): files nothing uses, exports nobody imports, dependencies nobody needs.
// Library packages' entry points (`exports` in package.json) are their public surface and are not
// checked export by export; the apps' are, since nothing but the tests imports an app.
import type { KnipConfig } from "knip";

const app = { includeEntryExports: true };

const config: KnipConfig = {
  workspaces: {
    ".": {
      // Run by the shell scripts (scripts/test.sh, scripts/lint.sh), which knip does not read.
      entry: ["scripts/*.mjs"],
    },
    "apps/api": app,
    "apps/cli": app,
    "apps/worker": app,
    "packages/db": {
      // The generated client (src/generated/, git-ignored and so unseen by knip) imports its runtime.
      ignoreDependencies: ["@prisma/client"],
    },
    "tests/e2e": {
      // The bench starts it as a process of its own, by path.
      entry: ["bench/bare-server.ts"],
      // Code that fails the lint on purpose, given to ESLint and shellcheck by path (test/lint.test.ts).
      ignore: ["test/lint-fixtures/**"],
      // Debian's programs, installed by scripts/services.sh: the tests start private instances.
      ignoreBinaries: ["dockerd", "redis-server"],
    },
  },
};

export default config;

// The lint of scripts/lint.sh: typescript-eslint with type information, so that a promise
// nobody awaits, or one handed to a caller that ignores it, is an error here rather than an
// unhandled rejection at run time.
import js from "@eslint/js";
import { defineConfig, globalIgnores } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  globalIgnores([
    "**/node_modules/",
    "**/dist/",
    "packages/db/src/generated/",
    "coverage/",
    "test-results/",
    "bench-results/",
    // Code that fails the lint on purpose, fed to ESLint by tests/e2e/test/lint.test.ts.
    "**/lint-fixtures/",
  ]),
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // The few files of no package's tsconfig.json: the root's configs and scripts.
          allowDefaultProject: ["*.js", "*.ts", "scripts/*.mjs", "apps/cli/bin/*.js"],
        },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: globals.node,
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // A name starting with `_` is unused on purpose: a key dropped by a rest destructuring
      // (`const { secret: _, ...rest } = env`), a stream drained by `for await (const _chunk of s);`.
      "@typescript-eslint/no-unused-vars": ["error", { varsIgnorePattern: "^_" }],
      // Off: Fastify plugins and handlers, and test doubles of async interfaces, are async without
      // awaiting anything on purpose (their contract is to return a promise); the rule would only
      // trade `async` for `Promise.resolve` wrappers. Awaiting what must be awaited is
      // no-floating-promises' job.
      "@typescript-eslint/require-await": "off",
    },
  },
  {
    // Tests read JSON answers (`response.json()` is `any` by design) and feed malformed input on
    // purpose: typing every such value would add casts, not catch bugs. The promise rules stay on.
    files: ["**/test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Plain JavaScript (the root's configs, scripts, the CLI's launcher): no types to check.
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);

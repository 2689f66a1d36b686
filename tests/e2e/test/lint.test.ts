import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./lint-fixtures/", import.meta.url));

/**
 * scripts/lint.sh's checks fail on a finding: the repository's own ESLint and shellcheck settings,
 * given code with the faults they are there to catch (the fixtures, which the main lint skips).
 */
describe("lint", () => {
  it("ESLint reports a promise nobody awaits and one handed to a caller that drops it", async () => {
    const fixture = `${FIXTURES}unhandled-promises.ts`;
    expect(await new ESLint({ cwd: ROOT }).isPathIgnored(fixture)).toBe(true);

    const eslint = new ESLint({ cwd: ROOT, ignore: false });
    const [result] = await eslint.lintFiles([fixture]);
    const found = result!.messages.map((message) => ({ line: message.line, rule: message.ruleId, severity: message.severity }));
    expect(found).toEqual([
      { line: 9, rule: "@typescript-eslint/no-floating-promises", severity: 2 },
      { line: 13, rule: "@typescript-eslint/no-misused-promises", severity: 2 },
    ]);
  });

  it("shellcheck reports an unquoted expansion", async () => {
    const failure = await run("shellcheck", ["--format=gcc", `${FIXTURES}unquoted-variable.sh`], { cwd: ROOT }).then(
      () => undefined,
      (error: { code?: number; stdout?: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toMatch(/unquoted-variable\.sh:5:4: .*\[SC2086\]/);
  });
});

#!/usr/bin/env bash
# The checks that keep the code clean, run by scripts/test.sh beside the tests (`pnpm lint` alone):
# ESLint with typescript-eslint's type-aware rules (eslint.config.js), knip for unused files,
# exports and dependencies (knip.ts), and shellcheck on every shell script (.shellcheckrc).
# One line per check when clean; else each finding as file:line, and exit status 1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

ensure_debian_package shellcheck shellcheck
# The type-aware rules read the generated Prisma client: it must match the schema (turbo skips it if
# it does). BERTH_LINT_GENERATED=1: the caller generated it (scripts/test.sh, before the tests start).
if [[ ${BERTH_LINT_GENERATED:-} != 1 ]]; then
  pnpm exec turbo run generate --output-logs=errors-only >/dev/null
fi

# The repository's shell scripts: *.sh, and files whose first line runs sh, bash or dash
# (such as .ci/run). Untracked ones count too, unless git ignores them.
shell_scripts() {
  local file first
  while IFS= read -r -d '' file; do
    [[ -f $file && $file != */lint-fixtures/* ]] || continue # fixtures fail on purpose (tests/e2e/test/lint.test.ts)
    if [[ $file == *.sh || $file == *.bash ]]; then
      printf '%s\0' "$file"
    elif IFS= read -r first <"$file" 2>/dev/null && [[ $first =~ ^#!.*/(env[[:space:]]+)?(ba|da)?sh([[:space:]]|$) ]]; then
      printf '%s\0' "$file"
    fi
  done < <(git ls-files -z --cached --others --exclude-standard)
}

failed=()
# check NAME COMMAND...: runs COMMAND, and shows its output only if it fails.
check() {
  local name=$1 output status=0 started=$SECONDS
  shift
  output=$("$@" 2>&1) || status=$?
  if ((status == 0)); then
    say "$name: clean ($((SECONDS - started)) s)"
  else
    printf '%s\n' "$output" >&2
    say "$name: the findings above (exit status $status)"
    failed+=("${name%% *}")
  fi
}

mapfile -d '' scripts < <(shell_scripts)
((${#scripts[@]} > 0)) || { say "lint: no shell script found (is this a git checkout?)"; exit 1; }
check "shellcheck (${#scripts[@]} scripts)" shellcheck --format=gcc "${scripts[@]}"
check knip pnpm exec knip --no-progress
check eslint pnpm exec eslint --max-warnings=0 --format=./scripts/eslint-formatter.mjs .

if ((${#failed[@]} > 0)); then
  say "lint failed (${failed[*]}): fix the findings above (file:line), then run pnpm lint"
  exit 1
fi

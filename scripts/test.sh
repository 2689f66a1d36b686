#!/usr/bin/env bash
# Runs the lint (scripts/lint.sh) and every test of Berth against real Redis, PostgreSQL and Docker Engine.
# On a fresh machine it installs and starts all of them first (scripts/services.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

ensure_toolchain
# The typecheck first (it generates the Prisma client the lint reads); then the lint runs beside the
# set-up and the tests, its tools installed here so that nothing it does touches what they use. A
# finding fails the run, reported at its end.
ensure_debian_package shellcheck shellcheck
say "typecheck"
pnpm exec turbo run typecheck --output-logs=errors-only
lint_log=$(mktemp)
BERTH_LINT_GENERATED=1 bash scripts/lint.sh >"$lint_log" 2>&1 &
lint_pid=$!
load_local_services
# Browser tests drive Debian's Chromium with playwright-core (never a downloaded browser).
ensure_debian_package chromium chromium
ensure_disk_tools
# The isolation tests look into database containers' network namespaces (nsenter, ip).
ensure_debian_package nsenter util-linux
ensure_debian_package ip iproute2
# The client matrix: each engine's own command-line client and Debian's Python drivers.
ensure_debian_package psql postgresql-client-15
ensure_debian_package mariadb mariadb-client
ensure_debian_package redis-cli redis-tools
ensure_debian_package influx influxdb-client
ensure_debian_python_module psycopg2 python3-psycopg2
ensure_debian_python_module pymysql python3-pymysql
ensure_debian_python_module redis python3-redis

# A fresh control-plane database for every run, with the committed migrations.
test_db=${BERTH_TEST_DATABASE_URL:?}
admin_url=${test_db%/*}/postgres
db_name=${test_db##*/}
bash scripts/remove-test-leftovers.sh
psql_url "$admin_url" -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" -c "CREATE DATABASE \"$db_name\""
migrate "$test_db"

say "tests"
mkdir -p test-results
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json "$@" || status=$?
node scripts/test-summary.mjs test-results/vitest.json || status=1

say "lint"
lint_status=0
wait "$lint_pid" || lint_status=$?
cat "$lint_log"
rm -f "$lint_log"
if [[ $lint_status -ne 0 ]]; then
  say "the lint found problems (above): the run fails"
  status=1
fi
exit "$status"

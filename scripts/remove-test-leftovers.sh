#!/usr/bin/env bash
# Removes the containers and volumes of resources recorded in the test database
# (left behind by an interrupted test run), before test.sh recreates that database.
# Only objects whose berth.resource label names a resource of the test database are touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_db=${BERTH_TEST_DATABASE_URL:?}
ids=$(psql_url "$test_db" -Atqc "SELECT id FROM resources WHERE status <> 'deprovisioned'" 2>/dev/null || true)
for id in $ids; do
  docker ps -aq --filter "label=berth.resource=$id" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "label=berth.resource=$id" | xargs -r docker volume rm >/dev/null
  printf '[berth] removed leftovers of test resource %s\n' "$id" >&2
done

#!/usr/bin/env bash
# Benchmarks against real services: prints a table, writes JSON under bench-results/.
#   bash scripts/bench.sh [--runs N] [--concurrent N] [--seconds S]   (defaults 10, 20, 5)
#     [--only accept,engines,warm,isolation,backups,pitr,rotation] [--pitr-trials 3] [--pitr-seconds 90] [--pitr-size 100] [--rounds 2000] [--requests 50000] [--idle-routes 20]
#     [--backup-sizes 100,1024] [--rotation-grace 2]
#   (isolation: the gateway vs the Unix socket; --rounds sequential queries, --requests per
#   redis-benchmark test, pgbench for --seconds, --idle-routes Redis databases for its memory)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

ensure_toolchain
load_local_services
# the isolation part's load generators (pgbench comes with the local PostgreSQL 15)
ensure_debian_package redis-benchmark redis-tools
# The bench works in the test database, never in the one `start.sh` serves.
export BERTH_TEST_DATABASE_URL
migrate "$BERTH_TEST_DATABASE_URL"
cd tests/e2e && exec pnpm exec tsx bench/bench.ts "$@"

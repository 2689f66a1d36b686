#!/usr/bin/env bash
# Benchmarks against real services: prints a table, writes JSON under bench-results/.
#   bash scripts/bench.sh [--runs N] [--concurrent N] [--seconds S]   (defaults 10, 20, 5)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

ensure_toolchain
load_local_services
# The bench works in the test database, never in the one `start.sh` serves.
export BERTH_TEST_DATABASE_URL
migrate "$BERTH_TEST_DATABASE_URL"
cd tests/e2e && exec pnpm exec tsx bench/bench.ts "$@"

#!/usr/bin/env bash
# Starts Berth: the API, the worker and the gateway. With nothing configured it also starts
# its own Redis, PostgreSQL and Docker Engine (scripts/services.sh) and, when no
# platform is configured (BERTH_PLATFORM_API_URL), the platform stand-in, so a
# newcomer can try everything on one machine. Ctrl-C stops what it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$BERTH_ROOT"

ensure_toolchain
ensure_disk_tools
if [[ -z ${BERTH_REDIS_URL:-} || -z ${BERTH_DATABASE_URL:-} ]]; then
  load_local_services
fi
migrate "$BERTH_DATABASE_URL"

pids=()
stop() {
  trap - EXIT INT TERM
  if ((${#pids[@]})); then kill -TERM "${pids[@]}" 2>/dev/null || true; fi
  wait || true
}
trap stop EXIT INT TERM

if [[ -z ${BERTH_PLATFORM_API_URL:-} ]]; then
  standin_port=${BERTH_STANDIN_PORT:-4100}
  export BERTH_PLATFORM_API_URL=http://127.0.0.1:$standin_port
  # The stand-in learns each installed addon's config vars from the registry, as a platform would
  # from its manifest.
  (cd packages/platform-standin && exec pnpm exec tsx src/cli.ts serve --port "$standin_port") &
  pids+=($!)
  say "platform stand-in: $BERTH_PLATFORM_API_URL"
fi

# Each database's disk image lives under this checkout's state directory (production: /var/lib/berth/disks),
# and so do the backups, unless an S3 bucket is configured (production: /var/lib/berth/backups or S3).
export BERTH_DISK_DIR=${BERTH_DISK_DIR:-$BERTH_ROOT/.berth/disks}
export BERTH_BACKUP_DIR=${BERTH_BACKUP_DIR:-$BERTH_ROOT/.berth/backups}
mkdir -p "$BERTH_BACKUP_DIR"
(cd apps/worker && exec pnpm exec tsx src/main.ts) &
pids+=($!)
# The gateway owns the databases' ports and pipes them to each engine's socket inside its volume
# under Docker's data root: it needs to traverse that (root, as here).
(cd apps/worker && exec pnpm exec tsx src/gateway-main.ts) &
pids+=($!)
gateway_url=http://${BERTH_GATEWAY_HTTP_HOST:-127.0.0.1}:${BERTH_GATEWAY_HTTP_PORT:-4002}
say "gateway: databases' ports on ${BERTH_DATABASE_BIND_ADDRESS:-127.0.0.1}; health and metrics at $gateway_url/health, $gateway_url/health/ready, $gateway_url/metrics"
(cd apps/api && exec pnpm exec tsx src/server.ts) &
pids+=($!)
api_url=http://${BERTH_API_HOST:-127.0.0.1}:${BERTH_API_PORT:-4000}
say "api: $api_url  (provider endpoints at /<addon>/resources)"
if [[ -n ${BERTH_ADMIN_USERNAME:-} ]]; then
  say "operator console: $api_url/admin, job queues at $api_url/admin/queues  (user $BERTH_ADMIN_USERNAME; password: BERTH_ADMIN_PASSWORD)"
fi

# Stop everything as soon as one part exits.
wait -n

# Shared steps of scripts/start.sh, scripts/test.sh and scripts/bench.sh. Source it.
# shellcheck shell=bash

BERTH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PNPM_VERSION=12.4.2
# Prisma's CLI phones home for update checks; nothing outside answers here.
export CHECKPOINT_DISABLE=1

say() { printf '[berth] %s\n' "$*" >&2; }

# Node dependencies: pnpm at the pinned version, the workspace installed, the Prisma client generated.
ensure_toolchain() {
  if [[ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]]; then
    say "installing pnpm $PNPM_VERSION"
    npm install --global --no-audit --no-fund "pnpm@$PNPM_VERSION" >/dev/null
  fi
  (cd "$BERTH_ROOT" && pnpm install --frozen-lockfile --reporter=silent)
  (cd "$BERTH_ROOT/packages/db" && pnpm exec prisma generate >/dev/null)
}

# Starts the local services and exports their settings, without overriding
# anything already set in the environment (an operator's own Redis wins).
load_local_services() {
  bash "$BERTH_ROOT/scripts/services.sh" up "$@"
  local line name
  while IFS= read -r line; do
    [[ $line == export\ * ]] || continue
    name=${line#export }
    name=${name%%=*}
    [[ -n ${!name:-} ]] || eval "$line"
  done <"${BERTH_STATE_DIR:-$BERTH_ROOT/.berth}/local.env"
}

# Installs Debian packages whose command is missing: ensure_debian_package COMMAND PACKAGE.
ensure_debian_package() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

# Applies the committed migrations to the database at $1.
migrate() {
  (cd "$BERTH_ROOT/packages/db" && BERTH_DATABASE_URL=$1 pnpm exec prisma migrate deploy >/dev/null)
}

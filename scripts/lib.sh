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
# anything already set in the environment (an operator's own Redis wins). A URL
# that is local.env's own without its password (a shell that sourced the
# local.env of an older services.sh, before Redis and PostgreSQL had passwords)
# is replaced.
load_local_services() {
  bash "$BERTH_ROOT/scripts/services.sh" up
  local line name value
  while IFS= read -r line; do
    [[ $line == export\ * ]] || continue
    name=${line#export }
    value=${name#*=}
    name=${name%%=*}
    if [[ -n ${!name:-} && ${!name} == "$(url_without_password "$value")" && ${!name} != "$value" ]]; then
      say "$name: the environment's URL has no password; using the one of local.env"
    elif [[ -n ${!name:-} ]]; then
      continue
    fi
    eval "$line"
  done <"${BERTH_STATE_DIR:-$BERTH_ROOT/.berth}/local.env"
}

# url_without_password URL: URL without the password of its user (redis://:pw@h → redis://h,
# postgresql://u:pw@h → postgresql://u@h, redis://default:pw@h → redis://h)
url_without_password() {
  local re='^([a-z]+://)([^:@/]*):[^@/]*@(.*)$'
  if [[ $1 =~ $re ]]; then
    local user=${BASH_REMATCH[2]}
    [[ $user != default || ${BASH_REMATCH[1]} != redis://* ]] || user=""
    printf '%s%s%s\n' "${BASH_REMATCH[1]}" "${user:+$user@}" "${BASH_REMATCH[3]}"
  else
    printf '%s\n' "$1"
  fi
}

# psql_url URL ARGS...: psql on the database at URL, its password (if any) passed in PGPASSWORD:
# `ps` shows every process's arguments, a URL with its password included.
psql_url() {
  local url=$1 re='^([a-z]+://)([^:@/]*):([^@/]*)@(.*)$' pass
  shift
  if [[ $url =~ $re ]]; then
    pass=${BASH_REMATCH[3]//\\/\\\\}
    pass=$(printf '%b' "${pass//%/\\x}") # %-decoded
    PGPASSWORD=$pass psql "$(url_without_password "$url")" "$@"
  else
    psql "$url" "$@"
  fi
}

# Installs Debian packages whose command is missing: ensure_debian_package COMMAND PACKAGE.
ensure_debian_package() {
  command -v "$1" >/dev/null 2>&1 && return 0
  say "installing $2 (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

# Installs a Debian package of a Python module Debian's python3 cannot import:
# ensure_debian_python_module MODULE PACKAGE (the client matrix uses Debian's own Python clients).
ensure_debian_python_module() {
  /usr/bin/python3 -c "import $1" >/dev/null 2>&1 && return 0
  ensure_debian_package python3 python3
  say "installing $2 (Debian)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  fi
}

# Host tools the worker runs for each database's disk (an ext4 image on a loop device):
# Debian's e2fsprogs and mount, present on most machines but not guaranteed.
ensure_disk_tools() {
  ensure_debian_package mkfs.ext4 e2fsprogs
  ensure_debian_package resize2fs e2fsprogs
  ensure_debian_package losetup mount
}

# Applies the committed migrations to the database at $1.
migrate() {
  (cd "$BERTH_ROOT/packages/db" && BERTH_DATABASE_URL=$1 pnpm exec prisma migrate deploy >/dev/null)
}

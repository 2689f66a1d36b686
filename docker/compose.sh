#!/usr/bin/env bash
# Runs Docker Compose on docker/compose.yml with whichever Compose this machine has:
# `docker compose` (v2 plugin) or `docker-compose` (v2 standalone, or Debian's v1.29). When
# neither is installed and we are root on Debian, installs Debian's `docker-compose` package.
#
#   docker/compose.sh [compose options] COMMAND [args]   e.g. docker/compose.sh up -d
#   docker/compose.sh --which                            prints the compose command it uses
#
# Options and commands are Compose's own; `-f docker/compose.yml` is added.
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

log() { printf '[compose] %s\n' "$*" >&2; }
die() { printf '[compose] ERROR: %s\n' "$*" >&2; exit 1; }

find_compose() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1 && docker-compose version >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
  else
    return 1
  fi
}

if ! find_compose; then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    die "no Docker Compose here: install the compose plugin, or Debian's docker-compose"
  fi
  log "installing Debian's docker-compose"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 docker-compose >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 docker-compose >/dev/null || die "apt-get install docker-compose failed"
  fi
  find_compose || die "docker-compose does not run after installing it"
fi

if [[ ${1:-} == --which ]]; then
  echo "${COMPOSE[*]}"
  exit 0
fi
exec "${COMPOSE[@]}" -f "$HERE/compose.yml" "$@"

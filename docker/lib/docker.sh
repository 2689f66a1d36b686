# Docker helpers shared by the image builders (docker/build.sh, docker/base, docker/local-images).
# Source it after defining die.
# shellcheck shell=bash

export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}

# require_docker [HINT]: the engine answers, or the script dies (with HINT appended).
require_docker() {
  docker info >/dev/null 2>&1 && return 0
  # a client newer than the daemon that refuses to negotiate: pin the daemon's API version
  local max
  max=$(docker version 2>&1 | sed -n 's/.*[Mm]aximum supported API version is \([0-9.]*\).*/\1/p' | head -n1 || true)
  [[ -z $max ]] || export DOCKER_API_VERSION=$max
  docker info >/dev/null 2>&1 || die "Docker Engine does not answer at $DOCKER_HOST${1:+ ($1)}"
}

# build_context_image TAG DIR: builds DIR (a Dockerfile and its files) as TAG with the classic
# builder (Debian's engine has no buildx), then removes the image TAG named before, if unused.
build_context_image() {
  local tag=$1 dir=$2 old_id new_id out
  old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  if ! out=$(DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$dir" 2>&1); then
    printf '%s\n' "$out" >&2
    die "docker build of $tag failed"
  fi
  new_id=$(docker image inspect --format '{{.Id}}' "$tag")
  if [[ -n $old_id && $old_id != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
}

#!/usr/bin/env bash
# Build Berth's images with the classic builder (no buildx needed):
#
#   docker/build.sh [--local-base] [--rebuild] [--tag TAG] [IMAGE...]
#
#   IMAGE         api, worker, migrate, standin (default: all four)
#   --local-base  build on berth-local/node:20, made from this host's Node 20 by
#                 docker/base/build-node-base.sh, instead of node:20-bookworm-slim: for machines
#                 where no base image can be pulled
#   --rebuild     build even if the images are up to date
#   --tag TAG     image tag (default $BERTH_IMAGE_TAG, or latest)
#
# Images: $BERTH_IMAGE_REPO/<image>:<tag> (default berth/api:latest, berth/worker:latest,
# berth/migrate:latest, berth/standin:latest), from docker/Dockerfile.api (api, standin) and
# docker/Dockerfile.worker (worker, migrate). The build context holds only what the images need
# (root manifests, patches/, prisma/, apps/api, apps/worker, packages/; never node_modules or
# generated files). An image is up to date, and is not built again, when its label
# berth.build-hash matches the digest of that context, both Dockerfiles and the base image.
# The build stage is kept as $BERTH_IMAGE_REPO/build-cache:<tag> so that the next build after a
# source change reuses the downloaded packages; the images it replaces are removed.
#
# Environment: BERTH_NODE_IMAGE (base image, overrides --local-base), BERTH_IMAGE_REPO (berth),
# BERTH_IMAGE_TAG (latest), BERTH_BUILD_NETWORK (host: the build stage reaches the npm registry
# through the host's network; the engine here has no bridge), BERTH_BUILD_LOG (a file that gets
# the builder's output of this run; by default its end is shown only when a build fails).
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

log() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,27s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

LOCAL_BASE=0
REBUILD=0
TAG=${BERTH_IMAGE_TAG:-latest}
REPO=${BERTH_IMAGE_REPO:-berth}
NETWORK=${BERTH_BUILD_NETWORK:-host}
IMAGES=()
while (($#)); do
  case $1 in
    --local-base) LOCAL_BASE=1 ;;
    --rebuild) REBUILD=1 ;;
    --tag) shift; TAG=${1:?--tag needs a value} ;;
    -h | --help) usage ;;
    api | worker | migrate | standin) IMAGES+=("$1") ;;
    *) die "unknown argument: $1 (images: api worker migrate standin)" ;;
  esac
  shift
done
((${#IMAGES[@]})) || IMAGES=(standin api migrate worker)

# One build at a time on this machine: a second one waits, then finds the images up to date.
if command -v flock >/dev/null; then
  exec 9>"${TMPDIR:-/tmp}/berth-docker-build.lock"
  if ! flock -n 9; then
    log "another docker/build.sh is running: waiting for it"
    flock 9
  fi
fi

# image -> Dockerfile and target
dockerfile_of() { case $1 in api | standin) echo "$HERE/Dockerfile.api" ;; worker | migrate) echo "$HERE/Dockerfile.worker" ;; esac; }

# ------------------------------------------------------------------ docker client

# shellcheck source=lib/docker.sh
source "$HERE/lib/docker.sh"
require_docker "start it: scripts/services.sh up"

# ------------------------------------------------------------------ base image

if [[ -n ${BERTH_NODE_IMAGE:-} ]]; then
  NODE_IMAGE=$BERTH_NODE_IMAGE
elif ((LOCAL_BASE)); then
  bash "$HERE/base/build-node-base.sh"
  NODE_IMAGE=$(bash "$HERE/base/build-node-base.sh" --print-tag)
else
  NODE_IMAGE=node:20-bookworm-slim
fi
if ! base_id=$(docker image inspect --format '{{.Id}}' "$NODE_IMAGE" 2>/dev/null); then
  log "pulling $NODE_IMAGE"
  docker pull "$NODE_IMAGE" >/dev/null || die "cannot pull $NODE_IMAGE (no registry here? use --local-base)"
  base_id=$(docker image inspect --format '{{.Id}}' "$NODE_IMAGE")
fi

# ------------------------------------------------------------------ build context

WORK=$(mktemp -d /tmp/berth-build.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
CTX=$WORK/context
mkdir -p "$CTX"
PATHS=(package.json pnpm-lock.yaml pnpm-workspace.yaml patches prisma apps/api apps/worker packages)
cd "$ROOT"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked and new files, as they are in the work tree (deleted ones left out)
  git ls-files -z --cached --others --exclude-standard -- "${PATHS[@]}" |
    while IFS= read -r -d '' f; do [[ -f $f || -L $f ]] && printf '%s\0' "$f"; done >"$WORK/files"
else
  find "${PATHS[@]}" \( -name node_modules -o -path packages/db/src/generated \) -prune -o \( -type f -o -type l \) -print0 >"$WORK/files"
fi
sort -z -o "$WORK/files" "$WORK/files"
[[ -s $WORK/files ]] || die "no source files found under $ROOT"
tar --null -T "$WORK/files" -cf - | tar -xf - -C "$CTX"

HASH=$(
  {
    (cd "$CTX" && xargs -0 sha256sum <"$WORK/files")
    sha256sum "$HERE/Dockerfile.api" "$HERE/Dockerfile.worker" | cut -d' ' -f1
    echo "$base_id"
  } | sha256sum | cut -c1-24
)

# ------------------------------------------------------------------ build

build_log=${BERTH_BUILD_LOG:-$WORK/build.log}
: >"$build_log"

# build DOCKERFILE TARGET IMAGE_TAG [LABEL]
build() {
  local dockerfile=$1 target=$2 tag=$3 label=${4:-} old_id new_id args started=$SECONDS
  old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  args=(--network "$NETWORK" --build-arg "NODE_IMAGE=$NODE_IMAGE" -f "$dockerfile" --target "$target" -t "$tag")
  [[ -z $label ]] || args+=(--label "$label")
  printf '\n==== docker build %s (%s)\n' "$tag" "$(date -u +%FT%TZ)" >>"$build_log"
  if ! DOCKER_BUILDKIT=0 docker build "${args[@]}" "$CTX" >>"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    die "docker build of $tag failed (log: ${BERTH_BUILD_LOG:-its end is shown above})"
  fi
  new_id=$(docker image inspect --format '{{.Id}}' "$tag")
  if [[ -n $old_id && $old_id != "$new_id" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true # the image it replaces, unless a container uses it
  fi
  log "built $tag in $((SECONDS - started)) s ($(($(docker image inspect --format '{{.Size}}' "$tag") / 1000000)) MB)"
}

todo=()
for image in "${IMAGES[@]}"; do
  tag=$REPO/$image:$TAG
  if ((!REBUILD)) && [[ $(docker image inspect --format '{{index .Config.Labels "berth.build-hash"}}' "$tag" 2>/dev/null || true) == "$HASH" ]]; then
    log "$tag is up to date ($HASH)"
  else
    todo+=("$image")
  fi
done
((${#todo[@]})) || exit 0

log "building ${todo[*]} on $NODE_IMAGE (context $(du -sh "$CTX" | cut -f1), digest $HASH)"
started=$SECONDS
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# The shared build stage first, kept under a tag: both Dockerfiles reuse it from the cache.
build "$HERE/Dockerfile.api" build "$REPO/build-cache:$TAG"
for image in "${todo[@]}"; do
  build "$(dockerfile_of "$image")" "$image" "$REPO/$image:$TAG" "berth.build-hash=$HASH"
done
# Images this build left untagged, only ours (label berth.stage): the build stages it replaced,
# made before it started (never a concurrent build's layers), and the runtime stages it built on
# the way to another target (standin before api, migrate before worker) without tagging them.
docker image prune --force --filter label=berth.stage=build --filter "until=$started_at" >/dev/null 2>&1 || true
docker image prune --force --filter label=berth.stage=runtime >/dev/null 2>&1 || true
log "done in $((SECONDS - started)) s"

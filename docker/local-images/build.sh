#!/usr/bin/env bash
# Build a local database image from the HOST's installed binaries: no base image can be pulled
# here, so the image is a root filesystem made of the engine's binaries, /bin/sh (dash), the few
# tools its entrypoint uses and every library `ldd` lists for them, built `FROM scratch`.
#
#   docker/local-images/build.sh <addon> [--rebuild] [--print-tag] [--tag TAG]
#
#   addon       an installed addon with a local image (the registry, packages/addons, lists them:
#               its definition's `localImage` names the tag and the recipe)
#   --rebuild   build even if the image is up to date (default: keep an image built by this recipe)
#   --print-tag print the image tag and exit
#   --tag TAG   build as TAG instead (e.g. to compare a recipe change with the image in use)
#
# This script is generic: what goes into an image is the addon's recipe, a bash file in its
# package (packages/addon-<id>/image/recipe.sh, beside its docker-entrypoint.sh), sourced here.
# A recipe defines one function, `recipe_rootfs`, which fills $ROOTFS and sets:
#   ENGINE_VERSION     the engine's version (label berth.engine-version)
#   DOCKERFILE_EXTRA   the Dockerfile lines after `FROM scratch` / `ADD rootfs.tar /` (ENV,
#                      VOLUME, ENTRYPOINT, CMD, ...)
# with these helpers and variables:
#   need_pkg FILE PKG...    install Debian's PKG(s) unless FILE exists (the host's packages)
#   base_rootfs USER UID HOME   merged-/usr layout, dash as /bin/sh, the entrypoints' tools, passwd
#   add_bin FILE...         binaries and every library ldd lists for them
#   add_path PATH           a file, directory or symlink chain, at the same path
#   libs_of FILE...         the libraries ldd lists (e.g. for plugins copied by hand)
#   add_zoneinfo, add_locale    time zone data (UTC local time), the C.UTF-8 locale
#   log MESSAGE, die MESSAGE
#   ROOTFS                  the image's root filesystem being made
#   RECIPE_DIR              the recipe's directory (its docker-entrypoint.sh is there)
#   WORK                    a scratch directory, removed afterwards (build-time template steps:
#                           e.g. initdb of a template cluster, run on the host's own binaries)
# The image carries the labels berth.local-image=true, berth.engine, berth.engine-version and
# berth.recipe (the digest of this script, its helpers and the recipe's directory: an image made
# by another recipe is built again). Each image honours the environment contract of the matching
# official image so that the addon code is the same with either. Missing host packages are
# installed with apt-get (root).
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[build %s] %s\n' "${ENGINE:-?}" "$*" >&2; }
die() { printf '[build %s] ERROR: %s\n' "${ENGINE:-?}" "$*" >&2; exit 1; }
usage() { sed -n '5,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

ENGINE=""
REBUILD=0
PRINT_TAG=0
TAG=""
while (($#)); do
  case $1 in
    --rebuild) REBUILD=1 ;;
    --print-tag) PRINT_TAG=1 ;;
    --tag) (($# > 1)) || die "--tag needs a value"; TAG=$2; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option: $1" ;;
    *) [[ -z $ENGINE ]] || die "only one engine at a time"; ENGINE=$1 ;;
  esac
  shift
done
[[ -n $ENGINE ]] || usage

# shellcheck source=../lib/addons.sh
source "$HERE/../lib/addons.sh"
RECIPE="" known=()
while IFS=$'\t' read -r id _prefix tag recipe; do
  [[ $tag == - ]] && continue
  known+=("$id")
  if [[ $id == "$ENGINE" ]]; then
    [[ -n $TAG ]] || TAG=$tag
    RECIPE=$recipe
  fi
done < <(addons_list)
[[ -n $RECIPE ]] || die "no installed addon '$ENGINE' with a local image (known: ${known[*]})"
[[ -f $RECIPE ]] || die "the recipe of $ENGINE is missing: $RECIPE"
RECIPE_DIR=$(cd "$(dirname "$RECIPE")" && pwd)
if ((PRINT_TAG)); then
  echo "$TAG"
  exit 0
fi

# ------------------------------------------------------------------ docker client

# shellcheck source=../lib/docker.sh
source "$HERE/../lib/docker.sh"
require_docker "start it: scripts/services.sh up"

# The recipe's digest (this script, its helpers, the recipe's directory: its entrypoint) is a label
# of the image: an image built by an older recipe is built again, so a changed entrypoint always lands.
DIGEST=$(cat "${BASH_SOURCE[0]}" "$HERE"/../lib/*.sh "$RECIPE_DIR"/* | sha256sum | cut -c1-16)
if ((!REBUILD)) && [[ $(docker image inspect --format '{{index .Config.Labels "berth.recipe"}}' "$TAG" 2>/dev/null) == "$DIGEST" ]]; then
  log "image $TAG is up to date (use --rebuild to build it again)"
  exit 0
fi

# ------------------------------------------------------------------ host packages

APT_UPDATED=0
need_pkg() { # need_pkg FILE PACKAGE...: install PACKAGE(s) unless FILE exists
  local file=$1; shift
  [[ -e $file ]] && return 0
  [[ $(id -u) == 0 ]] || die "$file is missing; install $* (needs root)"
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "$@" >/dev/null ||
    die "apt-get install $* failed"
  [[ -e $file ]] || die "$file is still missing after installing $*"
}

# ------------------------------------------------------------------ root filesystem helpers

WORK=$(mktemp -d /tmp/berth-image-"$ENGINE".XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"

# shellcheck source=../lib/rootfs.sh
source "$HERE/../lib/rootfs.sh"

# base_rootfs USER UID HOME: merged-/usr layout, /bin/sh = dash, tools the entrypoints use,
# /etc/passwd and /etc/group with root and the engine user, /tmp 1777, UTC as local time.
base_rootfs() {
  local user=$1 uid=$2 home=$3 d
  mkdir -p "$ROOTFS"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,tmp,root,var/lib,run,usr/local/bin,dev,proc,sys}
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOTFS/$d"; done
  ln -s ../run "$ROOTFS/var/run"
  chmod 1777 "$ROOTFS/tmp"
  chmod 700 "$ROOTFS/root"
  add_bin /usr/bin/dash /usr/bin/setpriv
  add_bin /usr/bin/{cat,chmod,chown,date,id,locale,ls,mkdir,rm,sleep}
  ln -s dash "$ROOTFS/usr/bin/sh"
  cat >"$ROOTFS/etc/passwd" <<PASSWD
root:x:0:0:root:/root:/bin/sh
$user:x:$uid:$uid:$user:$home:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
  cat >"$ROOTFS/etc/group" <<GROUP
root:x:0:
$user:x:$uid:
nogroup:x:65534:
GROUP
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"
  : >"$ROOTFS/etc/hosts"
  : >"$ROOTFS/etc/resolv.conf"
  mkdir -p "$ROOTFS$home"
  chown "$uid:$uid" "$ROOTFS$home"
}

add_zoneinfo() {
  mkdir -p "$ROOTFS/usr/share"
  cp -a /usr/share/zoneinfo "$ROOTFS/usr/share/"
  rm -rf "$ROOTFS/usr/share/zoneinfo/right"
  ln -sf /usr/share/zoneinfo/Etc/UTC "$ROOTFS/etc/localtime"
  echo Etc/UTC >"$ROOTFS/etc/timezone"
}
add_locale() { add_path /usr/lib/locale/C.utf8; }

# ------------------------------------------------------------------ the recipe

DOCKERFILE_EXTRA=()
ENGINE_VERSION=""
# shellcheck source=/dev/null # the addon's recipe: packages/addon-<id>/image/recipe.sh
source "$RECIPE"
declare -F recipe_rootfs >/dev/null || die "$RECIPE defines no recipe_rootfs function"

# ------------------------------------------------------------------ build

recipe_rootfs
[[ -n $ENGINE_VERSION ]] || die "$RECIPE did not set ENGINE_VERSION"

mkdir -p "$WORK/context"
tar --numeric-owner -C "$ROOTFS" -cf "$WORK/context/rootfs.tar" .
{
  echo "FROM scratch"
  echo "ADD rootfs.tar /"
  echo "LABEL berth.local-image=true berth.engine=$ENGINE berth.engine-version=$ENGINE_VERSION berth.recipe=$DIGEST"
  printf '%s\n' "${DOCKERFILE_EXTRA[@]}"
} >"$WORK/context/Dockerfile"

log "building $TAG ($ENGINE $ENGINE_VERSION, root filesystem $(du -sm "$ROOTFS" | cut -f1) MB)"
build_context_image "$TAG" "$WORK/context"
new_id=$(docker image inspect --format '{{.Id}}' "$TAG")
size=$(docker image inspect --format '{{.Size}}' "$TAG")
log "built $TAG (${new_id:7:12}, $((size / 1000000)) MB)"

#!/usr/bin/env bash
# Build a local stand-in for `node:20-bookworm-slim` from the HOST's Node.js 20 install, for
# machines where no base image can be pulled. The image is a root filesystem built `FROM
# scratch` out of the host's files: node, npm and corepack, /bin/sh (dash) and bash, coreutils,
# grep, sed, find/xargs, tar, gzip, the C and C++ runtime libraries (every libc6 library, so that
# native binaries installed later, such as pnpm's, find theirs), the host's CA certificates, and
# /etc/passwd with root and `node` (uid/gid 1000, home /home/node) as in the official image.
# The Dockerfiles of docker/ build on it unchanged: `--build-arg NODE_IMAGE=berth-local/node:20`.
#
#   docker/base/build-node-base.sh [--rebuild] [--print-tag]
#
#   --rebuild    build even if an up-to-date image exists (default: keep it)
#   --print-tag  print the image tag and exit
#
# An image is up to date when its labels name the host's Node version and this script's
# checksum. The image carries the label berth.local-image=true. Needs Node 20 at /usr/bin/node
# or on PATH (Debian/NodeSource package layout: npm in <prefix>/lib/node_modules/npm).
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
TAG=${BERTH_NODE_BASE_TAG:-berth-local/node:20}

log() { printf '[node-base] %s\n' "$*" >&2; }
die() { printf '[node-base] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '10,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

REBUILD=0
for a in "$@"; do
  case $a in
    --rebuild) REBUILD=1 ;;
    --print-tag) echo "$TAG"; exit 0 ;;
    -h | --help) usage ;;
    *) die "unknown argument: $a" ;;
  esac
done

# ------------------------------------------------------------------ the host's Node

NODE_BIN=$(readlink -f "$(command -v node || true)")
[[ -x $NODE_BIN ]] || die "node is not installed on this host"
NODE_VERSION=$("$NODE_BIN" -p process.versions.node)
[[ $NODE_VERSION == 20.* ]] || die "the host's node is $NODE_VERSION; this base stands in for node:20 (install Node 20)"
NODE_PREFIX=$(dirname "$(dirname "$NODE_BIN")") # /usr for /usr/bin/node
NPM_DIR=$NODE_PREFIX/lib/node_modules/npm
COREPACK_DIR=$NODE_PREFIX/lib/node_modules/corepack
[[ -f $NPM_DIR/bin/npm-cli.js ]] || die "npm not found at $NPM_DIR"
SCRIPT_SUM=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

# ------------------------------------------------------------------ docker client

# shellcheck source=../lib/docker.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/docker.sh"
require_docker "start it: scripts/services.sh up"

if ((!REBUILD)); then
  labels=$(docker image inspect --format '{{index .Config.Labels "berth.node-version"}} {{index .Config.Labels "berth.script-sum"}}' "$TAG" 2>/dev/null || true)
  if [[ $labels == "$NODE_VERSION $SCRIPT_SUM" ]]; then
    log "image $TAG is up to date (node $NODE_VERSION; --rebuild to build it again)"
    exit 0
  fi
fi

# ------------------------------------------------------------------ root filesystem

WORK=$(mktemp -d /tmp/berth-node-base.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"

# shellcheck source=../lib/rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/rootfs.sh"

# merged-/usr layout, as Debian 12
mkdir -p "$ROOTFS"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,usr/local/lib,etc/ssl/certs,tmp,root,home,var/tmp,run,dev,proc,sys}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOTFS/$d"; done
ln -s ../run "$ROOTFS/var/run"
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp"
chmod 700 "$ROOTFS/root"

# shells and the everyday tools a Dockerfile's RUN lines and npm's lifecycle scripts use
add_bin /usr/bin/dash /usr/bin/bash
ln -sf dash "$ROOTFS/usr/bin/sh"
mapfile -t tools < <(dpkg -L coreutils findutils grep sed tar gzip 2>/dev/null | grep -E '^/(usr/)?s?bin/[^/]+$' | sort -u)
((${#tools[@]} > 50)) || die "dpkg -L found too few tools (coreutils, findutils, grep, sed, tar, gzip installed?)"
for f in "${tools[@]}"; do
  if [[ -e $f ]]; then add_path "$f"; fi
done
mapfile -t tool_files < <(for f in "${tools[@]}"; do [[ -f $f && ! -L $f ]] && echo "$f"; done)
for f in $(libs_of "${tool_files[@]}"); do add_path "$f"; done
add_bin /usr/bin/getent

# every library of the C library package (loader, libc, libm, librt, libresolv, NSS modules...)
# and the C++ runtime: what a native binary built for Debian expects to find
mapfile -t clibs < <(dpkg -L libc6 libstdc++6 libgcc-s1 2>/dev/null | grep -E '\.so(\.[0-9]+)*$' | grep -v -e /gconv/ -e libmemusage -e libpcprofile -e libc_malloc_debug)
((${#clibs[@]} > 10)) || die "dpkg -L libc6 found no libraries"
for f in "${clibs[@]}"; do
  if [[ -e $f ]]; then add_path "$f"; fi
done

# Node, npm and corepack where the official image has them
for f in $(libs_of "$NODE_BIN"); do add_path "$f"; done
cp -a "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
mkdir -p "$ROOTFS/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOTFS/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
if [[ -f $COREPACK_DIR/dist/corepack.js ]]; then
  cp -a "$COREPACK_DIR" "$ROOTFS/usr/local/lib/node_modules/corepack"
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$ROOTFS/usr/local/bin/corepack"
fi
# The host's CA certificates: Node trusts them through NODE_EXTRA_CA_CERTS (set in the image), so
# the build stage reaches the npm registry through whatever TLS proxy the host itself trusts.
[[ -f /etc/ssl/certs/ca-certificates.crt ]] || die "/etc/ssl/certs/ca-certificates.crt is missing (apt-get install ca-certificates)"
cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"

# users and name resolution, as in node:20-bookworm-slim
cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/bash
node:x:1000:1000::/home/node:/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$ROOTFS/etc/nsswitch.conf"
: >"$ROOTFS/etc/hosts"
: >"$ROOTFS/etc/resolv.conf"
if [[ -f /usr/lib/os-release ]]; then
  cp /usr/lib/os-release "$ROOTFS/usr/lib/os-release"
  ln -s ../usr/lib/os-release "$ROOTFS/etc/os-release"
fi
mkdir -p "$ROOTFS/home/node"
chown 1000:1000 "$ROOTFS/home/node"
chmod 755 "$ROOTFS/home/node"

# ------------------------------------------------------------------ build

mkdir -p "$WORK/context"
tar --numeric-owner -C "$ROOTFS" -cf "$WORK/context/rootfs.tar" .
cat >"$WORK/context/Dockerfile" <<DOCKERFILE
FROM scratch
ADD rootfs.tar /
LABEL berth.local-image=true berth.node-version=$NODE_VERSION berth.script-sum=$SCRIPT_SUM
ENV NODE_VERSION=$NODE_VERSION \\
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
DOCKERFILE

log "building $TAG (node $NODE_VERSION, root filesystem $(du -sm "$ROOTFS" | cut -f1) MB)"
build_context_image "$TAG" "$WORK/context"
# smoke test: node runs, npm runs, the node user exists
docker run --rm --network none --user node "$TAG" sh -c 'node -e "process.exit(0)" && npm --version >/dev/null && [ "$(id -un)" = node ]' ||
  die "the image $TAG does not run node/npm as the node user"
new_id=$(docker image inspect --format '{{.Id}}' "$TAG")
size=$(docker image inspect --format '{{.Size}}' "$TAG")
log "built $TAG (${new_id:7:12}, $((size / 1000000)) MB)"

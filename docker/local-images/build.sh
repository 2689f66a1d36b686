#!/usr/bin/env bash
# Build a local database image from the HOST's installed binaries: no base image can be pulled
# here, so the image is a root filesystem made of the engine's binaries, /bin/sh (dash), the few
# tools its entrypoint uses and every library `ldd` lists for them, built `FROM scratch`.
#
#   docker/local-images/build.sh <engine> [--rebuild] [--print-tag]
#
#   engine      postgresql   berth-local/postgresql:15    (Debian's postgresql-15)
#               mysql        berth-local/mariadb:10.11    (Debian's mariadb-server)
#               redis        berth-local/redis:7          (Debian's redis-server)
#   --rebuild   build even if the image is up to date (default: keep an image built by this recipe)
#   --print-tag print the image tag and exit
#
# Each image honours the environment contract of the matching official image (postgres,
# mariadb, redis) so that the addon code is the same with either. Images carry the label
# berth.local-image=true. Missing host packages are installed with apt-get (root).
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[build %s] %s\n' "${ENGINE:-?}" "$*" >&2; }
die() { printf '[build %s] ERROR: %s\n' "${ENGINE:-?}" "$*" >&2; exit 1; }
usage() { sed -n '5,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }

ENGINE=""
REBUILD=0
PRINT_TAG=0
for a in "$@"; do
  case $a in
    --rebuild) REBUILD=1 ;;
    --print-tag) PRINT_TAG=1 ;;
    -h | --help) usage ;;
    -*) die "unknown option: $a" ;;
    *) [[ -z $ENGINE ]] || die "only one engine at a time"; ENGINE=$a ;;
  esac
done
[[ -n $ENGINE ]] || usage

case $ENGINE in
  postgresql) TAG=berth-local/postgresql:15 ;;
  mysql) TAG=berth-local/mariadb:10.11 ;;
  redis) TAG=berth-local/redis:7 ;;
  *) die "unknown engine '$ENGINE' (known: postgresql, mysql, redis)" ;;
esac
if ((PRINT_TAG)); then
  echo "$TAG"
  exit 0
fi

# ------------------------------------------------------------------ docker client

# shellcheck source=../lib/docker.sh
source "$HERE/../lib/docker.sh"
require_docker "start it: scripts/services.sh up"

# The recipe's digest (this script, its helpers, the engine's entrypoint) is a label of the image:
# an image built by an older recipe is built again, so a changed entrypoint always lands.
RECIPE=$(cat "${BASH_SOURCE[0]}" "$HERE"/../lib/*.sh "$HERE/$ENGINE"/* | sha256sum | cut -c1-16)
if ((!REBUILD)) && [[ $(docker image inspect --format '{{index .Config.Labels "berth.recipe"}}' "$TAG" 2>/dev/null) == "$RECIPE" ]]; then
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

# ------------------------------------------------------------------ engines

DOCKERFILE_EXTRA=()
ENGINE_VERSION=""

# template_cluster_postgresql PGBIN DIR: in DIR (owned by uid 999, mode 700), the cluster that
# the entrypoint's initdb makes for the default settings, plus the marker file `berth-template`.
# The image's data directory is its volume: Docker copies this into every new named volume at
# its first mount, and the entrypoint then only adds the user and the database (one single-user
# session) instead of running initdb, which made most of a first start. See the header of
# postgresql/docker-entrypoint.sh. initdb runs here on the host's own binaries and share files
# (the very ones the image gets) as the host's postgres user: initdb needs a user name, and uid
# 999 has none on the host; the files then go to 999. The time zone is the image's (Etc/UTC),
# as initdb writes it into postgresql.conf. No fsync (--no-sync): the files go into a layer.
# Nothing is left out: each file is one PostgreSQL expects, and a volume made from the template
# ends up as large as one made by initdb (46 MB, 1,267 files after the first start). Docker's
# copy costs by the file rather than by the byte: measured here, 0.1-0.35 ms a file (with the
# load), against ~45 ms for a single 39 MB file. The free space and visibility maps (232 of the
# 967 files) could go, as PostgreSQL rebuilds them, for 25-90 ms less; they stay, so that the
# cluster is exactly what initdb makes.
# All the volumes made from one image build share its database system identifier (pg_control):
# nothing uses it without physical replication or WAL archiving, and a rebuild makes a new one.
template_cluster_postgresql() {
  local pgbin=$1 dir=$2 stage out
  id -u postgres >/dev/null 2>&1 || die "the host has no postgres user to run initdb as"
  stage=$WORK/pg-template
  chmod 711 "$WORK" # for the postgres user, only while initdb runs
  install -d -o postgres -m 700 "$stage"
  if ! out=$(env -i PATH=/usr/bin:/bin LANG=C.UTF-8 TZ=Etc/UTC \
    setpriv --reuid=postgres --regid=postgres --init-groups \
    "$pgbin/initdb" --pgdata="$stage/data" --username=postgres \
    --auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C.UTF-8 \
    --no-instructions --no-sync 2>&1); then
    printf '%s\n' "$out" >&2
    die "initdb of the template cluster failed"
  fi
  chmod 700 "$WORK"
  # what the entrypoint adds after initdb (POSTGRES_HOST_AUTH_METHOD=scram-sha-256)
  printf '\nhost all all all scram-sha-256\n' >>"$stage/data/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$stage/data/postgresql.conf"
  cat >"$stage/data/berth-template" <<'MARKER'
Template cluster of berth-local/postgresql, made by initdb at image build time: no
POSTGRES_USER role, POSTGRES_DB database nor password yet. The image's entrypoint adds them at
the first start and then removes this file.
MARKER
  chmod 600 "$stage/data/berth-template"
  chown -R 999:999 "$stage/data"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$stage/data" "$dir"
  rmdir "$stage"
}

rootfs_postgresql() {
  local pgbin=/usr/lib/postgresql/15/bin pglib=/usr/lib/postgresql/15/lib pgshare=/usr/share/postgresql/15 f libs so=()
  need_pkg "$pgbin/postgres" postgresql-15
  ENGINE_VERSION=$("$pgbin/postgres" --version | awk '{print $3}')
  base_rootfs postgres 999 /var/lib/postgresql
  for f in postgres initdb pg_ctl psql pg_isready pg_dump pg_dumpall pg_restore pg_basebackup \
    pg_controldata pg_resetwal createdb createuser dropdb dropuser vacuumdb; do
    add_bin "$pgbin/$f"
  done
  ln -s postgres "$ROOTFS$pgbin/postmaster"
  # server modules (contrib extensions, encodings, plpgsql); not the LLVM JIT (libLLVM alone
  # is ~100 MB: without llvmjit.so the server simply runs with jit unavailable)
  mkdir -p "$ROOTFS$pglib"
  for f in "$pglib"/*.so; do
    [[ $(basename "$f") == llvmjit* ]] && continue
    cp -a "$f" "$ROOTFS$pglib/"
    so+=("$f")
  done
  libs=$(libs_of "${so[@]}")
  for f in $libs; do add_path "$f"; done
  mkdir -p "$ROOTFS/usr/share/postgresql"
  cp -a "$pgshare" "$ROOTFS/usr/share/postgresql/"
  rm -rf "$ROOTFS$pgshare/man"
  add_zoneinfo # Debian's build uses the system time zone data
  add_locale   # initdb --locale=C.UTF-8
  template_cluster_postgresql "$pgbin" "$ROOTFS/var/lib/postgresql/data"
  install -d -o 999 -g 999 -m 3777 "$ROOTFS/run/postgresql"
  install -d -m 755 "$ROOTFS/docker-entrypoint-initdb.d"
  install -m 755 "$HERE/postgresql/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV PATH=$pgbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "ENV PG_MAJOR=15 PG_VERSION=$ENGINE_VERSION LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data"
    "VOLUME /var/lib/postgresql/data"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "STOPSIGNAL SIGINT"
    "EXPOSE 5432"
    'CMD ["postgres"]'
  )
}

# template_datadir_mysql DIR: in DIR (owned by uid 999, mode 755), the system tables that the
# entrypoint's `mariadbd --bootstrap` makes (same SQL, same options, the image's my.cnf), plus
# the empty database berth_setup_pending that says the accounts are still to be made. Docker
# copies this into every new named volume at its first mount, and the entrypoint then only has
# the server create the accounts at its first start (--init-file, as before) instead of
# bootstrapping, which made most of a first start. See mysql/docker-entrypoint.sh. The
# bootstrap runs here on the host's own mariadbd (the very binary the image gets) as uid 999,
# with the image's my.cnf minus its include of conf.d. The redo log is made at its smallest
# (4 MB, not 96): the server resizes it at its first start in ~25 ms (the file is allocated,
# not written), where Docker would copy 96 MB of zeros into each volume.
template_datadir_mysql() {
  local dir=$1 stage=$WORK/mysql-template out
  grep -v '^!includedir' "$ROOTFS/etc/mysql/my.cnf" >"$WORK/bootstrap.cnf"
  chmod 644 "$WORK/bootstrap.cnf"
  chmod 711 "$WORK" # for uid 999, only while mariadbd runs
  install -d -o 999 -g 999 -m 700 "$stage"
  install -d -o 999 -g 999 -m 755 "$stage/data"
  if ! out=$(env -i PATH=/usr/bin:/bin LANG=C.UTF-8 TZ=Etc/UTC \
    setpriv --reuid=999 --regid=999 --clear-groups \
    /usr/sbin/mariadbd --defaults-file="$WORK/bootstrap.cnf" --bootstrap --datadir="$stage/data" \
    --log-warnings=0 --enforce-storage-engine= --skip-log-bin --max_allowed_packet=8M \
    --net_buffer_length=16K --innodb-log-file-size=4M \
    <"$ROOTFS/usr/share/mysql/berth-bootstrap.sql" 2>&1 >/dev/null); then
    printf '%s\n' "$out" >&2
    die "mariadbd --bootstrap of the template failed"
  fi
  chmod 700 "$WORK"
  install -d -o 999 -g 999 -m 700 "$stage/data/berth_setup_pending"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$stage/data" "$dir"
  rmdir "$stage"
}

rootfs_mysql() {
  local share=/usr/share/mysql plugdir=/usr/lib/mysql/plugin f libs so=()
  need_pkg /usr/sbin/mariadbd mariadb-server
  ENGINE_VERSION=$(/usr/sbin/mariadbd --version | sed -n 's/.* Ver \([0-9.]*\).*/\1/p')
  base_rootfs mysql 999 /var/lib/mysql
  add_bin /usr/sbin/mariadbd /usr/bin/{mariadb,mariadb-admin,mariadb-dump} /usr/bin/sync
  ln -s mariadbd "$ROOTFS/usr/sbin/mysqld"
  ln -s mariadb "$ROOTFS/usr/bin/mysql"
  ln -s mariadb-admin "$ROOTFS/usr/bin/mysqladmin"
  ln -s mariadb-dump "$ROOTFS/usr/bin/mysqldump"
  mkdir -p "$ROOTFS$plugdir"
  for f in "$plugdir"/*.so; do
    cp -a "$f" "$ROOTFS$plugdir/"
    so+=("$f")
  done
  libs=$(libs_of "${so[@]}")
  for f in $libs; do add_path "$f"; done
  # character sets and error messages (all languages: lc_messages may be set)
  mkdir -p "$ROOTFS$share"
  for f in "$share"/*; do
    [[ -d $f ]] && cp -a "$f" "$ROOTFS$share/"
  done
  # the system tables, as `mariadb-install-db --cross-bootstrap --auth-root-authentication-method=normal
  # --skip-test-db` feeds them to `mariadbd --bootstrap` (minus the help tables)
  {
    echo "create database if not exists mysql;"
    echo "use mysql;"
    echo "SET @auth_root_socket=NULL;"
    cat "$share/mysql_system_tables.sql" "$share/mysql_performance_tables.sql"
    grep -v '@current_hostname' "$share/mysql_system_tables_data.sql"
    cat "$share/maria_add_gis_sp_bootstrap.sql" "$share/mysql_sys_schema.sql"
  } >"$ROOTFS$share/berth-bootstrap.sql"
  add_zoneinfo
  mkdir -p "$ROOTFS/etc/mysql/conf.d"
  cat >"$ROOTFS/etc/mysql/my.cnf" <<'CNF'
# berth-local/mariadb: like the official image (no host cache, no name resolution, utf8mb4)
[client-server]
socket = /run/mysqld/mysqld.sock

[mariadbd]
datadir = /var/lib/mysql
host-cache-size = 0
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci

!includedir /etc/mysql/conf.d/
CNF
  template_datadir_mysql "$ROOTFS/var/lib/mysql"
  install -d -o 999 -g 999 -m 1777 "$ROOTFS/run/mysqld"
  install -d -m 755 "$ROOTFS/docker-entrypoint-initdb.d"
  install -m 755 "$HERE/mysql/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV MARIADB_VERSION=$ENGINE_VERSION LANG=C.UTF-8"
    "VOLUME /var/lib/mysql"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "EXPOSE 3306"
    'CMD ["mariadbd"]'
  )
}

rootfs_redis() {
  need_pkg /usr/bin/redis-server redis-server
  ENGINE_VERSION=$(/usr/bin/redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  base_rootfs redis 999 /data
  add_bin /usr/bin/redis-server /usr/bin/redis-cli
  ln -s redis-check-rdb "$ROOTFS/usr/bin/redis-check-aof" 2>/dev/null || true
  install -d -o 999 -g 999 -m 755 "$ROOTFS/data"
  install -m 755 "$HERE/redis/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV REDIS_VERSION=$ENGINE_VERSION"
    "VOLUME /data"
    "WORKDIR /data"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "EXPOSE 6379"
    'CMD ["redis-server"]'
  )
}

# ------------------------------------------------------------------ build

"rootfs_$ENGINE"

mkdir -p "$WORK/context"
tar --numeric-owner -C "$ROOTFS" -cf "$WORK/context/rootfs.tar" .
{
  echo "FROM scratch"
  echo "ADD rootfs.tar /"
  echo "LABEL berth.local-image=true berth.engine=$ENGINE berth.engine-version=$ENGINE_VERSION berth.recipe=$RECIPE"
  printf '%s\n' "${DOCKERFILE_EXTRA[@]}"
} >"$WORK/context/Dockerfile"

log "building $TAG ($ENGINE $ENGINE_VERSION, root filesystem $(du -sm "$ROOTFS" | cut -f1) MB)"
build_context_image "$TAG" "$WORK/context"
new_id=$(docker image inspect --format '{{.Id}}' "$TAG")
size=$(docker image inspect --format '{{.Size}}' "$TAG")
log "built $TAG (${new_id:7:12}, $((size / 1000000)) MB)"

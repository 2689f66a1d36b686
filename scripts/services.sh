#!/usr/bin/env bash
# Berth local services: Docker Engine, Redis and the PostgreSQL 15 control plane, plus the
# locally built database images (no registry can be reached, so images are built from the
# host's own binaries by docker/local-images/build.sh).
#
#   scripts/services.sh up [--rebuild]   install what is missing, start what is not running,
#                                         build missing images, write $BERTH_STATE_DIR/local.env
#   scripts/services.sh down             stop only what `up` started (pid files)
#   scripts/services.sh status           one line per service
#
# Environment (all optional):
#   BERTH_STATE_DIR             state dir (default <repo>/.berth): pids/, logs/, postgres/, local.env
#   BERTH_LOCAL_REDIS_PORT      Redis port (default 6390)
#   BERTH_LOCAL_POSTGRES_PORT   PostgreSQL control-plane port (default 5433)
#   BERTH_LOCAL_POSTGRES_DATA   PostgreSQL data dir (default $BERTH_STATE_DIR/postgres, or under
#                               /var/lib/berth-local/ if the postgres OS user cannot reach it)
#   BERTH_LOCAL_DOCKER_SOCK     Docker socket (default /var/run/docker.sock; another path starts a
#                               private engine with data under $BERTH_STATE_DIR/docker, for tests)
#   BERTH_LOCAL_IMAGES          addons whose local image `up` builds (default: every installed addon
#                               with a local image; set but empty: none, e.g. for tests of this script)
#
# The installed addons come from the registry (packages/addons, through docker/lib/addons.sh):
# `up` writes each one's manifest credentials and SSO salt into local.env, and the image of each
# addon whose local image it builds. This needs the workspace installed (pnpm install).
#
# Idempotent: running `up` twice reuses what already answers. Everything listens on 127.0.0.1.
# Redis and PostgreSQL have passwords, generated once into local.env (inside BERTH_REDIS_URL and
# BERTH_DATABASE_URL); PostgreSQL asks for it on every connection, TCP or unix socket
# (scram-sha-256). A Redis or PostgreSQL started by an older `up` without them (trust auth, no
# requirepass) is locked in place, its data kept. Passwords never appear on a command line.
set -euo pipefail

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH:-}"

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
STATE_DIR=${BERTH_STATE_DIR:-$REPO_ROOT/.berth}
REDIS_PORT=${BERTH_LOCAL_REDIS_PORT:-6390}
PG_PORT=${BERTH_LOCAL_POSTGRES_PORT:-5433}
PG_BIN=/usr/lib/postgresql/15/bin
PG_DBS=(berth berth_test)
DOCKER_SOCK=${BERTH_LOCAL_DOCKER_SOCK:-/var/run/docker.sock}
export DOCKER_HOST=unix://$DOCKER_SOCK
BUILD_SH=$REPO_ROOT/docker/local-images/build.sh

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# The installed addons (the registry): ADDONS (ids, in the registry's order), and per id its
# environment prefix and local image tag (`-`: none).
# shellcheck source=../docker/lib/addons.sh
source "$REPO_ROOT/docker/lib/addons.sh"
ADDONS=()
declare -A ADDON_ENV_PREFIX=() ADDON_LOCAL_TAG=()
load_addons() {
  local id prefix tag _recipe
  while IFS=$'\t' read -r id prefix tag _recipe; do
    ADDONS+=("$id")
    ADDON_ENV_PREFIX[$id]=$prefix
    ADDON_LOCAL_TAG[$id]=$tag
  done < <(addons_list)
  ((${#ADDONS[@]})) || die "the registry lists no addon"
  local default=() e
  for e in "${ADDONS[@]}"; do [[ ${ADDON_LOCAL_TAG[$e]} == - ]] || default+=("$e"); done
  if [[ -n ${BERTH_LOCAL_IMAGES+set} ]]; then read -r -a ENGINES <<<"$BERTH_LOCAL_IMAGES"; else ENGINES=("${default[@]}"); fi
  for e in "${ENGINES[@]}"; do
    [[ -n ${ADDON_LOCAL_TAG[$e]:-} && ${ADDON_LOCAL_TAG[$e]} != - ]] ||
      die "BERTH_LOCAL_IMAGES: '$e' is no installed addon with a local image (those are: ${default[*]})"
  done
}
ENGINES=()

for p in "$REDIS_PORT" "$PG_PORT"; do
  if ! [[ $p =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "invalid port: '$p'"; fi
done

mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
PIDS=$STATE_DIR/pids
LOGS=$STATE_DIR/logs
# PostgreSQL runs as the postgres OS user, which must reach its data dir. When the state dir is
# not reachable for it (e.g. a clone under /root, mode 700), the data dir goes to
# /var/lib/berth-local/<checksum of the state dir path>/postgres instead (and its log beside it).
resolve_pg_paths() {
  local reach=0
  runuser -u postgres -- test -x "$STATE_DIR" 2>/dev/null && reach=1
  if [[ -n ${BERTH_LOCAL_POSTGRES_DATA:-} ]]; then
    PG_DATA=$BERTH_LOCAL_POSTGRES_DATA
  elif ((reach)) || ! id postgres >/dev/null 2>&1; then
    PG_DATA=$STATE_DIR/postgres
  else
    PG_DATA=/var/lib/berth-local/$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)/postgres
  fi
  if ((reach)); then PG_LOG=$LOGS/postgres.log; else PG_LOG=$(dirname "$PG_DATA")/postgres.log; fi
}
ENV_FILE=$STATE_DIR/local.env
REDIS_PID=$PIDS/redis.pid
DOCKERD_PID=$PIDS/dockerd.pid
DOCKERD_EXTRA_ARGS=()
DOCKERD_EXEC_ROOT=/var/run/docker
if [[ $DOCKER_SOCK != /var/run/docker.sock ]]; then
  # a second, private engine (tests of this script): its own data and runtime dirs
  DOCKERD_EXEC_ROOT=$STATE_DIR/docker/run
  DOCKERD_EXTRA_ARGS=(--data-root "$STATE_DIR/docker/data" --exec-root "$DOCKERD_EXEC_ROOT")
fi

# ---------------------------------------------------------------- helpers

# running PID: the process exists and is not a zombie (a killed daemon whose parent is gone
# can stay a zombie for a while).
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != [ZX] ]]
}

# pid_alive FILE COMM: prints the pid if FILE names a running process whose name is COMM.
pid_alive() {
  local file=$1 comm=$2 pid
  [[ -s $file ]] || return 1
  pid=$(head -n 1 "$file" | tr -dc '0-9')
  [[ -n $pid ]] && running "$pid" || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  printf '%s\n' "$pid"
}

not_running() { ! running "$1"; }

# wait_for SECONDS CMD...: retry CMD every 0.25 s until it succeeds or time is up.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# The docker client may be newer than the daemon (e.g. /usr/local/bin/docker 28 vs Debian's
# dockerd 20.10). Recent clients negotiate the API version themselves; if one refuses anyway,
# pin DOCKER_API_VERSION to the daemon's maximum.
docker_ok() { docker info >/dev/null 2>&1; }
docker_fix_api_version() {
  docker_ok && return 0
  local out max
  out=$(docker version 2>&1 || true)
  max=$(sed -n 's/.*[Mm]aximum supported API version is \([0-9.]*\).*/\1/p' <<<"$out" | head -n1)
  if [[ -n $max ]]; then
    export DOCKER_API_VERSION=$max
    docker_ok
  else
    return 1
  fi
}

# Passwords of the local Redis and PostgreSQL (load_passwords). They reach redis-cli and psql
# through standard input or the environment, never through arguments (`ps` shows those).
REDIS_PASSWORD=""
PG_PASSWORD=""

redis_cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
# redis_authed: runs the commands on stdin after AUTH with our password; prints the replies.
redis_authed() { { printf 'AUTH %s\n' "$REDIS_PASSWORD"; cat; } | redis_cli 2>/dev/null; }
# redis_ok: our password opens it (and it has one: AUTH fails on a Redis without any)
redis_ok() { [[ $(printf 'PING\n' | redis_authed) == $'OK\nPONG' ]]; }
# redis_open: it answers without a password
redis_open() { [[ $(redis_cli ping 2>/dev/null) == PONG ]]; }
redis_answers() { local r; r=$(redis_cli ping 2>/dev/null) && [[ $r == PONG || $r == NOAUTH* ]]; }
# redis_ours: prints the pid of the redis-server started by services.sh if it serves our port
redis_ours() {
  local pid
  pid=$(pid_alive "$REDIS_PID" redis-server) || return 1
  [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") == *"127.0.0.1:$REDIS_PORT"* ]] || return 1
  printf '%s\n' "$pid"
}

pg_ok() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
as_postgres() { runuser -u postgres -- "$@"; }
# pg_psql ARGS...: psql as postgres with our password, over TCP (never a password file)
pg_psql() { PGPASSWORD=$PG_PASSWORD PGPASSFILE=/dev/null/none "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -w -X "$@"; }
pg_auth_ok() { [[ $(pg_psql -d postgres -Atqc 'select 1' 2>/dev/null) == 1 ]]; }
# pg_open: it lets postgres in without any password (trust auth, as an older `up` set it up)
pg_open() {
  [[ $(env -u PGPASSWORD PGPASSFILE=/dev/null/none "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -w -X \
    -d postgres -Atqc 'select 1' 2>/dev/null) == 1 ]]
}
pg_closed() { ! pg_open; }
image_tag() { printf '%s\n' "${ADDON_LOCAL_TAG[$1]}"; }

# ---------------------------------------------------------------- up steps

APT_UPDATED=0
apt_install() {
  local log=$LOGS/apt.log
  mkdir -p "$LOGS"
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get update -qq >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed (log: $log)"; }
    APT_UPDATED=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 "$@" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "apt-get install $* failed (log: $log)"; }
}

ensure_packages() {
  local missing=()
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
  command -v dockerd >/dev/null && command -v docker >/dev/null || missing+=(docker.io)
  [[ -x $PG_BIN/postgres && -x $PG_BIN/pg_ctl ]] || missing+=(postgresql-15)
  if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || die "must run as root to install: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  id postgres >/dev/null 2>&1 || die "OS user 'postgres' does not exist (is postgresql-15 installed?)"
}

# any_dockerd_on_socket: true if a dockerd process (anyone's) serves $DOCKER_SOCK (reads /proc only)
any_dockerd_on_socket() {
  local d cmd
  for d in /proc/[0-9]*; do
    [[ $(cat "$d/comm" 2>/dev/null) == dockerd ]] || continue
    cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    if [[ $DOCKER_SOCK == /var/run/docker.sock && $cmd != *unix://* && $cmd != *" -H "* ]] ||
      [[ $cmd == *"$DOCKER_SOCK"* ]]; then
      return 0
    fi
  done
  return 1
}

DOCKER_STATE=""
ensure_docker() {
  local pid
  if docker_fix_api_version; then
    DOCKER_STATE="reused"
    return 0
  fi
  if pid=$(pid_alive "$DOCKERD_PID" dockerd); then
    log "dockerd (pid $pid, started by services.sh) does not answer yet; waiting"
  else
    if [[ -e $DOCKER_SOCK ]]; then
      any_dockerd_on_socket &&
        die "a dockerd not started by services.sh serves $DOCKER_SOCK but 'docker info' fails; check it by hand"
      log "removing stale $DOCKER_SOCK (no dockerd runs)"
      rm -f "$DOCKER_SOCK"
    fi
    rm -f "$DOCKERD_PID" # stale: its process is gone
    # a dockerd that was killed leaves its own containerd behind for a while; the next one
    # cannot start its containerd until that one is gone
    # (and, if it is a zombie not yet reaped, dockerd takes it for a live containerd and waits
    # for it in vain: drop its stale pid file)
    local cpid cpidfile=$DOCKERD_EXEC_ROOT/containerd/containerd.pid
    if cpid=$(pid_alive "$cpidfile" containerd); then
      log "waiting for the containerd of a previous dockerd (pid $cpid) to exit"
      wait_for 30 not_running "$cpid" || die "containerd (pid $cpid) of a previous dockerd still runs"
    fi
    rm -f "$cpidfile"
    mkdir -p "$PIDS" "$LOGS"
    start_dockerd
    pid=$!
  fi
  local deadline=$((SECONDS + 60)) retried=0
  until docker_fix_api_version; do
    if ! running "$pid" && ((!retried)) && ((SECONDS < deadline)); then
      log "dockerd exited early; starting it once more"
      retried=1
      sleep 2
      start_dockerd
      pid=$!
    elif ((SECONDS >= deadline)) || ! running "$pid"; then
      tail -n 20 "$LOGS/dockerd.log" >&2 || true
      running "$pid" || die "dockerd exited (log: $LOGS/dockerd.log)"
      die "Docker Engine did not answer within 60 s (dockerd pid $pid, log: $LOGS/dockerd.log)"
    fi
    sleep 0.25
  done
  DOCKER_STATE="started"
}
start_dockerd() {
  log "starting dockerd (log: $LOGS/dockerd.log)"
  # setsid: own session, no terminal. dockerd writes (and removes on exit) its own pid file.
  setsid dockerd --host "$DOCKER_HOST" --iptables=false --bridge=none --storage-driver=overlay2 \
    --pidfile "$DOCKERD_PID" "${DOCKERD_EXTRA_ARGS[@]}" </dev/null >>"$LOGS/dockerd.log" 2>&1 9>&- &
}

REDIS_STATE=""
ensure_redis() {
  local pid
  if redis_ok; then
    if pid=$(redis_ours); then redis_lock_in_place "$pid"; fi
    REDIS_STATE="reused"
    return 0
  fi
  if redis_answers; then
    pid=$(redis_ours) || {
      if redis_open; then
        die "a Redis not started by services.sh answers on 127.0.0.1:$REDIS_PORT without a password; stop it, or choose another BERTH_LOCAL_REDIS_PORT"
      fi
      die "a Redis not started by services.sh on 127.0.0.1:$REDIS_PORT refuses the password of $ENV_FILE; choose another BERTH_LOCAL_REDIS_PORT"
    }
    if redis_open; then
      # started by an older `up`, without a password: set it in place (the queue's data stays)
      log "redis-server (pid $pid) has no password: setting it in place"
      [[ $(printf 'CONFIG SET requirepass %s\n' "$REDIS_PASSWORD" | redis_cli 2>/dev/null) == OK ]] ||
        die "could not set the password of redis-server (pid $pid)"
      redis_ok || die "redis-server (pid $pid) refuses its new password"
      redis_lock_in_place "$pid"
      REDIS_STATE="locked"
      return 0
    fi
    # ours, with a password other than local.env's (it keeps nothing on disk): start it afresh
    log "redis-server (pid $pid) refuses the password of $ENV_FILE: restarting it"
    kill -TERM "$pid"
    wait_for 20 not_running "$pid" || die "redis-server (pid $pid) still running after 20 s"
  fi
  mkdir -p "$PIDS" "$LOGS" "$STATE_DIR/redis"
  log "starting redis-server on 127.0.0.1:$REDIS_PORT"
  # The password is read with the rest of the configuration from standard input (`-`).
  # shellcheck disable=SC2094 # redis-server writes its log itself once daemonized
  redis-server - --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes --save "" --appendonly no \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$LOGS/redis.log" --dir "$STATE_DIR/redis" \
    >>"$LOGS/redis.log" 2>&1 9>&- <<EOF || { tail -n 20 "$LOGS/redis.log" >&2; die "redis-server failed to start"; }
requirepass $REDIS_PASSWORD
EOF
  wait_for 20 redis_ok || { tail -n 20 "$LOGS/redis.log" >&2; die "Redis did not accept its password on port $REDIS_PORT (log: $LOGS/redis.log)"; }
  REDIS_STATE="started"
}
# redis_lock_in_place PID: our running Redis listens on 127.0.0.1 only, in protected mode
redis_lock_in_place() {
  local out
  out=$(printf 'CONFIG GET bind\nCONFIG GET protected-mode\n' | redis_authed | tail -n +2 | tr '\n' ' ')
  [[ $out == "bind 127.0.0.1 protected-mode yes " ]] && return 0
  log "redis-server (pid $1): bind 127.0.0.1, protected-mode yes (was: $out)"
  [[ $(printf 'CONFIG SET bind 127.0.0.1\nCONFIG SET protected-mode yes\n' | redis_authed | tr '\n' ' ') == "OK OK OK " ]] ||
    die "could not restrict redis-server (pid $1) to 127.0.0.1"
}

# Every connection, unix socket or TCP, gives the password; nothing else is let in.
PG_HBA='# Written by scripts/services.sh (rewritten by every "up"): every connection, unix socket or
# TCP, authenticates with its password (scram-sha-256). The server listens on 127.0.0.1 only.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 scram-sha-256
host    all          all   127.0.0.1/32  scram-sha-256
local   replication  all                 scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256'
PG_OPTS="-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp"

# write_pg_hba: installs PG_HBA; true if the file changed
write_pg_hba() {
  local hba=$PG_DATA/pg_hba.conf tmp
  [[ -f $hba && $(cat "$hba") == "$PG_HBA" ]] && return 1
  log "pg_hba.conf: scram-sha-256 for every connection"
  tmp=$(mktemp "$PG_DATA/.pg_hba.conf.XXXXXX")
  printf '%s\n' "$PG_HBA" >"$tmp"
  chown postgres:postgres "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$hba"
}
# ALTER ROLE with the password, for stdin of psql or of a single-user backend; an error never
# logs the statement.
pg_password_sql() {
  printf "SET log_min_error_statement = panic;\nALTER ROLE postgres PASSWORD '%s';\n" "$PG_PASSWORD"
}
# pg_set_password_offline: the cluster is stopped; a single-user backend (no network) sets it
pg_set_password_offline() {
  log "setting the password of role postgres (single-user backend, no network)"
  pg_password_sql | as_postgres "$PG_BIN/postgres" --single -D "$PG_DATA" -c log_min_error_statement=panic \
    postgres >/dev/null 2>&1 9>&- || die "could not set the password of role postgres in $PG_DATA"
}
pg_start() {
  mkdir -p "$LOGS"
  touch "$PG_LOG"
  chown postgres "$PG_LOG"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data: $PG_DATA)"
  # Listens on 127.0.0.1 only; unix socket in /tmp (path lengths stay short).
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -o "$PG_OPTS" start >/dev/null 9>&- ||
    { tail -n 20 "$PG_LOG" >&2; die "PostgreSQL failed to start (log: $PG_LOG)"; }
  wait_for 30 pg_ok || die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
}
# pg_init_and_start: the cluster is not running; create it if need be, lock it, start it
pg_init_and_start() {
  # The postgres user must reach the data dir (e.g. a clone under /root, mode 700, is not).
  mkdir -p "$PG_DATA"
  as_postgres test -x "$(dirname "$PG_DATA")" ||
    die "OS user postgres cannot reach $PG_DATA (a parent directory is not searchable); set BERTH_LOCAL_POSTGRES_DATA to a path it can reach"
  if [[ ! -s $PG_DATA/PG_VERSION ]]; then
    [[ -z $(ls -A "$PG_DATA") ]] || die "$PG_DATA is neither empty nor a PostgreSQL data dir"
    log "initdb $PG_DATA"
    chown postgres:postgres "$PG_DATA"
    chmod 700 "$PG_DATA"
    mkdir -p "$LOGS"
    local pwfile
    pwfile=$(mktemp) # mode 600; the postgres user reads it, then it is gone
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 --locale=C.UTF-8 --no-instructions >>"$LOGS/initdb.log" 2>&1 ||
      { rm -f "$pwfile"; tail -n 20 "$LOGS/initdb.log" >&2; die "initdb failed (log: $LOGS/initdb.log)"; }
    rm -f "$pwfile"
    write_pg_hba || true
  else
    [[ $(stat -c %U "$PG_DATA") == postgres ]] || die "$PG_DATA is not owned by the postgres OS user"
    # an existing cluster (maybe made by an older `up`, trust auth): lock it before it listens
    write_pg_hba || true
    pg_set_password_offline
  fi
  pg_start
}

PG_STATE=""
ensure_postgres() {
  local pid
  if ! pg_ok; then
    pg_init_and_start
    PG_STATE="started"
  else
    if ! pid=$(pg_pid); then
      if pg_open || ! pg_auth_ok; then
        die "a PostgreSQL not started by services.sh answers on 127.0.0.1:$PG_PORT $(pg_open && echo "without a password" || echo "and refuses the password of $ENV_FILE"); stop it, or choose another BERTH_LOCAL_POSTGRES_PORT"
      fi
      PG_STATE="reused"
    else
      PG_STATE="reused"
      if pg_open; then
        # started by an older `up` with trust auth: set the password while it still lets us in,
        # then require it (a reload: connections and data stay)
        log "PostgreSQL (pid $pid) lets anyone in without a password: setting it in place"
        pg_password_sql | env -u PGPASSWORD PGPASSFILE=/dev/null/none "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" \
          -U postgres -w -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null ||
          die "could not set the password of role postgres"
        PG_STATE="locked"
      elif ! pg_auth_ok; then
        # ours, but local.env's password does not open it: stop it (fast: data kept), set it, start
        log "PostgreSQL (pid $pid) refuses the password of $ENV_FILE: restarting it to set it"
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed (log: $PG_LOG)"
        pg_init_and_start
        PG_STATE="locked"
      fi
      if write_pg_hba; then
        pg_psql -d postgres -Atqc 'select pg_reload_conf()' >/dev/null || die "could not reload PostgreSQL's configuration"
        PG_STATE="locked"
      fi
      if [[ $(pg_psql -d postgres -Atqc 'show listen_addresses' 2>/dev/null) != 127.0.0.1 ]]; then
        log "PostgreSQL (pid $pid) listens beyond 127.0.0.1: restarting it"
        as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -m fast -w -t 60 -o "$PG_OPTS" restart >/dev/null 9>&- ||
          die "pg_ctl restart failed (log: $PG_LOG)"
        PG_STATE="locked"
      fi
    fi
  fi
  # a reload takes effect a moment later
  wait_for 10 pg_closed || die "PostgreSQL on 127.0.0.1:$PG_PORT still lets postgres in without a password"
  pg_auth_ok || die "PostgreSQL on 127.0.0.1:$PG_PORT refuses the password of $ENV_FILE (log: $PG_LOG)"
  local db
  for db in "${PG_DBS[@]}"; do
    if [[ -z $(pg_psql -d postgres -Atq -c "select 1 from pg_database where datname = '$db'") ]]; then
      log "creating database $db"
      pg_psql -d postgres -q -v ON_ERROR_STOP=1 -c "create database \"$db\" owner postgres" || die "could not create database $db"
    fi
  done
}

ensure_images() {
  local rebuild=$1 e
  for e in "${ENGINES[@]}"; do
    if ((rebuild)); then "$BUILD_SH" "$e" --rebuild; else "$BUILD_SH" "$e"; fi
  done
}

# env_get NAME: value of `export NAME=...` in the existing local.env (empty if none).
env_get() {
  [[ -f $ENV_FILE ]] || return 0
  sed -n "s/^export $1=//p" "$ENV_FILE" | tail -n 1 | sed -e "s/^'\(.*\)'\$/\1/" -e 's/^"\(.*\)"$/\1/'
}
rand_alnum() {
  local n=$1 s=""
  while ((${#s} < n)); do s+=$(head -c 96 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9'); done
  printf '%s' "${s:0:n}"
}

# url_password URL: the password of a URL written by write_env (our alphabet: no %-encoding)
url_password() {
  local re='^[a-z]+://[^:@/]*:([A-Za-z0-9]+)@'
  if [[ $1 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}
# load_passwords [--generate]: Redis's and PostgreSQL's passwords from local.env's URLs; with
# --generate, new ones for those it has none of (a local.env of an older `up`, or none yet).
load_passwords() {
  REDIS_PASSWORD=$(url_password "$(env_get BERTH_REDIS_URL)")
  PG_PASSWORD=$(url_password "$(env_get BERTH_DATABASE_URL)")
  if [[ ${1:-} == --generate ]]; then
    [[ -n $REDIS_PASSWORD ]] || REDIS_PASSWORD=$(rand_alnum 32)
    [[ -n $PG_PASSWORD ]] || PG_PASSWORD=$(rand_alnum 32)
  fi
}

write_env() {
  local key e prefix var value tmp
  [[ -n $REDIS_PASSWORD && -n $PG_PASSWORD ]] || die "write_env: passwords not loaded"
  key=$(env_get BERTH_ENCRYPTION_KEY)
  [[ -n $key ]] || key=$(head -c 32 /dev/urandom | base64 -w0)
  tmp=$(mktemp "$STATE_DIR/.local.env.XXXXXX")
  chmod 600 "$tmp"
  {
    echo "# Written by scripts/services.sh up. Secrets are generated once and kept on later runs."
    # Redis's and PostgreSQL's passwords: letters and digits, nothing to %-encode.
    echo "export BERTH_REDIS_URL=redis://default:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT"
    echo "export BERTH_DATABASE_URL=postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/berth"
    echo "export BERTH_TEST_DATABASE_URL=postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/berth_test"
    echo "export DOCKER_HOST=$DOCKER_HOST"
    [[ -z ${DOCKER_API_VERSION:-} ]] || echo "export DOCKER_API_VERSION=$DOCKER_API_VERSION"
    echo "export BERTH_ENCRYPTION_KEY=$key"
    # Per installed addon: its manifest credentials and SSO salt (kept once made); the local
    # image of those whose image `up` builds.
    for e in "${ADDONS[@]}"; do
      prefix=${ADDON_ENV_PREFIX[$e]}
      for var in USERNAME PASSWORD SSO_SALT; do
        value=$(env_get "$prefix$var")
        if [[ -z $value ]]; then
          if [[ $var == USERNAME ]]; then value=$e; else value=$(rand_alnum 32); fi
        fi
        echo "export $prefix$var=$value"
      done
    done
    for e in "${ENGINES[@]}"; do echo "export ${ADDON_ENV_PREFIX[$e]}IMAGE=$(image_tag "$e")"; done
    # The operator console's own credentials (/admin), never an addon's.
    value=$(env_get BERTH_ADMIN_USERNAME)
    echo "export BERTH_ADMIN_USERNAME=${value:-operator}"
    value=$(env_get BERTH_ADMIN_PASSWORD)
    echo "export BERTH_ADMIN_PASSWORD=${value:-$(rand_alnum 32)}"
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
  chmod 600 "$ENV_FILE"
}

# ---------------------------------------------------------------- status lines

status_docker() {
  local pid
  if docker_fix_api_version; then
    local v
    v=$(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo "?")
    if pid=$(pid_alive "$DOCKERD_PID" dockerd); then
      echo "docker:     running  $DOCKER_HOST  engine $v  pid $pid (started by services.sh)"
    else
      echo "docker:     running  $DOCKER_HOST  engine $v  (not started by services.sh)"
    fi
  else
    echo "docker:     stopped  ($DOCKER_HOST does not answer)"
  fi
}
redis_auth_note() {
  if redis_open; then echo "NO PASSWORD (run: scripts/services.sh up)"
  elif [[ -n $REDIS_PASSWORD ]] && redis_ok; then echo "password in local.env"
  else echo "refuses the password of local.env"; fi
}
status_redis() {
  local pid
  if redis_answers; then
    if pid=$(redis_ours); then
      echo "redis:      running  redis://127.0.0.1:$REDIS_PORT  $(redis_auth_note)  pid $pid (started by services.sh)"
    else
      echo "redis:      running  redis://127.0.0.1:$REDIS_PORT  $(redis_auth_note)  (not started by services.sh)"
    fi
  else
    echo "redis:      stopped  (nothing answers on 127.0.0.1:$REDIS_PORT)"
  fi
}
# pg_pid: pid of the postmaster of our data dir, if it serves our port
pg_pid() {
  [[ -s $PG_DATA/postmaster.pid && $(sed -n 4p "$PG_DATA/postmaster.pid") == "$PG_PORT" ]] &&
    pid_alive "$PG_DATA/postmaster.pid" postgres
}
pg_auth_note() {
  if pg_open; then echo "NO PASSWORD (trust; run: scripts/services.sh up)"
  elif [[ -n $PG_PASSWORD ]] && pg_auth_ok; then echo "password in local.env"
  else echo "refuses the password of local.env"; fi
}
status_postgres() {
  local pid
  if pg_ok; then
    if pid=$(pg_pid); then
      echo "postgres:   running  postgresql://postgres@127.0.0.1:$PG_PORT  $(pg_auth_note)  pid $pid  data $PG_DATA"
    else
      echo "postgres:   running  postgresql://postgres@127.0.0.1:$PG_PORT  $(pg_auth_note)  (not started by services.sh)"
    fi
  else
    echo "postgres:   stopped  (nothing answers on 127.0.0.1:$PG_PORT)"
  fi
}
status_images() {
  local e tag id size
  for e in "${ENGINES[@]}"; do
    tag=$(image_tag "$e")
    if ! docker_ok; then
      printf 'image:      %-8s %s  (docker is not running)\n' unknown "$tag"
    elif id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null); then
      size=$(docker image inspect --format '{{.Size}}' "$tag")
      printf 'image:      %-8s %s  %s MB  %s\n' present "$tag" "$((size / 1000000))" "${id:7:12}"
    else
      printf 'image:      %-8s %s\n' missing "$tag"
    fi
  done
}

# ---------------------------------------------------------------- commands

# One `up`/`down` at a time per state dir. fd 9 is closed for every daemon started (9>&-), so
# that the lock is released when this script ends.
take_lock() {
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "another 'scripts/services.sh up/down' holds $STATE_DIR/.lock (waited 300 s)"
}

cmd_up() {
  local rebuild=0 a
  for a in "$@"; do
    case $a in
      --rebuild) rebuild=1 ;;
      *) die "unknown option for up: $a" ;;
    esac
  done
  [[ $(id -u) == 0 ]] || die "scripts/services.sh up must run as root (it starts dockerd and runs PostgreSQL as the postgres user)"
  mkdir -p "$PIDS" "$LOGS"
  take_lock

  ensure_packages
  load_addons
  resolve_pg_paths
  # The passwords are on disk before any service gets them: an `up` interrupted after setting
  # one never leaves a password nobody knows.
  load_passwords --generate
  write_env
  ensure_docker
  ensure_redis
  ensure_postgres
  ensure_images "$rebuild"
  write_env

  echo "Berth local services are up ($DOCKER_STATE docker, $REDIS_STATE redis, $PG_STATE postgres):"
  status_docker
  status_redis
  status_postgres
  status_images
  echo "env:        $ENV_FILE  (source it: . $ENV_FILE)"
}

cmd_down() {
  local pid
  mkdir -p "$PIDS"
  take_lock
  resolve_pg_paths

  if pid=$(pid_alive "$REDIS_PID" redis-server); then
    log "stopping redis-server (pid $pid)"
    kill -TERM "$pid"
    wait_for 20 not_running "$pid" || log "redis-server (pid $pid) still running after 20 s"
  else
    log "redis: nothing started by services.sh is running"
  fi
  rm -f "$REDIS_PID"

  if pg_pid >/dev/null; then
    log "stopping PostgreSQL (data $PG_DATA)"
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
      log "pg_ctl stop failed (log: $PG_LOG)"
  else
    log "postgres: nothing started by services.sh is running"
  fi

  if pid=$(pid_alive "$DOCKERD_PID" dockerd); then
    log "stopping dockerd (pid $pid); running containers are stopped by the engine"
    kill -TERM "$pid"
    wait_for 60 not_running "$pid" || die "dockerd (pid $pid) still running after 60 s"
  else
    log "docker: nothing started by services.sh is running"
  fi
}

cmd_status() {
  load_addons
  resolve_pg_paths
  load_passwords
  status_docker
  status_redis
  status_postgres
  status_images
  if [[ -f $ENV_FILE ]]; then echo "env:        $ENV_FILE"; else echo "env:        missing ($ENV_FILE; run: scripts/services.sh up)"; fi
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down ;;
  status) shift; cmd_status ;;
  *)
    echo "usage: $0 up [--rebuild] | down | status" >&2
    exit 2
    ;;
esac

#!/bin/sh
# Entrypoint of the locally built berth-local/postgresql image (see ../build.sh).
# Follows the runtime contract of the official `postgres` image, so the addon code works the
# same with either image:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (default
#   postgres), POSTGRES_DB (default $POSTGRES_USER), PGDATA (default /var/lib/postgresql/data),
#   POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), the *_FILE
#   variants of the first four, and *.sql / *.sh files in /docker-entrypoint-initdb.d.
#   A command whose first word is `postgres`, or whose first argument starts with `-`, starts the
#   server with those arguments; any other command is run as is.
# Started as root it prepares the directories and drops to the postgres user (uid 999) with
# setpriv; it can also be started directly as uid 999 (`--user 999:999`).
# The password is never printed.
set -eu

msg() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { msg "error: $*"; exit 1; }

# file_env VAR [DEFAULT]: VAR, or the contents of the file named by VAR_FILE, or DEFAULT.
file_env() {
	eval "_v=\${$1:-} _f=\${$1_FILE:-}"
	if [ -n "$_v" ] && [ -n "$_f" ]; then die "both $1 and $1_FILE are set (they are exclusive)"; fi
	if [ -n "$_f" ]; then _v=$(cat "$_f"); elif [ -z "$_v" ]; then _v=${2:-}; fi
	export "$1=$_v"
	unset "$1_FILE" || :
	unset _v _f
}

# quote_ident S: S as a double-quoted SQL identifier.
quote_ident() {
	_s=$1 _q=
	while :; do
		case $_s in
			*\"*) _q="$_q${_s%%\"*}\"\"" ; _s=${_s#*\"} ;;
			*) _q="$_q$_s"; break ;;
		esac
	done
	printf '"%s"' "$_q"
	unset _s _q
}

want_help() {
	for _a in "$@"; do
		case $_a in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
	done
	return 1
}

# shellcheck disable=SC2120 # its positional parameters come from POSTGRES_INITDB_ARGS
init_database_dir() {
	# positional parameters of this function: POSTGRES_INITDB_ARGS, split like the official image
	eval "set -- $POSTGRES_INITDB_ARGS"
	if [ -n "$POSTGRES_PASSWORD" ]; then
		# password through a pipe (here-document), never on disk or on a command line
		initdb --username="$POSTGRES_USER" --pwfile=/dev/fd/3 \
			--auth-host=scram-sha-256 --auth-local=trust --encoding=UTF8 --locale=C.UTF-8 \
			--no-instructions "$@" 3<<PWEOF
$POSTGRES_PASSWORD
PWEOF
	else
		initdb --username="$POSTGRES_USER" --auth-host=trust --auth-local=trust \
			--encoding=UTF8 --locale=C.UTF-8 --no-instructions "$@"
	fi
}

create_database() {
	[ "$POSTGRES_DB" != postgres ] || return 0
	# single-user mode: no temporary server to start and stop
	_out=$(printf 'CREATE DATABASE %s;\n' "$(quote_ident "$POSTGRES_DB")" |
		postgres --single -D "$PGDATA" -c listen_addresses= -c log_min_messages=warning postgres 2>&1 >/dev/null) || {
		printf '%s\n' "$_out" >&2; die "could not create database"; }
	case $_out in *ERROR*|*FATAL*) printf '%s\n' "$_out" >&2; die "could not create database" ;; esac
	unset _out
}

run_initdb_scripts() {
	set -- /docker-entrypoint-initdb.d/*
	[ -e "$1" ] || return 0
	msg "running /docker-entrypoint-initdb.d with a temporary server (unix socket only)"
	PGHOST=/var/run/postgresql PGPORT=5432 PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB
	export PGHOST PGPORT PGUSER PGDATABASE
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses= -p 5432" start >/dev/null
	# shellcheck disable=SC1090 # the init scripts are sourced, like the official image does
	for _f in "$@"; do
		case $_f in
			*.sh) msg "sourcing $_f"; . "$_f" ;;
			*.sql) msg "running $_f"; psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc -q -f "$_f" ;;
			*) msg "ignoring $_f" ;;
		esac
	done
	pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
	unset PGHOST PGPORT PGUSER PGDATABASE _f
}

case ${1:-} in -*) set -- postgres "$@" ;; esac

if [ "${1:-}" = postgres ] && ! want_help "$@"; then
	: "${PGDATA:=/var/lib/postgresql/data}"
	export PGDATA
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$PGDATA" /var/run/postgresql
		chown postgres:postgres "$PGDATA" /var/run/postgresql
		chmod 700 "$PGDATA"
		chmod 3777 /var/run/postgresql
		exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
	fi
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA" 2>/dev/null || :

	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		file_env POSTGRES_PASSWORD
		file_env POSTGRES_USER postgres
		file_env POSTGRES_DB "$POSTGRES_USER"
		file_env POSTGRES_INITDB_ARGS
		: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
		if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
			die "database is uninitialized and superuser password is not specified.
  You must specify POSTGRES_PASSWORD to a non-empty value for the superuser, or set
  POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password (not recommended)."
		fi
		msg "initializing $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
		# shellcheck disable=SC2119
		init_database_dir
		printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
		printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
		create_database
		run_initdb_scripts
		unset POSTGRES_PASSWORD
		msg "PostgreSQL init process complete; ready for start up."
	else
		msg "PostgreSQL database directory appears to contain a database; skipping initialization"
	fi
	unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE 2>/dev/null || :
fi

exec "$@"

#!/bin/sh
# Entrypoint of the locally built berth-local/postgresql image (see recipe.sh beside
# it, built by docker/local-images/build.sh).
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
#
# Template cluster. initdb made most of a first start (1 to 1.7 s here, with the 0.5 CPU of the
# smallest plan), so the image carries a cluster that recipe.sh made with initdb at build time,
# in /var/lib/postgresql/data with a `berth-template` marker file. Docker copies it into a new,
# empty named volume at its first mount, and this script finds the marker there. The template
# is what the initdb path below makes for the default settings (UTF8, C.UTF-8, scram-sha-256
# over TCP, trust on the container-local socket, listen_addresses '*'), except that its
# bootstrap superuser is `postgres` (without a password, so it can only log in over the socket,
# like any user there) instead of POSTGRES_USER, which is not known at build time.
# A first start on the template: an fsync of the cluster (Docker's copy is not synced, initdb
# syncs what it makes), one `postgres --single` session (no server to start and stop) that
# creates POSTGRES_USER as a SUPERUSER with POSTGRES_PASSWORD and POSTGRES_DB owned by it, then
# /docker-entrypoint-initdb.d, then the marker is removed. Last, so that a container stopped or
# killed before (or a host crash) does the setup again at the next start; the setup can run
# twice (it expects "already exists" errors then, and sets the password again). All this takes
# 0.2-0.35 s, and Docker's copy 0.1-0.35 s more than an empty volume's mount (see recipe.sh).
# The template is discarded for initdb when it does not fit: POSTGRES_INITDB_ARGS set, or no
# password, or another POSTGRES_HOST_AUTH_METHOD. A volume mounted without the image's content
# (nocopy, a bind mount) is empty and gets initdb as before, and so does a PGDATA below the
# volume's root (the template is then left unused beside it).
# The password is never printed, and never on a command line or on disk (before the server
# hashes it): it goes to initdb or to the single-user session through here-documents.
set -eu

# in the template cluster (made by recipe.sh) until its setup is complete
TEMPLATE_MARKER=berth-template

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

# quote_literal S: S as an E'' SQL string literal on one line (backslash, quote and newline
# escaped: a single-user session ends a statement at a newline).
# shellcheck disable=SC1003 # literal backslashes and quotes
quote_literal() {
	_s=$1 _q=
	while [ -n "$_s" ]; do
		_r=${_s#?}
		_c=${_s%"$_r"}
		case $_c in
			\\) _q="$_q\\\\" ;;
			\') _q="$_q\\'" ;;
			"$NL") _q="$_q\\n" ;;
			*) _q="$_q$_c" ;;
		esac
		_s=$_r
	done
	printf "E'%s'" "$_q"
	unset _s _q _r _c
}
NL='
'

want_help() {
	for _a in "$@"; do
		case $_a in -'?'|--help|--describe-config|-V|--version) return 0 ;; esac
	done
	return 1
}

# load_settings: the POSTGRES_* settings (or their *_FILE variants), checked.
load_settings() {
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
}

# single_user SQL [SQLSTATE...]: runs SQL (one statement a line) in a single-user session on
# the database postgres, quietly; dies on an error, unless its SQLSTATE is one of those given.
# The statements are not logged, nor echoed with an error (log_min_error_statement=panic).
# Commits do not wait for the WAL flush: the session ends with a shutdown checkpoint, which
# flushes and fsyncs all it wrote.
single_user() {
	_out=$(postgres --single -D "$PGDATA" -c listen_addresses= -c log_min_messages=warning \
		-c log_min_error_statement=panic -c log_error_verbosity=verbose -c log_checkpoints=off \
		-c synchronous_commit=off postgres 2>&1 >/dev/null <<SQLEOF
$1
SQLEOF
) || { printf '%s\n' "$_out" >&2; die "single-user session failed"; }
	shift
	while IFS= read -r _l; do
		case $_l in
			*ERROR:\ *|*FATAL:\ *|*PANIC:\ *)
				for _e in "$@"; do
					case $_l in
						*" $_e: "*) msg "expected after an interrupted start: ${_l#*ERROR:  }"; continue 2 ;;
					esac
				done
				printf '%s\n' "$_out" >&2
				die "single-user session failed" ;;
		esac
	done <<OUTEOF
$_out
OUTEOF
	unset _out _l _e
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

# initialize: a new cluster made by initdb, then the database and /docker-entrypoint-initdb.d.
initialize() {
	msg "initializing $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
	# shellcheck disable=SC2119 # it splits POSTGRES_INITDB_ARGS, not the script's arguments
	init_database_dir
	printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
	printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
	if [ "$POSTGRES_DB" != postgres ]; then
		single_user "CREATE DATABASE $(quote_ident "$POSTGRES_DB");"
	fi
	run_initdb_scripts
	msg "PostgreSQL init process complete; ready for start up."
}

# template_fits: the template cluster is what initdb would make with these settings.
template_fits() {
	[ -z "$POSTGRES_INITDB_ARGS" ] && [ -n "$POSTGRES_PASSWORD" ] &&
		[ "$POSTGRES_HOST_AUTH_METHOD" = scram-sha-256 ]
}

# set_up_template: the template cluster gets POSTGRES_USER and POSTGRES_DB (see the header).
# First an fsync of the whole cluster: Docker's copy into the volume is not synced, and initdb
# (the other path) syncs what it made; from then on a crash, even of the host, leaves a
# consistent cluster with its marker. Then the setup, safe to run again after an interruption:
# CREATE ROLE / CREATE DATABASE may find what the first run made (42710 duplicate_object,
# 42P04 duplicate_database), the ALTER ROLE sets the same attributes and password again.
set_up_template() {
	msg "setting up the template cluster in $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
	case $POSTGRES_USER$POSTGRES_DB in
		*"$NL"*) die "POSTGRES_USER and POSTGRES_DB cannot hold a newline" ;;
	esac
	initdb --sync-only --pgdata="$PGDATA" >/dev/null
	_u=$(quote_ident "$POSTGRES_USER")
	_sql=
	# the role postgres is the template's bootstrap superuser: it only gets the password
	[ "$POSTGRES_USER" = postgres ] || _sql="CREATE ROLE $_u;"
	_sql="$_sql
ALTER ROLE $_u WITH SUPERUSER CREATEDB CREATEROLE INHERIT LOGIN REPLICATION BYPASSRLS PASSWORD $(quote_literal "$POSTGRES_PASSWORD");"
	if [ "$POSTGRES_DB" != postgres ]; then
		_sql="$_sql
CREATE DATABASE $(quote_ident "$POSTGRES_DB") OWNER $_u;"
	fi
	single_user "$_sql" 42710 42P04
	unset _u _sql
	run_initdb_scripts
	rm -f "$PGDATA/$TEMPLATE_MARKER"
	msg "PostgreSQL init process complete; ready for start up."
}

# discard_template: empties PGDATA for initdb, the marker last (an interrupted run does the
# same at the next start: the settings that chose this path have not changed).
discard_template() {
	msg "discarding the template cluster (initdb is needed for these settings)"
	for _f in "$PGDATA"/*; do
		[ "$_f" = "$PGDATA/$TEMPLATE_MARKER" ] || rm -rf -- "$_f"
	done
	rm -f "$PGDATA/$TEMPLATE_MARKER"
	unset _f
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

	if [ -f "$PGDATA/$TEMPLATE_MARKER" ]; then
		load_settings
		if template_fits; then
			set_up_template
		else
			discard_template
			initialize
		fi
	elif [ ! -s "$PGDATA/PG_VERSION" ]; then
		load_settings
		initialize
	else
		msg "PostgreSQL database directory appears to contain a database; skipping initialization"
	fi
	unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE 2>/dev/null || :
fi

exec "$@"

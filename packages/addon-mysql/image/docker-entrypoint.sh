#!/bin/sh
# Entrypoint of the locally built berth-local/mariadb image (see recipe.sh beside
# it, built by docker/local-images/build.sh).
# Follows the runtime contract of the official `mariadb` image (and its MYSQL_* aliases):
#   MARIADB_ROOT_PASSWORD (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1), MARIADB_ROOT_HOST (default %),
#   MARIADB_DATABASE, MARIADB_USER + MARIADB_PASSWORD (granted ALL on MARIADB_DATABASE), the
#   *_FILE variants, *.sql files in /docker-entrypoint-initdb.d; data in /var/lib/mysql.
#   A command whose first word is `mariadbd` or `mysqld`, or whose first argument starts with
#   `-`, starts the server with those arguments; any other command is run as is.
# Differences: no time zone tables are loaded (as with MARIADB_INITDB_SKIP_TZINFO), no help
# tables, MARIADB_RANDOM_ROOT_PASSWORD and *.sh init scripts are not supported.
# Initialisation is fast. The system tables come with the image: recipe.sh made them with
# `mariadbd --bootstrap` at build time, in /var/lib/mysql, and Docker copies them into a new,
# empty named volume at its first mount. (The bootstrap took most of a first start: 1 to 1.6 s
# here with the 0.5 CPU of the smallest plan.) On them this script only fsyncs the copy (Docker
# does not sync it); a volume without them (nocopy, a bind mount) gets `mariadbd --bootstrap` as
# before, and so do they when the server arguments are not all ones known not to change the
# system tables (port, addresses, sizes) or a file was added to /etc/mysql/conf.d. The accounts
# are created by the server itself at its first start through --init-file read from a pipe, so
# no temporary server is started and the passwords never touch the disk. They are never printed.
# The init file ends by dropping the empty database $PENDING, which the template carries and a
# bootstrap here makes: as long as it is there, each start makes the accounts again, so that a
# container killed before its first start is complete is whole at the next.
# (The init file runs as an internal user: `GRANT PROXY` is refused there, so root's proxy grant
# is written to mysql.proxies_priv directly. MariaDB logs an init-file error and goes on, so a
# failing /docker-entrypoint-initdb.d/*.sql shows only in the log.)
# Started as root it prepares the directories and drops to the mysql user (uid 999) with
# setpriv; it can also be started directly as uid 999.
set -eu

DATADIR=/var/lib/mysql
# An empty database, in the template (made by recipe.sh) and made after a bootstrap here, that
# the server's init file drops once it has made the accounts: while it is there, the first start
# is not complete, and the next start makes the accounts again. No client ever sees it: the
# server runs its init file before it accepts connections.
PENDING=berth_setup_pending

msg() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { msg "error: $*"; exit 1; }

# file_env VAR [DEFAULT]: VAR, else MYSQL_ alias, else contents of VAR_FILE / alias_FILE, else DEFAULT
file_env() {
	_alias=MYSQL_${1#MARIADB_}
	eval "_v=\${$1:-\${$_alias:-}} _f=\${$1_FILE:-\${${_alias}_FILE:-}}"
	if [ -n "$_v" ] && [ -n "$_f" ]; then die "both $1 and $1_FILE are set (they are exclusive)"; fi
	if [ -n "$_f" ]; then _v=$(cat "$_f"); elif [ -z "$_v" ]; then _v=${2:-}; fi
	export "$1=$_v"
	unset "$1_FILE" "${_alias}_FILE" "$_alias" 2>/dev/null || :
	unset _v _f _alias
}

# replace_all S FROM TO
replace_all() {
	_s=$1 _r=
	while :; do
		case $_s in
			*"$2"*) _r="$_r${_s%%"$2"*}$3"; _s=${_s#*"$2"} ;;
			*) _r="$_r$_s"; break ;;
		esac
	done
	printf '%s' "$_r"
	unset _s _r
}
# shellcheck disable=SC1003 # literal quotes and backslashes
sql_string() { _t=$(replace_all "$1" '\' '\\'); printf "'%s'" "$(replace_all "$_t" "'" "\\'")"; unset _t; }
# shellcheck disable=SC2016 # literal backticks
sql_ident() { printf '`%s`' "$(replace_all "$1" '`' '``')"; }

# template_fits mariadbd ARG...: the template's system tables are what `mariadbd --bootstrap`
# would make with these server arguments (which the bootstrap gets): each is one that does not
# change them, and no configuration was added to /etc/mysql/conf.d (the image has none).
template_fits() {
	shift # mariadbd
	for _a in "$@"; do
		case $_a in
			--port=* | --bind[-_]address=* | --max[-_]connections=* | --skip[-_]name[-_]resolve | \
				--innodb[-_]buffer[-_]pool[-_]size=* | --innodb[-_]log[-_]file[-_]size=* | \
				--max[-_]allowed[-_]packet=* | --socket=* | --local[-_]infile=*) ;;
			*) unset _a; return 1 ;;
		esac
	done
	unset _a
	set -- /etc/mysql/conf.d/*
	[ ! -e "$1" ]
}

# discard_system_tables: empties the data directory for `mariadbd --bootstrap` (of a first start
# that was not complete: no client ever connected), $PENDING last, so that an interrupted run
# does the same at the next start (the arguments that chose this have not changed).
discard_system_tables() {
	msg "discarding the system tables (these server arguments or /etc/mysql/conf.d need a bootstrap)"
	for _f in "$DATADIR"/* "$DATADIR"/.[!.]*; do
		[ ! -e "$_f" ] || [ "$_f" = "$DATADIR/$PENDING" ] || rm -rf -- "$_f"
	done
	rm -rf "${DATADIR:?}/$PENDING"
	unset _f
}

# sync_datadir: fsync of the data directory's files and directories (two levels, as the
# template has). Docker's copy into the volume is not synced; the bootstrap syncs what it makes.
sync_datadir() {
	set -- "$DATADIR"
	for _f in "$DATADIR"/* "$DATADIR"/*/*; do
		if [ -e "$_f" ]; then set -- "$@" "$_f"; fi
	done
	sync -- "$@"
	unset _f
}

want_help() {
	for _a in "$@"; do
		case $_a in -'?'|--help|--print-defaults|-V|--version) return 0 ;; esac
	done
	return 1
}

case ${1:-} in -*) set -- mariadbd "$@" ;; esac

if { [ "${1:-}" = mariadbd ] || [ "${1:-}" = mysqld ]; } && ! want_help "$@"; then
	if [ "$(id -u)" = 0 ]; then
		mkdir -p "$DATADIR" /run/mysqld
		chown mysql:mysql "$DATADIR" /run/mysqld
		chmod 1777 /run/mysqld
		exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
	fi

	if [ -d "$DATADIR/$PENDING" ] && ! template_fits "$@"; then
		discard_system_tables
	fi
	if [ -d "$DATADIR/$PENDING" ] || [ ! -d "$DATADIR/mysql" ]; then
		file_env MARIADB_ROOT_PASSWORD
		file_env MARIADB_ROOT_HOST %
		file_env MARIADB_DATABASE
		file_env MARIADB_USER
		file_env MARIADB_PASSWORD
		file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD
		file_env MARIADB_RANDOM_ROOT_PASSWORD
		[ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ] || die "MARIADB_RANDOM_ROOT_PASSWORD is not supported by this local image"
		if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ]; then
			die "database is uninitialized and password option is not specified
  You need to specify one of MARIADB_ROOT_PASSWORD or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
		fi
		[ "$MARIADB_USER" != root ] || die "MARIADB_USER=root: use MARIADB_ROOT_PASSWORD for the root user"
		if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then die "MARIADB_USER is set but MARIADB_PASSWORD is empty"; fi

		msg "initializing $DATADIR${MARIADB_DATABASE:+ (database $MARIADB_DATABASE)}${MARIADB_USER:+ (user $MARIADB_USER)}"
		if [ -d "$DATADIR/$PENDING" ]; then
			msg "system tables already there (the template's, or an earlier start's)"
			sync_datadir
		else
			mkdir -p "$DATADIR"
			_first=$1
			shift
			# the same bootstrap as the template's in recipe.sh
			mariadbd --bootstrap --datadir="$DATADIR" --log-warnings=0 --enforce-storage-engine= \
				--skip-log-bin --max_allowed_packet=8M --net_buffer_length=16K "$@" \
				</usr/share/mysql/berth-bootstrap.sql >/dev/null 2>"$DATADIR/.bootstrap.log" || {
				cat "$DATADIR/.bootstrap.log" >&2
				die "mariadbd --bootstrap failed"
			}
			rm -f "$DATADIR/.bootstrap.log"
			mkdir -m 700 "$DATADIR/$PENDING"
			set -- "$_first" "$@"
		fi

		# accounts, run by the server itself at its first start (before it accepts connections)
		_sql="SET @@SESSION.SQL_LOG_BIN=0;
SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';"
		if [ -n "$MARIADB_ROOT_PASSWORD" ]; then
			_pw=$(sql_string "$MARIADB_ROOT_PASSWORD")
			_sql="$_sql
SET PASSWORD FOR 'root'@'localhost' = PASSWORD($_pw);"
			_ident=" IDENTIFIED BY $_pw"
		else
			_ident=
		fi
		if [ "$MARIADB_ROOT_HOST" != localhost ]; then
			_rh=$(sql_string "$MARIADB_ROOT_HOST")
			_sql="$_sql
CREATE USER 'root'@$_rh$_ident;
GRANT ALL ON *.* TO 'root'@$_rh WITH GRANT OPTION;
REPLACE INTO mysql.proxies_priv VALUES ($_rh, 'root', '', '', TRUE, '', now());
FLUSH PRIVILEGES;"
		fi
		if [ -n "$MARIADB_DATABASE" ]; then
			_sql="$_sql
CREATE DATABASE IF NOT EXISTS $(sql_ident "$MARIADB_DATABASE");"
		fi
		if [ -n "$MARIADB_USER" ]; then
			_u=$(sql_string "$MARIADB_USER")
			_sql="$_sql
CREATE USER $_u@'%' IDENTIFIED BY $(sql_string "$MARIADB_PASSWORD");"
			[ -z "$MARIADB_DATABASE" ] || _sql="$_sql
GRANT ALL ON $(sql_ident "$MARIADB_DATABASE").* TO $_u@'%';"
		fi
		for _f in /docker-entrypoint-initdb.d/*; do
			case $_f in
				*.sql)
					msg "will run $_f at first start"
					_sql="$_sql
USE $(sql_ident "${MARIADB_DATABASE:-mysql}");
$(cat "$_f")"
					;;
				*) [ ! -e "$_f" ] || msg "ignoring $_f (only *.sql is supported)" ;;
			esac
		done
		_sql="$_sql
DROP DATABASE IF EXISTS $PENDING;"
		unset _pw _ident _rh _u _f _first
		unset MARIADB_ROOT_PASSWORD MARIADB_PASSWORD
		msg "MariaDB init process done; the server creates the accounts at its first start."
		exec "$@" --init-file=/dev/fd/3 3<<SQLEOF
$_sql
SQLEOF
	fi
	msg "MariaDB data directory already initialized; skipping initialization"
	unset MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_PASSWORD 2>/dev/null || :
fi

exec "$@"

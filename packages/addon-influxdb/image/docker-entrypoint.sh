#!/bin/sh
# Entrypoint of the locally built berth-local/influxdb image (see recipe.sh beside it, built by
# docker/local-images/build.sh), the same as the official `influxdb` 1.x image's: a first argument
# starting with `-` is given to influxd; any other command runs as is. influxd started as root
# gives the data directory /var/lib/influxdb to the influxdb user (uid 999) and drops to it.
# Unlike the official image's, no init script: its INFLUXDB_ADMIN_USER/_PASSWORD, INFLUXDB_DB,
# INFLUXDB_USER/_PASSWORD and /docker-entrypoint-initdb.d are not supported (Berth makes its
# users with a `docker exec` after the first start: the password stays out of the environment).
set -eu

case ${1:-} in -*) set -- influxd "$@" ;; esac

if [ "${1:-}" = influxd ] && [ "$(id -u)" = 0 ]; then
	chown influxdb:influxdb /var/lib/influxdb 2>/dev/null || :
	exec setpriv --reuid=influxdb --regid=influxdb --init-groups "$0" "$@"
fi

[ "$(umask)" != 0022 ] || umask 0077

exec "$@"

#!/bin/sh
# Entrypoint of the locally built berth-local/redis image (see recipe.sh beside it, built by
# docker/local-images/build.sh), same behaviour as the official `redis` image's: a first
# argument starting with `-` or ending in `.conf` is given to redis-server; redis-server started
# as root drops to the redis user (uid 999) after giving it the working directory /data; umask
# 0077 for the data files. Any other command runs as is.
set -eu

case ${1:-} in -*|*.conf) set -- redis-server "$@" ;; esac

if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
	chown redis:redis . 2>/dev/null || :
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

[ "$(umask)" != 0022 ] || umask 0077

exec "$@"

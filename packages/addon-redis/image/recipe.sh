# Recipe of the local image berth-local/redis:7 (Debian's redis-server): sourced by docker/local-images/build.sh,
# which defines the helpers used here and documents the interface. The image honours the
# environment contract of the official `redis` image, so the addon's code is the same with either.
# shellcheck shell=bash
# shellcheck disable=SC2034 # ENGINE_VERSION and DOCKERFILE_EXTRA are read by build.sh

recipe_rootfs() {
  need_pkg /usr/bin/redis-server redis-server
  ENGINE_VERSION=$(/usr/bin/redis-server --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
  base_rootfs redis 999 /data
  add_bin /usr/bin/redis-server /usr/bin/redis-cli
  add_bin /usr/bin/mv # the users' ACL file, written under a temporary name then renamed into place
  ln -s redis-check-rdb "$ROOTFS/usr/bin/redis-check-aof" 2>/dev/null || true
  install -d -o 999 -g 999 -m 755 "$ROOTFS/data"
  install -m 755 "$RECIPE_DIR/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV REDIS_VERSION=$ENGINE_VERSION"
    "VOLUME /data"
    "WORKDIR /data"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "EXPOSE 6379"
    'CMD ["redis-server"]'
  )
}

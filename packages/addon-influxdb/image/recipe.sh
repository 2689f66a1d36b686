# Recipe of the local image berth-local/influxdb:1.6 (Debian's influxdb 1.6): sourced by
# docker/local-images/build.sh, which defines the helpers used here and documents the interface.
# The image honours the environment contract of the official `influxdb:1.6` image (influxd and
# its arguments, /var/lib/influxdb, /etc/influxdb/influxdb.conf), so the addon's code is the same
# with either. influxd is Debian's Go build (static but for libc); curl goes in for Berth's
# administrative commands (statements sent over the server's socket, the credentials on curl's
# stdin), and tar for its backups (the portable backup is a directory, streamed out and back in as
# one tar archive), as the official image has them.
# shellcheck shell=bash
# shellcheck disable=SC2034 # ENGINE_VERSION and DOCKERFILE_EXTRA are read by build.sh

recipe_rootfs() {
  need_pkg /usr/bin/influxd influxdb
  need_pkg /usr/bin/curl curl
  need_pkg /usr/bin/tar tar
  ENGINE_VERSION=$(/usr/bin/influxd version | sed -n 's/^InfluxDB v\([^ ]*\).*/\1/p')
  base_rootfs influxdb 999 /var/lib/influxdb
  add_bin /usr/bin/influxd /usr/bin/curl /usr/bin/tar
  add_zoneinfo # tz() in queries
  mkdir -p "$ROOTFS/etc/influxdb"
  install -m 644 /etc/influxdb/influxdb.conf "$ROOTFS/etc/influxdb/influxdb.conf"
  install -d -o 999 -g 999 -m 755 "$ROOTFS/var/lib/influxdb"
  install -m 755 "$RECIPE_DIR/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV INFLUXDB_VERSION=$ENGINE_VERSION"
    "VOLUME /var/lib/influxdb"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "EXPOSE 8086"
    'CMD ["influxd"]'
  )
}

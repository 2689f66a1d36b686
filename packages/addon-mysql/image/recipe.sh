# Recipe of the local image berth-local/mariadb:10.11 (Debian's mariadb-server): sourced by docker/local-images/build.sh,
# which defines the helpers used here and documents the interface. The image honours the
# environment contract of the official `mariadb` image, so the addon's code is the same with either.
# shellcheck shell=bash
# shellcheck disable=SC2034 # ENGINE_VERSION and DOCKERFILE_EXTRA are read by build.sh

# template_datadir_mysql DIR: in DIR (owned by uid 999, mode 755), the system tables that the
# entrypoint's `mariadbd --bootstrap` makes (same SQL, same options, the image's my.cnf), plus
# the empty database berth_setup_pending that says the accounts are still to be made. Docker
# copies this into every new named volume at its first mount, and the entrypoint then only has
# the server create the accounts at its first start (--init-file, as before) instead of
# bootstrapping, which made most of a first start. See docker-entrypoint.sh. The
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

recipe_rootfs() {
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
  install -m 755 "$RECIPE_DIR/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
  DOCKERFILE_EXTRA=(
    "ENV MARIADB_VERSION=$ENGINE_VERSION LANG=C.UTF-8"
    "VOLUME /var/lib/mysql"
    'ENTRYPOINT ["docker-entrypoint.sh"]'
    "EXPOSE 3306"
    'CMD ["mariadbd"]'
  )
}

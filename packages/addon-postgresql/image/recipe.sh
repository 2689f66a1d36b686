# Recipe of the local image berth-local/postgresql:15 (Debian's postgresql-15): sourced by docker/local-images/build.sh,
# which defines the helpers used here and documents the interface. The image honours the
# environment contract of the official `postgres` image, so the addon's code is the same with either.
# shellcheck shell=bash
# shellcheck disable=SC2034 # ENGINE_VERSION and DOCKERFILE_EXTRA are read by build.sh

# template_cluster_postgresql PGBIN DIR: in DIR (owned by uid 999, mode 700), the cluster that
# the entrypoint's initdb makes for the default settings, plus the marker file `berth-template`.
# The image's data directory is its volume: Docker copies this into every new named volume at
# its first mount, and the entrypoint then only adds the user and the database (one single-user
# session) instead of running initdb, which made most of a first start. See the header of
# docker-entrypoint.sh. initdb runs here on the host's own binaries and share files
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

recipe_rootfs() {
  local pgbin=/usr/lib/postgresql/15/bin pglib=/usr/lib/postgresql/15/lib pgshare=/usr/share/postgresql/15 f libs so=()
  need_pkg "$pgbin/postgres" postgresql-15
  ENGINE_VERSION=$("$pgbin/postgres" --version | awk '{print $3}')
  base_rootfs postgres 999 /var/lib/postgresql
  for f in postgres initdb pg_ctl psql pg_isready pg_dump pg_dumpall pg_restore pg_basebackup \
    pg_controldata pg_resetwal createdb createuser dropdb dropuser vacuumdb; do
    add_bin "$pgbin/$f"
  done
  ln -s postgres "$ROOTFS$pgbin/postmaster"
  add_bin /usr/bin/{cp,mv} # archive_command: each closed WAL segment into the volume's spool
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
  install -m 755 "$RECIPE_DIR/docker-entrypoint.sh" "$ROOTFS/usr/local/bin/docker-entrypoint.sh"
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

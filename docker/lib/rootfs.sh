# Root-filesystem helpers shared by the image builders (docker/base, docker/local-images):
# images here are made FROM scratch out of the host's own binaries and the libraries ldd lists.
# Source it after setting ROOTFS and defining die.
# shellcheck shell=bash

# add_path /abs/path: copy a file, directory or symlink chain into the rootfs at the same path.
add_path() {
  local p=$1 t
  while :; do
    [[ -e $p || -L $p ]] || die "missing on host: $p"
    if [[ -L $p ]]; then
      if [[ ! -L $ROOTFS$p ]]; then
        mkdir -p "$ROOTFS$(dirname "$p")"
        cp -P "$p" "$ROOTFS$p"
      fi
      t=$(readlink "$p")
      [[ $t == /* ]] || t=$(dirname "$p")/$t
      p=$(realpath -sm "$t")
      continue
    fi
    [[ -e $ROOTFS$p ]] && return 0
    mkdir -p "$ROOTFS$(dirname "$p")"
    cp -a "$p" "$ROOTFS$p"
    return 0
  done
}

# libs_of FILE...: the shared libraries (and loader) that ldd lists for each FILE.
libs_of() {
  local f out
  for f in "$@"; do
    out=$(ldd "$f" 2>&1) || { [[ $out == *"not a dynamic executable"* ]] && continue; die "ldd $f: $out"; }
    [[ $out != *"not found"* ]] || die "ldd $f: a library is missing:"$'\n'"$out"
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
  done | sort -u
}

# add_bin FILE...: the files plus their libraries.
add_bin() {
  local f libs
  for f in "$@"; do add_path "$f"; done
  libs=$(libs_of "$@")
  for f in $libs; do add_path "$f"; done
}

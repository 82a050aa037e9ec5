#!/usr/bin/env bash
# The stand-in images of the data tier and the apps, for the real node (docs/local-engine.md "Stand-in images"):
# built from Debian bookworm packages with mmdebstrap and umoci, no registry and no container runtime.
#
#   scripts/local-images.sh build     build (or reuse) the images into $IMAGES_DIR (OCI archives the node imports)
#   scripts/local-images.sh verify    prove each image's contract: run it from its unpacked rootfs (read-only, as its
#                                     uid, in private mount/pid/network namespaces) and log in through it
#   scripts/local-images.sh list      the images, their sizes and keys
#
# Each image is <name>_<tag>.tar (a umoci OCI layout whose index names the tag) + .tar.name (the name without the
# tag, for `ctr images import --base-name`) + .tar.key (the sha256 of everything that went in: rebuilt only when
# that changes). All four share one base layer: Debian bookworm minbase with PostgreSQL 15, PgBouncer and Redis 7
# (cached by its package list and hooks); each image adds one small layer (its entrypoint, directories, or the app).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLCHAIN_DIR="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}"
IMAGES_DIR="$TOOLCHAIN_DIR/node-images"
# Work files (never *.tar in $IMAGES_DIR: the node imports every one of those): the base tarball, the OCI layout the
# images are assembled in, logs and timings.
WORK="$TOOLCHAIN_DIR/standin-images"
HERE="$SCRIPT_DIR/local-images"

SUITE="bookworm"
MIRRORS=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# Everything the four images run, in one shared layer: the servers, their client tools (psql, pg_dump, pg_restore,
# pg_isready, redis-cli) and nss_wrapper (the postgres entrypoint's arbitrary-uid support, as in the official image).
# The exporters of PostgreSQL and Redis too: their Go modules are not served by the module proxy, Debian packages them.
BASE_PACKAGES="postgresql-15,pgbouncer,redis-server,libnss-wrapper,prometheus-postgres-exporter,prometheus-redis-exporter"
# Never unpacked: documentation, manual pages, translations, and PostgreSQL's LLVM JIT (libLLVM is a hard dependency
# of postgresql-15, about 100 MB; without llvmjit.so PostgreSQL runs with JIT silently unavailable). PostgreSQL's own
# man pages stay: update-alternatives needs psql.1.gz.
PATH_EXCLUDES=(
  '/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*'
  '/usr/lib/*/libLLVM-14.so*' '/usr/lib/postgresql/15/lib/llvmjit*'
  '/usr/lib/postgresql/15/lib/bitcode/*'
)

log() { printf '[local-images] %s\n' "$*" >&2; }
die() { printf '[local-images] ERROR: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum | cut -c1-64; }

# ---- the base layer ----------------------------------------------------------------------------------
# Prints the path of the base root filesystem tarball, built once per package list, exclusion list and hook.
base_tarball() {
  local key out
  key=$(printf '%s\n' "$SUITE" "${MIRRORS[@]}" "$BASE_PACKAGES" "${PATH_EXCLUDES[@]}" "$(mmdebstrap --version)" skip=output/dev \
    "$(sha256sum < "$HERE/base-customize.sh")" | sha)
  out="$WORK/base-${key:0:16}.tar"
  if [[ -f "$out" ]]; then log "base rootfs: cached ($(du -h "$out" | cut -f1), $out)"; echo "$out"; return 0; fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is needed to build the stand-in images (apt-get install mmdebstrap)"
  # no device nodes in the layer (the runtime gives every container its own /dev)
  local opts=(--variant=minbase --format=tar --skip=output/dev --aptopt='Apt::Install-Recommends "false"' --include="$BASE_PACKAGES"
    # no "main" cluster at install time (the customize hook also removes one, should this be ignored)
    --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/ultramarket.conf"'
    --customize-hook="sh '$HERE/base-customize.sh' \"\$1\"")
  local p
  for p in "${PATH_EXCLUDES[@]}"; do opts+=("--dpkgopt=path-exclude=$p"); done
  opts+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
  local t; t=$(date +%s)
  log "base rootfs: mmdebstrap $SUITE with $BASE_PACKAGES (log: $WORK/base.log; about 2 minutes)"
  mmdebstrap "${opts[@]}" "$SUITE" "$out.tmp" "${MIRRORS[@]}" >"$WORK/base.log" 2>&1 \
    || { rm -f "$out.tmp"; tail -n 20 "$WORK/base.log" >&2; die "mmdebstrap failed"; }
  mv "$out.tmp" "$out"
  record_timing base "$(( $(date +%s) - t ))" "$out"
  log "base rootfs: built in $(( $(date +%s) - t ))s ($(du -h "$out" | cut -f1))"
  echo "$out"
}

record_timing() { # <what> <seconds> <file>
  printf '%s\t%s\t%ss\t%s\n' "$(date -u +%FT%TZ)" "$1" "$2" "$(du -b "$3" | cut -f1)" >> "$WORK/timings.tsv"
}

# ---- the images -------------------------------------------------------------------------------------------
LAYOUT="$WORK/layout"   # one OCI layout holding the base and every image (blobs shared); each archive is cut from it
PG_BIN=/usr/lib/postgresql/15/bin
DEBIAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The layout tag of the base layer, added once per base tarball.
base_tag() { # <base tarball>
  local tag; tag="base-$(basename "$1" .tar | cut -d- -f2)"
  [[ -f "$LAYOUT/index.json" ]] || umoci init --layout "$LAYOUT" >&2
  if ! grep -qx "$tag" <<<"$(umoci ls --layout "$LAYOUT")"; then
    log "base layer: adding $(basename "$1") to $LAYOUT (compressing, about a minute)"
    umoci new --image "$LAYOUT:$tag" >&2
    umoci raw add-layer --image "$LAYOUT:$tag" --history.created_by "mmdebstrap --variant=minbase $SUITE + $BASE_PACKAGES (scripts/local-images.sh)" "$1" >&2
  fi
  echo "$tag"
}

# A directory in a layer: mkdir with owner and mode (parents stay root 0755, as in the base).
layer_dir() { # <stage> <path> <owner> <mode>
  mkdir -p "$1$2"; chown "$3" "$1$2"; chmod "$4" "$1$2"
}
layer_file() { # <stage> <path> <source> <mode>
  mkdir -p "$(dirname "$1$2")"; cp "$3" "$1$2"; chown 0:0 "$1$2"; chmod "$4" "$1$2"
}

stage_postgres() { # <stage dir> <base tarball>
  local s="$1"
  layer_file "$s" /usr/local/bin/docker-entrypoint.sh "$HERE/postgres-entrypoint.sh" 0755
  ln -s usr/local/bin/docker-entrypoint.sh "$s/docker-entrypoint.sh"  # the official image's compatibility link
  layer_dir "$s" /docker-entrypoint-initdb.d 0:0 0755
  layer_dir "$s" /var/lib/postgresql 70:70 0755
  layer_dir "$s" /var/lib/postgresql/data 70:70 1777
  layer_dir "$s" /run/postgresql 70:70 3777   # /var/run is a link to /run
  # As the official image: the server listens on every address by default (the pod's own network namespace).
  mkdir -p "$s/usr/share/postgresql/15"
  tar -xOf "$2" ./usr/share/postgresql/15/postgresql.conf.sample \
    | sed -E "s/^#?(listen_addresses)[[:space:]]*=[[:space:]]*[^[:space:]]+(.*)/\1 = '*'\2/" > "$s/usr/share/postgresql/15/postgresql.conf.sample"
  grep -q "^listen_addresses = '\*'" "$s/usr/share/postgresql/15/postgresql.conf.sample" || die "could not set listen_addresses in postgresql.conf.sample"
  chmod 0644 "$s/usr/share/postgresql/15/postgresql.conf.sample"
}
POSTGRES_CONFIG=(--config.entrypoint docker-entrypoint.sh --config.cmd postgres --config.stopsignal SIGINT
  --config.env "PATH=/usr/local/sbin:/usr/local/bin:$PG_BIN:/usr/sbin:/usr/bin:/sbin:/bin" --config.env PG_MAJOR=15
  --config.env PGDATA=/var/lib/postgresql/data --config.env LANG=C.UTF-8
  --config.volume /var/lib/postgresql/data --config.exposedports 5432/tcp)

stage_redis() { # <stage dir>
  local s="$1"
  layer_file "$s" /usr/local/bin/docker-entrypoint.sh "$HERE/redis-entrypoint.sh" 0755
  layer_dir "$s" /data 999:999 0755
  layer_dir "$s" /usr/local/etc/redis 0:0 0755   # where the platform mounts the password file's emptyDir
}
REDIS_CONFIG=(--config.entrypoint docker-entrypoint.sh --config.cmd redis-server --config.workingdir /data
  --config.env "PATH=$DEBIAN_PATH" --config.volume /data --config.exposedports 6379/tcp)

stage_pgbouncer() { # <stage dir>
  local s="$1"
  layer_file "$s" /entrypoint.sh "$HERE/pgbouncer-entrypoint.sh" 0755
  layer_file "$s" /usr/local/bin/pgbouncer "$HERE/pgbouncer-wrapper.sh" 0755
  mkdir -p "$s/usr/bin"; ln -s ../local/bin/pgbouncer "$s/usr/bin/pgbouncer"
  layer_dir "$s" /etc/pgbouncer 0:0 0755
  : > "$s/etc/pgbouncer/pgbouncer.ini"; : > "$s/etc/pgbouncer/userlist.txt"
  layer_dir "$s" /run/pgbouncer 998:996 0755
  layer_dir "$s" /var/log/pgbouncer 998:996 0755
}
PGBOUNCER_CONFIG=(--config.entrypoint /entrypoint.sh --config.user 998:996 --config.env "PATH=$DEBIAN_PATH"
  --config.exposedports 6432/tcp)

# The exporters: nothing of their own beyond the base's binary; the entrypoint and user are the upstream images'
# (a static binary as the entrypoint, the program's args after it; nobody).
stage_exporter() { # <stage dir>
  mkdir -p "$1/etc"; : > "$1/etc/.ultramarket-exporter"
}
POSTGRES_EXPORTER_CONFIG=(--config.entrypoint /usr/bin/prometheus-postgres-exporter --config.user 65534:65534
  --config.env "PATH=$DEBIAN_PATH" --config.exposedports 9187/tcp)
REDIS_EXPORTER_CONFIG=(--config.entrypoint /usr/bin/prometheus-redis-exporter --config.user 65534:65534
  --config.env "PATH=$DEBIAN_PATH" --config.exposedports 9121/tcp)

stage_app() { # <stage dir>
  bash "$REPO_DIR/images/app/stage.sh" "$1" >&2
}
APP_CONFIG=(--config.cmd node --config.cmd server.js --config.workingdir /app --config.user 1000:1000
  --config.env PATH=/usr/local/bin:/usr/bin:/bin)

# Input files of each image besides this script, the base and its own config: a change to any rebuilds it.
image_inputs() { # <stage function>
  case "$1" in
    stage_postgres) echo "$HERE/postgres-entrypoint.sh" ;;
    stage_redis) echo "$HERE/redis-entrypoint.sh" ;;
    stage_pgbouncer) printf '%s\n' "$HERE/pgbouncer-entrypoint.sh" "$HERE/pgbouncer-wrapper.sh" ;;
    stage_exporter) ;;
    stage_app) (cd "$REPO_DIR" && git ls-files -co --exclude-standard images/app | grep -v node_modules | sed "s|^|$REPO_DIR/|"; echo "$SCRIPT_DIR/node.sh") ;;
  esac
}

# build_standin <name:tag> <stage function> <umoci config options...>: the base layer plus one layer of its own.
build_standin() {
  local ref="$1" stage_fn="$2"; shift 2
  local name="${ref%:*}" tag="${ref##*:}" out="$IMAGES_DIR/${ref//[\/:]/_}.tar" base key f t
  base=$(base_tarball)
  key=$( { echo "$ref $(basename "$base")"; printf '%s\n' "$@"; sha256sum < "$0"
           while read -r f; do echo "$f $(sha256sum < "$f")"; done < <(image_inputs "$stage_fn"); } | sha)
  if [[ -f "$out" && "$(cat "$out.key" 2>/dev/null)" == "$key" ]]; then log "image $ref: cached ($(du -h "$out" | cut -f1))"; return 0; fi
  command -v umoci >/dev/null || die "umoci is needed to build the stand-in images (apt-get install umoci)"
  t=$(date +%s)
  local btag stage exp
  btag=$(base_tag "$base")
  stage="$WORK/stage-$tag"; exp="$WORK/export-$tag"
  rm -rf "$stage" "$exp"; mkdir -p "$stage"; chmod 0755 "$stage"
  "$stage_fn" "$stage" "$base"
  # One reproducible layer: sorted, numeric owners, a fixed time.
  tar -C "$stage" --sort=name --numeric-owner --mtime=@0 -cf "$WORK/layer-$tag.tar" .
  umoci rm --image "$LAYOUT:$tag" 2>/dev/null || true
  umoci raw add-layer --image "$LAYOUT:$btag" --tag "$tag" --history.created_by "scripts/local-images.sh $stage_fn" "$WORK/layer-$tag.tar"
  umoci config --image "$LAYOUT:$tag" --author ultramarket-local-images --created "1970-01-01T00:00:00Z" \
    --history.created_by "scripts/local-images.sh: config" "$@"
  # The archive holds this tag only: the layout's index and manifests copied, its blobs hard-linked, the rest collected.
  mkdir -p "$exp"
  cp "$LAYOUT/oci-layout" "$LAYOUT/index.json" "$exp/"
  cp -al "$LAYOUT/blobs" "$exp/blobs"
  for f in $(umoci ls --layout "$exp"); do [[ "$f" == "$tag" ]] || umoci rm --image "$exp:$f"; done
  umoci gc --layout "$exp"
  tar -C "$exp" -cf "$out.tmp" .
  rm -rf "$stage" "$exp" "$WORK/layer-$tag.tar"
  mv "$out.tmp" "$out"
  printf '%s' "$key" > "$out.key"
  printf '%s\n' "$name" > "$out.name"
  record_timing "$ref" "$(( $(date +%s) - t ))" "$out"
  log "image $ref: built in $(( $(date +%s) - t ))s ($(du -h "$out" | cut -f1))"
}

# name:tag -> stage function and config; tags say what is inside (the major version of the server, "standin").
POSTGRES_IMAGE="ultramarket.local/postgres:15-standin"
REDIS_IMAGE="ultramarket.local/redis:7-standin"
PGBOUNCER_IMAGE="ultramarket.local/pgbouncer:1-standin"
APP_IMAGE="ultramarket.local/app:standin"
POSTGRES_EXPORTER_IMAGE="ultramarket.local/postgres-exporter:0-standin"
REDIS_EXPORTER_IMAGE="ultramarket.local/redis-exporter:1-standin"

cmd_build() {
  [[ $(id -u) == 0 ]] || die "building the images needs root (mmdebstrap's root mode, file owners in the layers)"
  umask 022   # the layers' directories and files: 0755/0644 unless set explicitly
  build_standin "$POSTGRES_IMAGE" stage_postgres "${POSTGRES_CONFIG[@]}"
  build_standin "$REDIS_IMAGE" stage_redis "${REDIS_CONFIG[@]}"
  build_standin "$PGBOUNCER_IMAGE" stage_pgbouncer "${PGBOUNCER_CONFIG[@]}"
  build_standin "$APP_IMAGE" stage_app "${APP_CONFIG[@]}"
  build_standin "$POSTGRES_EXPORTER_IMAGE" stage_exporter "${POSTGRES_EXPORTER_CONFIG[@]}"
  build_standin "$REDIS_EXPORTER_IMAGE" stage_exporter "${REDIS_EXPORTER_CONFIG[@]}"
  # Only the current base stays: superseded base tarballs and layout tags go (the archives hold their own blobs).
  local base t; base=$(base_tarball 2>/dev/null)
  find "$WORK" -maxdepth 1 -name 'base-*.tar' ! -name "$(basename "$base")" -delete
  for t in $(umoci ls --layout "$LAYOUT"); do
    [[ $t != base-* || $t == "base-$(basename "$base" .tar | cut -d- -f2)" ]] || umoci rm --image "$LAYOUT:$t"
  done
  umoci gc --layout "$LAYOUT"
}

cmd_list() {
  local ref tar
  for ref in "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$PGBOUNCER_IMAGE" "$APP_IMAGE" "$POSTGRES_EXPORTER_IMAGE" "$REDIS_EXPORTER_IMAGE"; do
    tar="$IMAGES_DIR/${ref//[\/:]/_}.tar"
    if [[ -f "$tar" ]]; then printf '%-40s %6s  key %s\n' "$ref" "$(du -h "$tar" | cut -f1)" "$(cut -c1-16 "$tar.key")"
    else printf '%-40s not built\n' "$ref"; fi
  done
}

# ---- verify ------------------------------------------------------------------------------------------------
VERIFY_ADDRESS=192.0.2.1

cmd_verify() {
  [[ $(id -u) == 0 ]] || die "verify needs root (namespaces, chroot, the images' uids)"
  local b; for b in umoci unshare chroot jq curl bc; do command -v "$b" >/dev/null || die "verify needs $b"; done
  [[ -d "$REPO_DIR/node_modules/ts-node" ]] || die "verify reads the program's artefacts: npm ci first"
  eval "$(bash "$SCRIPT_DIR/node.sh" env)"
  local V ref tar name t rc=0
  V=$(mktemp -d "$WORK/verify.XXXXXX")
  for ref in "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$PGBOUNCER_IMAGE" "$APP_IMAGE"; do
    tar="$IMAGES_DIR/${ref//[\/:]/_}.tar"; name=${ref%:*}; name=${name##*/}
    [[ -f "$tar" ]] || die "$ref is not built: scripts/local-images.sh build"
    mkdir -p "$V/oci-$name"; tar -C "$V/oci-$name" -xf "$tar"
    umoci unpack --image "$V/oci-$name:${ref##*:}" "$V/$name" >/dev/null
    rm -rf "$V/oci-$name"
    log "unpacked $ref ($(du -sh "$V/$name/rootfs" | cut -f1))"
  done
  (cd "$REPO_DIR" && node --require ts-node/register/transpile-only "$HERE/artefacts.ts" "$V/artefacts.json" "$VERIFY_ADDRESS")
  t=$(date +%s)
  unshare --mount --pid --net --fork --mount-proc bash "$HERE/verify-inside.sh" "$V" 2>&1 | tee "$WORK/verify.log" || rc=$?
  # The namespaces are gone with their last process, and their mounts with them; refuse to delete through a mount.
  if grep -qF "$V" /proc/self/mountinfo; then die "mounts under $V are still there; not removing it"; fi
  rm -rf --one-file-system "$V"
  log "verify: $( ((rc == 0)) && echo passed || echo FAILED) in $(( $(date +%s) - t ))s (log: $WORK/verify.log)"
  return $rc
}

mkdir -p "$WORK" "$IMAGES_DIR"
case "${1:-}" in
  build) cmd_build ;;
  base) base_tarball >/dev/null ;;
  list) cmd_list ;;
  verify) cmd_verify ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac

# shellcheck shell=bash
# The real node's images: OCI archives made with umoci, cached by content, imported into containerd.
# Sourced by scripts/local-node.sh (its variables and helpers).

# ---- images --------------------------------------------------------------------------------------
# Each image is an OCI archive made with umoci from files on this machine, cached by the sha256 of what goes in.
build_image() { # <name:tag> <entrypoint> <user> <file in rootfs>=<source> ...
  local ref="$1" entry="$2" user="$3"; shift 3
  local name="${ref%%:*}" tag="${ref##*:}" out="$IMAGES_DIR/${ref//[\/:]/_}.tar" spec key
  spec="$ref $entry $user"
  for spec_file in "$@"; do spec+=" ${spec_file%%=*}=$(sha256sum < "${spec_file#*=}" | cut -c1-64)"; done
  key=$(printf '%s' "$spec" | sha256sum | cut -c1-64)
  if [[ -f "$out" && "$(cat "$out.key" 2>/dev/null)" == "$key" ]]; then log "image $ref: cached"; return 0; fi
  command -v umoci >/dev/null || die "umoci is needed to build the node's images (apt-get install umoci)"
  local work; work=$(mktemp -d)
  (
    set -e
    cd "$work"
    umoci init --layout layout
    umoci new --image "layout:$tag"
    umoci unpack --image "layout:$tag" bundle >/dev/null
    mkdir -p bundle/rootfs/etc bundle/rootfs/tmp
    chmod 1777 bundle/rootfs/tmp
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > bundle/rootfs/etc/passwd
    printf 'root:x:0:\nnogroup:x:65534:\n' > bundle/rootfs/etc/group
    local f dest
    for f in "$@"; do
      dest="bundle/rootfs/${f%%=*}"
      mkdir -p "$(dirname "$dest")"
      cp "${f#*=}" "$dest"
      if [[ -x "${f#*=}" ]]; then chmod 0755 "$dest"; else chmod 0644 "$dest"; fi
    done
    if [[ -x bundle/rootfs/bin/busybox ]]; then
      local applet
      for applet in $(bundle/rootfs/bin/busybox --list); do
        [[ -e "bundle/rootfs/bin/$applet" ]] || ln -s busybox "bundle/rootfs/bin/$applet"
      done
    fi
    umoci repack --image "layout:$tag" bundle
    umoci config --image "layout:$tag" --config.entrypoint "$entry" --config.user "$user" \
      --config.env PATH=/bin:/usr/bin --author ultramarket-local-node
    umoci gc --layout layout
    tar -C layout -cf "$out.tmp" .
  ) >"$IMAGES_DIR/build.log" 2>&1 || { rm -rf "$work"; tail -n 20 "$IMAGES_DIR/build.log" >&2; die "building image $ref failed"; }
  rm -rf "$work"
  mv "$out.tmp" "$out"
  printf '%s' "$key" > "$out.key"
  printf '%s\n' "$name" > "$out.name"
  log "image $ref: built ($(du -h "$out" | cut -f1))"
}

cmd_images() {
  mkdir -p "$IMAGES_DIR"
  command -v gcc >/dev/null || die "gcc is needed to build the pause binary (apt-get install gcc libc6-dev)"
  local busybox; busybox=$(command -v busybox || true)
  [[ -n "$busybox" ]] && ! ldd "$busybox" >/dev/null 2>&1 || die "a static busybox is needed for the node's test image (apt-get install busybox-static)"
  [[ -x "$BIN/coredns" ]] || die "coredns is missing from $BIN: npm run toolchain"
  local pause="$IMAGES_DIR/pause"
  if [[ ! -x "$pause" || "$SCRIPT_DIR/local-node/pause.c" -nt "$pause" ]]; then
    gcc -static -Os -o "$pause.tmp" "$SCRIPT_DIR/local-node/pause.c" && strip "$pause.tmp" && mv "$pause.tmp" "$pause"
  fi
  build_image "$PAUSE_IMAGE" /pause 65535:65535 "pause=$pause"
  [[ -f /etc/services ]] || die "/etc/services is missing (apt-get install netbase)"
  build_image "$BUSYBOX_IMAGE" /bin/sh 65534:65534 "bin/busybox=$busybox" "etc/nsswitch.conf=$SCRIPT_DIR/local-node/nsswitch.conf" \
    "etc/services=/etc/services"
  build_image "$COREDNS_IMAGE" /coredns 0:0 "coredns=$BIN/coredns"
  [[ -x "$BIN/prometheus" ]] || die "prometheus is missing from $BIN: npm run toolchain"
  build_image "$PROMETHEUS_IMAGE" /bin/prometheus 65534:65534 "bin/prometheus=$BIN/prometheus"
}

import_images() {
  local tar name
  for tar in "$IMAGES_DIR"/*.tar; do
    name=$(cat "$tar.name")
    "$BIN/ctr" --address "$NODE_DIR/containerd/containerd.sock" -n k8s.io images import --base-name "$name" \
      --no-unpack=false "$tar" >/dev/null || die "could not import $tar into containerd"
  done
}

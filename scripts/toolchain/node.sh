# shellcheck shell=bash
# The real node's pieces of the toolchain (containerd, CoreDNS, kube-router, the node's images) and the
# stand-in images. Sourced by scripts/toolchain.sh: its pins, run_step, stamps and paths.

# ---- the real node: containerd, CoreDNS, kube-router ---------------------------------------------------
build_containerd() {
  local key="containerd $CONTAINERD_VERSION"
  if stamp_ok containerd "$key" && [[ -x "$BIN/containerd" && -x "$BIN/containerd-shim-runc-v2" && -x "$BIN/ctr" ]]; then
    log "containerd $CONTAINERD_VERSION: cached"; return 0
  fi
  go_required
  # No cgo: the btrfs and devmapper snapshotters (cgo, headers) are left out; overlayfs is what the node uses.
  run_step containerd "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=0 go install -trimpath -tags 'no_btrfs no_devmapper' \
      -ldflags '$GO_LDFLAGS_BASE -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION' \
      github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION \
      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION \
      github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" || return 1
  stamp_set containerd "$key"
}

build_coredns() {
  local key="coredns $COREDNS_VERSION"
  if stamp_ok coredns "$key" && [[ -x "$BIN/coredns" ]]; then log "coredns $COREDNS_VERSION: cached"; return 0; fi
  go_required
  run_step coredns "github.com/coredns/coredns@$COREDNS_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=0 go install -trimpath -ldflags '$GO_LDFLAGS_BASE' github.com/coredns/coredns@$COREDNS_VERSION" || return 1
  stamp_set coredns "$key"
}

build_kube_router() {
  local key="kube-router $KUBE_ROUTER_VERSION"
  if stamp_ok kube-router "$key" && [[ -x "$BIN/kube-router" ]]; then log "kube-router $KUBE_ROUTER_VERSION: cached"; return 0; fi
  go_required
  run_step kube-router "github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=0 go install -trimpath -ldflags '$GO_LDFLAGS_BASE' \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION" || return 1
  stamp_set kube-router "$key"
}

# ---- the node's OCI images (pause, busybox, CoreDNS, Prometheus): scripts/local-node.sh images ------------
build_node_images() {
  run_step node-images "scripts/local-node.sh images (umoci, busybox-static, gcc)" bash "$SCRIPT_DIR/local-node.sh" images || return 1
}

# ---- the stand-in images of the data tier and the apps: scripts/local-images.sh build ----------------------------
# The local stack runs them on the real node (docs/local-engine.md "Stand-in images"). Cached by content: rebuilt
# when an input changes (the app's source included); the first build takes a few minutes (mmdebstrap from
# deb.debian.org).
build_standin_images() {
  run_step standin-images "scripts/local-images.sh build (mmdebstrap bookworm + umoci)" bash "$SCRIPT_DIR/local-images.sh" build || return 1
}

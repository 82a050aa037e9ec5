#!/usr/bin/env bash
# The real node of the local cluster: containers really run (scripts/local-cluster.sh starts it after the
# control plane; docs/local-engine.md "The real node").
#
#   scripts/local-node.sh images      build (or reuse) the node's OCI images, cached by content in the toolchain dir
#   scripts/local-node.sh start       bridge, egress guard, containerd + runc, kubelet, kube-proxy (nftables),
#                                     kube-router (NetworkPolicy) and CoreDNS; register the node and wait until Ready
#   scripts/local-node.sh stop        stop all of it and remove what it made on the host (processes, mounts,
#                                     network namespaces, nftables tables, the bridge, cgroups, kubelet dirs)
#   scripts/local-node.sh status      which node processes run
#   scripts/local-node.sh leftovers   list anything of the node still on the host; exit 1 if there is any
#   scripts/local-node.sh recycle-volumes   empty the node's Released volumes and make them Available again (their
#                                     claims were deleted; the bench's rounds reuse the node's dozen volumes)
#
# Everything runs as root on this machine, but the host keeps its settings:
# - containerd, the kubelet, kube-proxy, kube-router and their children run in a private mount namespace
#   (unshare -m --propagation slave): their mounts never reach the host, and the sysctls the kubelet and the CNI
#   plugins would set (vm.overcommit_memory, vm.panic_on_oom, kernel.panic, kernel.panic_on_oops, kernel.keys.root_max*,
#   net.ipv4.ip_forward) are ordinary files bind-mounted over /proc/sys in that namespace;
# - pods live on the bridge $BRIDGE in $POD_CIDR (RFC 2544's benchmarking range: never a real network); only
#   that bridge forwards (its own forwarding sysctl; the host's net.ipv4.ip_forward is untouched), nothing is
#   masqueraded, and the nftables table inet $NFT_TABLE drops any forwarded packet from the pod range that would
#   leave through anything but the bridge (and any packet for it that arrives from elsewhere);
# - cgroups under /ultramarket-node in each v1 hierarchy, state under $CLUSTER_DIR/node.
set -euo pipefail
# containerd's snapshots, the kubelet's volumes and the images' rootfs take their modes from the process umask: the
# caller's (local-cluster.sh writes its kubeconfigs under 077) would make every container's / unreadable to non-root
# users. Secret files (keys, kubeconfigs) set their own.
umask 022

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLCHAIN_DIR="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}"
BIN="$TOOLCHAIN_DIR/bin"
CLUSTER_DIR="${ULTRAMARKET_CLUSTER_DIR:-$REPO_DIR/.local/cluster}"
KUBECONFIG_OUT="${ULTRAMARKET_KUBECONFIG:-$REPO_DIR/.local/kubeconfig}"
API_PORT="${ULTRAMARKET_APISERVER_PORT:-16443}"
PKI="$CLUSTER_DIR/pki"
NODE_DIR="$CLUSTER_DIR/node"
RUN="$NODE_DIR/run"
LOGS="$NODE_DIR/logs"
IMAGES_DIR="$TOOLCHAIN_DIR/node-images"
# The app registry: every `<APP_REGISTRY>/ultramarket/<app>:<tag>` is the stand-in app image (local-node/registry.js).
APP_REGISTRY="127.0.0.1:${ULTRAMARKET_APP_REGISTRY_PORT:-5001}"
APP_IMAGE_ARCHIVE="$IMAGES_DIR/ultramarket.local_app_standin.tar"
# What the host looked like before the node started (kept outside the cluster dir, which purge deletes): the
# directories start made and the sysctls it must not change, read back by stop and leftovers.
HOST_STATE="${ULTRAMARKET_NODE_HOST_STATE:-$(dirname "$CLUSTER_DIR")/node-host-state}"

NODE_NAME="${ULTRAMARKET_NODE_NAME:-ultramarket-node}"
BRIDGE="${ULTRAMARKET_NODE_BRIDGE:-um0}"
POD_CIDR="198.18.0.0/16"
NODE_IP="198.18.0.1"
SERVICE_CIDR="10.96.0.0/16"
DNS_IP="10.96.0.10"
NFT_TABLE="ultramarket_node"
CGROUP_ROOT="ultramarket-node"
# Only what is placed here on purpose runs for real: the local stack's workloadPlacement and dataStorePlacement
# (Pulumi.local.yaml) tolerate this taint, as do CoreDNS and the e2e node suite. Everything else, the e2e suites'
# throwaway stacks and earlier program versions included, stays on the simulated kwok nodes.
NODE_TAINT_KEY="ultramarket.local/real-node"
KUBELET_PORT=10250
CNI_BIN_DIR="${ULTRAMARKET_CNI_BIN_DIR:-/usr/lib/cni}"
RUNC="${ULTRAMARKET_RUNC:-$(command -v runc || echo /usr/sbin/runc)}"
# Host paths the kubelet, containerd's shims and runc, and CNI write whatever their configured roots: inside the
# node's mount namespace each is a bind mount of a directory under $NODE_DIR; on the host only the empty mount
# point exists, removed on stop when start made it.
HOST_DIRS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/netns /run/containerd /var/lib/containerd)
# The kernel tunables the kubelet sets (setupKernelTunables) and the one CNI plugins set: shadowed in the node's
# mount namespace; these and the others below are read back by `leftovers`.
SYSCTL_SHADOWED=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes net/ipv4/ip_forward)
SYSCTL_WATCHED=(net/bridge/bridge-nf-call-iptables net/ipv4/conf/all/route_localnet net/netfilter/nf_conntrack_max net/netfilter/nf_conntrack_tcp_timeout_established net/netfilter/nf_conntrack_tcp_timeout_close_wait net/ipv4/conf/default/forwarding)

# name:tag -> how it is made (image_* functions below); tags carry the version of what is inside.
PAUSE_IMAGE="ultramarket.local/pause:3.10-local"
BUSYBOX_IMAGE="ultramarket.local/busybox:1.35-debian"
COREDNS_IMAGE="ultramarket.local/coredns:v1.15.0"
# The e2e monitoring loop's Prometheus (tests/e2e/support/prometheus.ts): the toolchain's `prometheus` piece.
PROMETHEUS_IMAGE="ultramarket.local/prometheus:3.16.0"

log() { printf '[local-node] %s\n' "$*" >&2; }
die() { printf '[local-node] ERROR: %s\n' "$*" >&2; exit 1; }
kubectl_local() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }
pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
wait_for() { # <timeout seconds> <command...>
  local timeout="$1" i; shift
  for ((i = 0; i < timeout * 2; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

# shellcheck source=local-node/images.sh
source "$SCRIPT_DIR/local-node/images.sh"
# shellcheck source=local-node/config.sh
source "$SCRIPT_DIR/local-node/config.sh"
# shellcheck source=local-node/host.sh
source "$SCRIPT_DIR/local-node/host.sh"

# ---- preconditions ---------------------------------------------------------------------------------
require_node() {
  local missing=() b
  [[ $(id -u) == 0 ]] || die "the real node needs root (containers, network namespaces, nftables); set ULTRAMARKET_REAL_NODE=0 for kwok only"
  for b in containerd containerd-shim-runc-v2 ctr kubelet kube-proxy coredns kube-router; do
    [[ -x "$BIN/$b" ]] || missing+=("$BIN/$b (npm run toolchain)")
  done
  [[ -x "$RUNC" ]] || missing+=("runc (apt-get install runc)")
  for b in bridge host-local loopback portmap; do
    [[ -x "$CNI_BIN_DIR/$b" ]] || missing+=("$CNI_BIN_DIR/$b (apt-get install containernetworking-plugins)")
  done
  for b in nft unshare ip; do command -v "$b" >/dev/null || missing+=("$b (apt-get install nftables util-linux iproute2)"); done
  for b in iptables ipset; do command -v "$b" >/dev/null || missing+=("$b (apt-get install $b; kube-router programs NetworkPolicies with them)"); done
  [[ ${#missing[@]} -eq 0 ]] || die "missing: ${missing[*]}"
  [[ -d /sys/fs/cgroup/memory && -d /sys/fs/cgroup/cpu && -d /sys/fs/cgroup/pids ]] \
    || [[ -f /sys/fs/cgroup/cgroup.controllers ]] || die "no usable cgroup hierarchy under /sys/fs/cgroup"
  [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null)" == 1 ]] \
    || die "net.bridge.bridge-nf-call-iptables must be 1 (bridged pod traffic through netfilter, for Services and NetworkPolicies): sysctl -w net.bridge.bridge-nf-call-iptables=1"
  ls "$IMAGES_DIR"/*.tar >/dev/null 2>&1 || die "the node's images are not built: npm run toolchain"
}

# ---- the node's processes --------------------------------------------------------------------------
# Runs inside `unshare -m --propagation slave`: the sysctl shadows, then containerd, the kubelet and kube-proxy.
cmd_inside() {
  local f shadow
  for f in "${SYSCTL_SHADOWED[@]}"; do
    shadow="$NODE_DIR/sysctl/${f//\//.}"
    cat "/proc/sys/$f" > "$shadow"
    mount --bind "$shadow" "/proc/sys/$f"
  done
  # Paths the kubelet, containerd's shims and runc, and the CNI plugins use whatever their configured roots: each is
  # the node's own directory here (the host sees at most an empty mount point, removed on stop).
  local d own
  for d in "${HOST_DIRS[@]}"; do
    own="$NODE_DIR/host${d//\//_}"
    mkdir -p "$d" "$own"
    mount --bind "$own" "$d"
  done
  export PATH="$BIN:$PATH"
  "$BIN/containerd" --config "$NODE_DIR/containerd/config.toml" >"$LOGS/containerd.log" 2>&1 &
  echo $! > "$RUN/containerd.pid"
  wait_for 60 "$BIN/ctr" --address "$NODE_DIR/containerd/containerd.sock" version || { echo "containerd did not start"; exit 1; }
  touch "$RUN/containerd.ready"
  # the kubelet starts once the images are imported (start waits for this file)
  wait_for 300 test -f "$RUN/images.ready" || { echo "images were not imported"; exit 1; }
  "$BIN/kubelet" --config "$NODE_DIR/kubelet.yaml" --kubeconfig "$NODE_DIR/kubelet.kubeconfig" \
    --root-dir "$NODE_DIR/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "ultramarket.local/node=real" >"$LOGS/kubelet.log" 2>&1 &
  echo $! > "$RUN/kubelet.pid"
  "$BIN/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml" >"$LOGS/kube-proxy.log" 2>&1 &
  echo $! > "$RUN/kube-proxy.pid"
  # NetworkPolicy only: no routing, no service proxy, no CNI, no pod egress NAT, no health or metrics port. kube-router
  # exits when its Node object does not exist yet, so it starts once the kubelet has registered the node.
  wait_for 120 kubectl_local get node "$NODE_NAME" || { echo "the kubelet did not register node $NODE_NAME"; exit 1; }
  "$BIN/kube-router" --kubeconfig "$NODE_DIR/kube-router.kubeconfig" --hostname-override "$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-cni=false --enable-pod-egress=false --enable-ipv6=false --health-port=0 --metrics-port=0 \
    --service-cluster-ip-range "$SERVICE_CIDR" --iptables-sync-period 30s >"$LOGS/kube-router.log" 2>&1 &
  echo $! > "$RUN/kube-router.pid"
  wait
}

# The cluster add-ons of the node: kube-router's RBAC, CoreDNS (host network, on the node's address, behind the
# kube-dns Service), and a static local StorageClass with its volumes.
apply_addons() {
  local i pvs=""
  for ((i = 0; i < ${ULTRAMARKET_NODE_VOLUMES:-12}; i++)); do
    mkdir -p "$NODE_DIR/volumes/pv-$i"
    pvs+="---
apiVersion: v1
kind: PersistentVolume
metadata: {name: $NODE_NAME-pv-$i, labels: {ultramarket.local/node-volume: \"true\"}}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local-node
  local: {path: \"$NODE_DIR/volumes/pv-$i\"}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]
"
  done
  sed -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@DNS_IP@|$DNS_IP|g" \
      -e "s|@API_PORT@|$API_PORT|g" -e "s|@TAINT@|$NODE_TAINT_KEY|g" \
      -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" \
      "$SCRIPT_DIR/local-node/addons.yaml" | kubectl_local apply -f - >/dev/null
  printf '%s' "$pvs" | kubectl_local apply -f - >/dev/null
}

cmd_start() {
  require_node
  mkdir -p "$RUN" "$LOGS"
  if pid_alive node; then
    log "node $NODE_NAME already running (namespace holder pid $(cat "$RUN/node.pid"))"
  else
    local t; t=$(date +%s)
    nft list table inet "$NFT_TABLE" >/dev/null 2>&1 && ! pid_alive node && log "removing the egress guard of an earlier node"
    if nft list table ip kube-proxy >/dev/null 2>&1 || ipset list -n 2>/dev/null | grep -q '^kube-router'; then
      die "nftables tables of another kube-proxy or kube-router's ipsets exist on this host; run scripts/local-node.sh stop, or stop that cluster first"
    fi
    gen_node_pki
    write_configs
    # A fresh record unless an earlier node was never stopped (its directories are not the host's own).
    [[ -f "$HOST_STATE/made" && ! -f "$HOST_STATE/stopped" ]] || record_host_state
    rm -f "$HOST_STATE/stopped"
    make_cgroups
    host_network_up
    start_registry
    rm -f "$RUN/containerd.ready" "$RUN/images.ready"
    rm -f "$NODE_DIR/containerd/containerd.sock" "$NODE_DIR/containerd/containerd.sock.ttrpc"  # stale after a kill
    # RBAC, CoreDNS and the volumes first: kube-router and the kubelet find their permissions in place
    apply_addons
    setsid unshare -m --propagation slave bash "$0" _inside >"$LOGS/node.log" 2>&1 < /dev/null &
    echo $! > "$RUN/node.pid"
    wait_for 60 test -f "$RUN/containerd.ready" || { tail -n 20 "$LOGS/containerd.log" "$LOGS/node.log" >&2; die "containerd did not start"; }
    import_images
    touch "$RUN/images.ready"
    log "containerd, kubelet and kube-proxy started (logs in $LOGS) in $(( $(date +%s) - t ))s"
  fi
  wait_for 120 kubectl_local wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s \
    || { tail -n 20 "$LOGS/kubelet.log" >&2; die "node $NODE_NAME did not become Ready within 120s"; }
  apply_addons
  local n
  wait_for 30 pid_alive kube-router || true
  for n in containerd kubelet kube-proxy kube-router; do
    pid_alive "$n" || { tail -n 20 "$LOGS/$n.log" >&2; die "$n is not running (log: $LOGS/$n.log)"; }
  done
  kubectl_local -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null \
    || { kubectl_local -n kube-system get pods -o wide >&2; die "CoreDNS did not become ready"; }
  log "node $NODE_NAME Ready ($(kubectl_local get node "$NODE_NAME" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')), CoreDNS on $DNS_IP, NetworkPolicies enforced, StorageClass local-node"
}

# The app registry, serving the stand-in app image's OCI layout (unpacked again only when the image changed).
start_registry() {
  local dir="$NODE_DIR/registry"
  if [[ ! -f "$APP_IMAGE_ARCHIVE" ]]; then
    log "no stand-in app image ($APP_IMAGE_ARCHIVE): app pods cannot pull; build it with: bash scripts/local-images.sh build"
    return 0
  fi
  if ! cmp -s "$APP_IMAGE_ARCHIVE.key" "$dir/.key" 2>/dev/null; then
    rm -rf "$dir" && mkdir -p "$dir" && tar -xf "$APP_IMAGE_ARCHIVE" -C "$dir" && cp "$APP_IMAGE_ARCHIVE.key" "$dir/.key"
  fi
  setsid node "$SCRIPT_DIR/local-node/registry.js" "$dir" "${APP_REGISTRY#*:}" >"$LOGS/registry.log" 2>&1 < /dev/null &
  echo $! > "$RUN/registry.pid"
  wait_for 10 curl -sf "http://$APP_REGISTRY/v2/" || { tail -n 5 "$LOGS/registry.log" >&2; die "the app registry did not start on $APP_REGISTRY"; }
}

cmd_stop() {
  local pids i
  if [[ -f "$RUN/registry.pid" ]]; then kill -TERM "$(cat "$RUN/registry.pid")" 2>/dev/null || true; fi
  if [[ -f "$RUN/kubelet.pid" ]]; then kill -TERM "$(cat "$RUN/kubelet.pid")" 2>/dev/null || true; fi
  for ((i = 0; i < 5; i++)); do
    pids=$(node_pids | sort -u)
    [[ -n "$pids" ]] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  [[ -z "$(node_pids)" ]] || log "WARNING: processes still alive: $(node_pids | sort -u | tr '\n' ' ')"
  rm -f "$RUN"/*.pid "$RUN"/*.ready 2>/dev/null || true
  local h
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$h" ]] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  nft delete table inet "$NFT_TABLE" 2>/dev/null || true
  local t
  while read -r t; do
    # shellcheck disable=SC2086
    [[ -n "$t" ]] && nft delete $t 2>/dev/null || true
  done < <(new_nft_tables)
  while read -r t; do [[ -n "$t" ]] && ipset destroy "$t" 2>/dev/null || true; done < <(new_ipsets)
  ip link del "$BRIDGE" 2>/dev/null || true
  if [[ -f "$HOST_STATE/made" ]]; then
    local d
    while read -r d; do [[ -n "$d" && -e "$d" ]] && rm -rf --one-file-system "$d"; done < "$HOST_STATE/made"
  fi
  [[ -d "$HOST_STATE" ]] && touch "$HOST_STATE/stopped"
  log "node $NODE_NAME stopped; host cleaned"
}

# A Released volume's claim is gone (Retain keeps the PV and its files): empty its directory, then drop the claimRef so
# the next claim can bind it. Only the node's own volumes (their label, a path under $NODE_DIR/volumes) are touched.
cmd_recycle_volumes() {
  local name path n=0
  while read -r name path; do
    [[ -n "$name" ]] || continue
    case "$path" in "$NODE_DIR"/volumes/pv-[0-9]*) ;; *) log "skipping $name: $path is not one of the node's volumes"; continue ;; esac
    [[ -d "$path" ]] && find "$path" -mindepth 1 -delete
    kubectl_local patch pv "$name" --type json -p '[{"op":"remove","path":"/spec/claimRef"}]' >/dev/null
    n=$((n + 1))
  done < <(kubectl_local get pv -l ultramarket.local/node-volume=true \
    -o jsonpath='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{" "}{.spec.local.path}{"\n"}{end}')
  log "recycled $n Released volume(s) of $NODE_NAME"
}

cmd_status() {
  local n rc=0
  for n in node containerd kubelet kube-proxy kube-router registry; do
    if pid_alive "$n"; then log "$n: running (pid $(cat "$RUN/$n.pid"))"; else log "$n: not running"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  images) cmd_images ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  leftovers) cmd_leftovers ;;
  recycle-volumes) cmd_recycle_volumes ;;
  _inside) cmd_inside ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac

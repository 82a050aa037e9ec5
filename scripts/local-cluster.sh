#!/usr/bin/env bash
# A local Kubernetes control plane on 127.0.0.1 for `npm run local:up` and the e2e tests.
#
#   scripts/local-cluster.sh start    start (or reuse) kine, kube-apiserver, controller-manager,
#                                     scheduler and kwok; create fake nodes; write the kubeconfig
#   scripts/local-cluster.sh stop     stop the processes this script started (by their pid files)
#   scripts/local-cluster.sh purge    stop, then delete the cluster's data (certificates, database)
#   scripts/local-cluster.sh status   show which processes run and whether the API server is ready
#   scripts/local-cluster.sh kubeconfig   print the kubeconfig path
#
# Real: kube-apiserver (validation, admission, RBAC, defaulting), storage through kine on sqlite,
# kube-controller-manager (Deployments, ReplicaSets, StatefulSets, Jobs, endpoints, garbage
# collection, service accounts), kube-scheduler (placement on the fake nodes).
# Simulated by kwok (no containers ever run, no images are pulled): nodes and their heartbeats,
# pods becoming Running/Ready (Job pods Succeeded), dynamic volume provisioning through the
# `kwok-volume` default StorageClass (PVCs bind to made-up hostPath PVs), and Ingress /
# LoadBalancer Service status (127.0.0.1). There is no kubelet, no kube-proxy, no CNI, no DNS:
# probes are not executed and no traffic reaches any pod.
#
# Everything listens on 127.0.0.1 only. The kubeconfig is written to
# ${ULTRAMARKET_KUBECONFIG:-<repo>/.local/kubeconfig}; the user's ~/.kube/config is never read or
# written. Data lives in ${ULTRAMARKET_CLUSTER_DIR:-<repo>/.local/cluster} (git-ignored).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLCHAIN_DIR="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}"
BIN="$TOOLCHAIN_DIR/bin"
CLUSTER_DIR="${ULTRAMARKET_CLUSTER_DIR:-$REPO_DIR/.local/cluster}"
KUBECONFIG_OUT="${ULTRAMARKET_KUBECONFIG:-$REPO_DIR/.local/kubeconfig}"
PKI="$CLUSTER_DIR/pki"
RUN="$CLUSTER_DIR/run"
LOGS="$CLUSTER_DIR/logs"

API_PORT="${ULTRAMARKET_APISERVER_PORT:-16443}"
KINE_PORT="${ULTRAMARKET_KINE_PORT:-12379}"
KINE_METRICS_PORT="${ULTRAMARKET_KINE_METRICS_PORT:-12380}"
CM_PORT="${ULTRAMARKET_CONTROLLER_MANAGER_PORT:-11257}"
SCHED_PORT="${ULTRAMARKET_SCHEDULER_PORT:-11259}"
KWOK_PORT="${ULTRAMARKET_KWOK_PORT:-11247}"
NODE_COUNT="${ULTRAMARKET_FAKE_NODES:-3}"
# The real node (scripts/local-node.sh): containerd + runc, kubelet, kube-proxy, CoreDNS, NetworkPolicy enforcement.
# 0 leaves only the kwok nodes (no root needed).
REAL_NODE="${ULTRAMARKET_REAL_NODE:-1}"
SERVICE_CIDR="10.96.0.0/16"
POD_CIDR="10.244.0.1/16"

log() { printf '[local-cluster] %s\n' "$*" >&2; }
die() { printf '[local-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

kubectl_local() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

require_toolchain() {
  local b missing=()
  for b in kine kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do
    [[ -x "$BIN/$b" ]] || missing+=("$b")
  done
  [[ -d "$TOOLCHAIN_DIR/kwok-stages" ]] || missing+=("kwok-stages")
  [[ -d "$TOOLCHAIN_DIR/crds" ]] || missing+=("crds")
  [[ ${#missing[@]} -eq 0 ]] || die "missing from $BIN: ${missing[*]}; build them with: npm run toolchain"
  command -v openssl >/dev/null || die "openssl is needed to generate the cluster certificates (apt-get install openssl)"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -f "$RUN/$1.pid" ]] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# ---- certificates -------------------------------------------------------------------------------
gen_pki() {
  mkdir -p "$PKI"
  if [[ -f "$PKI/admin.crt" && -f "$PKI/apiserver.crt" && -f "$PKI/sa.key" && -f "$PKI/apiserver-kubelet-client.crt" ]]; then return 0; fi
  log "generating a local CA and certificates in $PKI"
  (
    cd "$PKI"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=ultramarket-local-ca" 2>/dev/null
    cat > apiserver.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 3650 \
      -extfile apiserver.ext 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > client.ext
    # admin (system:masters) is used by the operator, kwok and the e2e tests; the controllers get their own identities.
    gen_client() { # <file name> <subject>
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 \
        -extfile client.ext 2>/dev/null
    }
    gen_client admin "/O=system:masters/CN=ultramarket-admin"
    gen_client controller-manager "/CN=system:kube-controller-manager"
    gen_client scheduler "/CN=system:kube-scheduler"
    # the API server's identity towards the kubelet (logs, exec, port-forward on the real node)
    gen_client apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr
  )
}

write_kubeconfig() { # <file> <cert name> <context name>
  local file="$1" cert="$2" ctx="$3"
  mkdir -p "$(dirname "$file")"
  local tmp="$file.tmp" old_umask
  old_umask=$(umask)
  umask 077
  cat > "$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ultramarket-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $cert
  user:
    client-certificate-data: $(base64 -w0 < "$PKI/$cert.crt")
    client-key-data: $(base64 -w0 < "$PKI/$cert.key")
contexts:
- name: $ctx
  context:
    cluster: ultramarket-local
    user: $cert
current-context: $ctx
EOF
  mv "$tmp" "$file"
  umask "$old_umask"  # only the kubeconfig is private: what starts later (the node's containers) needs 022
}

# start_proc <name> <binary> <args...>: background process, pid file, log file
start_proc() {
  local name="$1"; shift
  if pid_alive "$name"; then log "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  nohup "$@" >"$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
  log "started $name (pid $!, log $LOGS/$name.log)"
}

wait_for() { # <description> <timeout seconds> <command...>
  local what="$1" timeout="$2" i; shift 2
  for ((i = 0; i < timeout * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

apiserver_ready() {
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz" | grep -q ok
}

fail_with_log() { # <name> <message>
  log "$2; last lines of $LOGS/$1.log:"
  tail -n 20 "$LOGS/$1.log" 2>/dev/null | sed 's/^/[local-cluster]   /' >&2 || true
  exit 1
}

write_kwok_config() {
  local out="$CLUSTER_DIR/kwok.yaml" f
  {
    for f in "$TOOLCHAIN_DIR"/kwok-stages/*.yaml "$SCRIPT_DIR"/local-cluster/stages/*.yaml; do
      [[ "$(basename "$f")" == "storage-class.yaml" ]] && continue
      cat "$f"; printf '\n---\n'
    done
  } > "$out"
}

# The CRDs of the production stack's kinds (scripts/toolchain.sh `crds`), before kwok starts: its stages for
# Gateways, HTTPRoutes and Certificates watch those kinds. Server-side: some CRDs exceed the annotation client-side
# apply would write.
apply_crds() {
  kubectl_local apply --server-side --force-conflicts -f "$TOOLCHAIN_DIR/crds" >/dev/null
  kubectl_local wait --for=condition=Established crd --all --timeout=60s >/dev/null
}

apply_fake_nodes() {
  local i manifest=""
  for ((i = 0; i < NODE_COUNT; i++)); do
    manifest+="---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    topology.kubernetes.io/zone: local-$((i % 3))
status:
  allocatable: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
  capacity: {cpu: \"32\", memory: 256Gi, pods: \"110\", ephemeral-storage: 1Ti}
"
  done
  printf '%s' "$manifest" | kubectl_local apply -f - >/dev/null
  kubectl_local apply -f "$TOOLCHAIN_DIR/kwok-stages/storage-class.yaml" >/dev/null
}

cmd_start() {
  require_toolchain
  mkdir -p "$RUN" "$LOGS"
  local started_at; started_at=$(date +%s)
  if pid_alive kube-apiserver && [[ -f "$PKI/admin.crt" ]] && apiserver_ready; then
    log "control plane already running on https://127.0.0.1:$API_PORT"
  else
    local p
    for p in "$API_PORT" "$KINE_PORT" "$KINE_METRICS_PORT" "$CM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
      if ! port_free "$p" && ! pid_alive kine && ! pid_alive kube-apiserver; then
        die "127.0.0.1:$p is already in use by another program; stop it or pick other ports (ULTRAMARKET_*_PORT, see the top of $0)"
      fi
    done
    gen_pki
    mkdir -p "$CLUSTER_DIR/kine"
    start_proc kine "$BIN/kine" \
      --listen-address "127.0.0.1:$KINE_PORT" \
      --metrics-bind-address "127.0.0.1:$KINE_METRICS_PORT" \
      --endpoint "sqlite://$CLUSTER_DIR/kine/state.db?_journal=WAL&cache=shared&_busy_timeout=30000"
    wait_for "kine" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$KINE_PORT" || fail_with_log kine "kine did not listen on 127.0.0.1:$KINE_PORT within 30s"

    start_proc kube-apiserver "$BIN/kube-apiserver" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
      --endpoint-reconciler-type=none \
      --etcd-servers="http://127.0.0.1:$KINE_PORT" \
      --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
      --client-ca-file="$PKI/ca.crt" \
      --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
      --service-account-issuer=https://kubernetes.default.svc.cluster.local \
      --service-cluster-ip-range="$SERVICE_CIDR" \
      --anonymous-auth=false \
      --authorization-mode=Node,RBAC \
      --enable-admission-plugins=NodeRestriction \
      --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
      --kubelet-preferred-address-types=InternalIP \
      --allow-privileged=true \
      --enable-priority-and-fairness=false \
      --profiling=false
    wait_for "kube-apiserver" 120 apiserver_ready || fail_with_log kube-apiserver "kube-apiserver was not ready within 120s"
  fi
  write_kubeconfig "$KUBECONFIG_OUT" admin ultramarket-local
  write_kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" controller-manager default
  write_kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" scheduler default

  start_proc kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$CM_PORT" \
    --leader-elect=false \
    --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials=true \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --profiling=false
  start_proc kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
    --leader-elect=false --profiling=false
  apply_crds || fail_with_log kube-apiserver "could not install the CRDs from $TOOLCHAIN_DIR/crds"
  write_kwok_config
  start_proc kwok "$BIN/kwok" \
    --kubeconfig="$KUBECONFIG_OUT" \
    --config="$CLUSTER_DIR/kwok.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --server-address="127.0.0.1:$KWOK_PORT" \
    --node-ip=127.0.0.1 \
    --node-lease-duration-seconds=40 \
    --cidr="$POD_CIDR"

  apply_fake_nodes || fail_with_log kube-apiserver "could not create the fake nodes"
  wait_for "nodes" 60 kubectl_local wait --for=condition=Ready node --all --timeout=2s \
    || fail_with_log kwok "the fake nodes did not become Ready within 60s"
  local n
  for n in kine kube-apiserver kube-controller-manager kube-scheduler kwok; do
    pid_alive "$n" || fail_with_log "$n" "$n exited"
  done
  if [[ "$REAL_NODE" != 0 ]]; then
    bash "$SCRIPT_DIR/local-node.sh" start || { log "the real node did not come up; stop everything with: $0 stop"; exit 1; }
  fi
  log "ready in $(( $(date +%s) - started_at ))s: https://127.0.0.1:$API_PORT, $NODE_COUNT kwok nodes$([[ "$REAL_NODE" != 0 ]] && echo ", the real node ultramarket-node"), default StorageClass kwok-volume"
  log "kubeconfig: $KUBECONFIG_OUT (use: kubectl --kubeconfig $KUBECONFIG_OUT ...)"
}

cmd_stop() {
  local n pid i stopped=0
  # the node first, while the API server still answers; it also cleans the host (bridge, nftables, cgroups)
  if [[ -d "$CLUSTER_DIR/node" ]]; then bash "$SCRIPT_DIR/local-node.sh" stop || true; fi
  for n in kwok kube-scheduler kube-controller-manager kube-apiserver kine; do
    [[ -f "$RUN/$n.pid" ]] || continue
    pid=$(cat "$RUN/$n.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
      stopped=$((stopped + 1))
      log "stopped $n (pid $pid)"
    fi
    rm -f "$RUN/$n.pid"
  done
  [[ $stopped -gt 0 ]] || log "nothing was running"
}

cmd_purge() {
  cmd_stop
  rm -rf "$CLUSTER_DIR" "$KUBECONFIG_OUT"
  log "removed $CLUSTER_DIR and $KUBECONFIG_OUT"
}

cmd_status() {
  local n rc=0
  for n in kine kube-apiserver kube-controller-manager kube-scheduler kwok; do
    if pid_alive "$n"; then log "$n: running (pid $(cat "$RUN/$n.pid"))"; else log "$n: not running"; rc=1; fi
  done
  if [[ -f "$PKI/admin.crt" ]] && apiserver_ready; then log "API server ready at https://127.0.0.1:$API_PORT"; else log "API server not ready"; rc=1; fi
  if [[ "$REAL_NODE" != 0 ]]; then bash "$SCRIPT_DIR/local-node.sh" status || rc=1; fi
  return $rc
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  purge) cmd_purge ;;
  status) cmd_status ;;
  kubeconfig) echo "$KUBECONFIG_OUT" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac

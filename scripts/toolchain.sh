#!/usr/bin/env bash
# Provides the pinned local engine toolchain for the UltraMarket e2e tests and `npm run local:up`:
#   pulumi CLI, pulumi-language-nodejs, the kubernetes resource provider (installed into an isolated
#   plugin cache), kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kine, kwok, and the
#   CRDs of Gateway API, Envoy Gateway, cert-manager and the Prometheus operator, and promtool (the rule unit tests
#   of `npm test`, tests/rules/).
# Everything is built from the Go module proxy (no other network access is needed) and cached OUTSIDE
# the repository in ${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}. Binaries that are
# already cached (or on PATH at the pinned version) are reused. Idempotent.
#
# Usage:
#   scripts/toolchain.sh build [piece ...]   build/reuse all pieces (or the named ones)
#   scripts/toolchain.sh check               exit 0 when every piece is present, else list the missing
#   scripts/toolchain.sh env                 print `export` lines (PATH, PULUMI_HOME, ...) to eval
#   scripts/toolchain.sh versions            print the pinned versions
# Pieces: pulumi language-nodejs provider-kubernetes kubernetes kine kwok crds containerd coredns kube-router node-images
#         standin-images promtool prometheus
# See docs/local-engine.md for what is pinned, why, and measured build times.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$SCRIPT_DIR/.." && pwd)"
TOOLCHAIN_DIR="${ULTRAMARKET_TOOLCHAIN_DIR:-$HOME/.cache/ultramarket-toolchain}"
BIN="$TOOLCHAIN_DIR/bin"
SRC="$TOOLCHAIN_DIR/src"
LOGS="$TOOLCHAIN_DIR/logs"
STAMPS="$TOOLCHAIN_DIR/stamps"
TIMINGS="$TOOLCHAIN_DIR/timings.tsv"
export PULUMI_HOME="${ULTRAMARKET_PULUMI_HOME:-$TOOLCHAIN_DIR/pulumi-home}"

# ---- pins -------------------------------------------------------------------------------------
# = the @pulumi/pulumi npm version in package.json (3.276.0 needs Node 22+; Node 24 LTS is what CI runs,
# scripts/node.sh): CLI, language host and SDK line up.
PULUMI_VERSION="3.276.0"
# The upstream language host module (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3)
# is refused by the Go module proxy (403 for its version list and for the v3.248.0 release commit
# pseudo-versions), so we build our own small host from scripts/langhost against sdk/v3 at PULUMI_VERSION
# (see docs/local-engine.md).
LANGHOST_VERSION="3.276.0"
# The only pulumi-kubernetes provider source the Go module proxy serves is this pseudo-version (its
# go.mod requires sdk/v4 v4.24.0, i.e. the 4.24 provider source); it is labelled with the version the npm
# package asks for, so the newer npm SDK (4.34.2) runs against the older provider source (docs/local-engine.md).
K8S_PROVIDER_MODULE="github.com/pulumi/pulumi-kubernetes/provider/v4"
K8S_PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"
K8S_PROVIDER_PLUGIN_VERSION="4.34.2"   # = node_modules/@pulumi/kubernetes/package.json version
# The same build is also installed under the label earlier commits' lockfiles ask for (@pulumi/kubernetes 4.24.1):
# the engine loads only the exact plugin version a program requests, and the day2 e2e suite deploys its baseline
# with the program of commit c192da5 (as does `ops rollback` to a commit from before the upgrade).
K8S_PROVIDER_EXTRA_LABELS="4.24.1"
KUBERNETES_VERSION="1.36.3"            # kwok v0.8.0 is built against k8s.io/* v0.36
KINE_VERSION="v0.17.5"
KWOK_VERSION="v0.8.0"
# CustomResourceDefinitions the production stack's objects need, installed into the local control plane so the
# API server validates every kind the program renders (scripts/local-cluster.sh). Each from its own Go module:
GATEWAY_API_VERSION="v1.6.1"           # standard channel; the version Envoy Gateway v1.9.1 is built against
ENVOY_GATEWAY_VERSION="v1.9.1"         # = ultramarket:gatewayControllerChart (BackendTrafficPolicy, SecurityPolicy, ...)
CERT_MANAGER_VERSION="v1.21.2"         # = ultramarket:certManagerChart (Certificate)
PROMETHEUS_OPERATOR_VERSION="v0.85.0"  # newest the proxy serves (PrometheusRule, ServiceMonitor)
# The real node (scripts/local-cluster.sh; docs/local-engine.md "The real node"): the container runtime, the cluster
# DNS and the NetworkPolicy enforcer, each from its Go module. runc and the CNI plugins are Debian packages.
CONTAINERD_VERSION="v2.4.2"
COREDNS_VERSION="v1.15.0"
# NetworkPolicy: kube-router in firewall-only mode (iptables + ipset). v2.1.0 is the only version the proxy serves and
# has reported security flaws: it runs only in the local test cluster, never in what the program deploys. The
# maintained nftables alternative, kubernetes-sigs/kube-network-policies, needs the kernel's nft `queue` expression,
# which this kernel lacks (docs/local-engine.md).
KUBE_ROUTER_VERSION="v2.1.0"
# promtool for the alert and recording rules' unit tests (`promtool test rules`, tests/rules/, run by `npm test`): only
# ./cmd/promtool of the Prometheus module (Prometheus 3.16.0 is module version v0.316.0).
PROMETHEUS_MODULE_VERSION="v0.316.0"
PROMTOOL_VERSION="3.16.0"
# The Prometheus server of the same module, for the monitoring loop on the real node (tests/e2e/support/prometheus.ts):
# scrapes what the program's ServiceMonitors select and evaluates its PrometheusRules. Built without service
# discovery (`remove_all_sd`; the loop gives it its targets), on top of promtool's packages.
PROMETHEUS_VERSION="$PROMTOOL_VERSION"
# Refused by the Go module proxy (403 "This module version is not available" for the module list
# and @latest), so they cannot be built here; the program must not need them for the local stack:
#   github.com/pulumi/pulumi-random/provider/v4   (random 4.21.2)
#   github.com/pulumi/pulumi-command/provider     (command 1.2.1)

export GOFLAGS="-mod=mod -buildvcs=false"
# All pinned modules build with the machine's Go (>= 1.26.5 needed by kine); only go1.27.3 may be
# fetched if a newer Go is ever needed.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
GO_LDFLAGS_BASE="-s -w"

log() { printf '[toolchain] %s\n' "$*" >&2; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$BIN" "$SRC" "$LOGS" "$STAMPS" "$PULUMI_HOME"

stamp_ok() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" > "$STAMPS/$1"; }

# run_step <piece> <what (module@version)> <command...>: runs with output to $LOGS/<piece>.log, times
# it, and on failure prints one clear message naming the module/version and the log tail.
run_step() {
  local piece="$1" what="$2"; shift 2
  local logf="$LOGS/$piece.log" start end rc
  log "building $piece from $what (log: $logf)"
  start=$(date +%s)
  set +e
  ( "$@" ) >"$logf" 2>&1
  rc=$?
  set -e
  end=$(date +%s)
  printf '%s\t%s\t%ss\t%s\t%s\n' "$(date -u +%FT%TZ)" "$piece" "$((end - start))" "$rc" "$what" >> "$TIMINGS"
  if [[ $rc -ne 0 ]]; then
    log "FAILED: $piece from $what (exit $rc after $((end - start))s). Last lines of $logf:"
    tail -n 15 "$logf" | sed 's/^/[toolchain]   /' >&2
    return 1
  fi
  log "built $piece in $((end - start))s"
}

# reuse_from_path <binary> <expected substring of its version output> <version args...>: links a binary
# found on PATH (outside our cache) into $BIN when it reports the pinned version.
reuse_from_path() {
  local bin="$1" want="$2" found; shift 2
  found=$(command -v "$bin" 2>/dev/null) || return 1
  [[ "$found" != "$BIN/$bin" ]] || return 1
  "$found" "$@" 2>&1 | grep -qF -- "$want" || return 1
  ln -sf "$found" "$BIN/$bin"
  log "$bin: reusing $found ($want)"
}

go_required() {
  command -v go >/dev/null 2>&1 || die "Go is required to build the toolchain (apt-get install golang or use the machine's Go 1.26)"
}

# ---- pulumi CLI ------------------------------------------------------------------------------
build_pulumi() {
  local key="pulumi v$PULUMI_VERSION"
  if stamp_ok pulumi "$key" && [[ -x "$BIN/pulumi" ]]; then log "pulumi v$PULUMI_VERSION: cached"; return 0; fi
  if command -v pulumi >/dev/null 2>&1 && [[ "$(command -v pulumi)" != "$BIN/pulumi" ]] \
     && [[ "$(pulumi version 2>/dev/null)" == "v$PULUMI_VERSION" ]]; then
    ln -sf "$(command -v pulumi)" "$BIN/pulumi"; stamp_set pulumi "$key"; log "pulumi v$PULUMI_VERSION: reusing $(command -v pulumi)"; return 0
  fi
  go_required
  [[ -L "$BIN/pulumi" ]] && rm -f "$BIN/pulumi"
  local dir="$SRC/pulumi-cli"
  mkdir -p "$dir"
  cat > "$dir/go.mod" <<EOF
module ultramarket.local/toolchain/pulumi-cli

go 1.25.11

// non-local replaces of pkg/go.mod and sdk/go.mod at v$PULUMI_VERSION
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)
EOF
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > "$dir/tools.go"
  run_step pulumi "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" bash -c "
    cd '$dir' && go mod tidy && go build -trimpath \
      -ldflags '$GO_LDFLAGS_BASE -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION' \
      -o '$BIN/pulumi.tmp' github.com/pulumi/pulumi/pkg/v3/cmd/pulumi && mv '$BIN/pulumi.tmp' '$BIN/pulumi'" || return 1
  stamp_set pulumi "$key"
}

# ---- language host ---------------------------------------------------------------------------
build_language_nodejs() {
  local srcsum key
  srcsum=$(cat "$SCRIPT_DIR/langhost/main.go" "$SCRIPT_DIR/langhost/go.mod.in" | sha256sum | cut -c1-16)
  key="langhost $LANGHOST_VERSION $srcsum"
  if stamp_ok language-nodejs "$key" && [[ -x "$BIN/pulumi-language-nodejs" ]]; then log "pulumi-language-nodejs: cached"; return 0; fi
  go_required
  local dir="$SRC/langhost"
  mkdir -p "$dir"
  sed "s/@PULUMI_VERSION@/v$PULUMI_VERSION/g" "$SCRIPT_DIR/langhost/go.mod.in" > "$dir/go.mod"
  cp "$SCRIPT_DIR/langhost/main.go" "$dir/main.go"
  rm -f "$dir/go.sum"
  run_step language-nodejs "scripts/langhost + github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" bash -c "
    cd '$dir' && go mod tidy && go build -trimpath \
      -ldflags '$GO_LDFLAGS_BASE -X main.version=$LANGHOST_VERSION' -o '$BIN/pulumi-language-nodejs' ." || return 1
  # The nodejs SDK's own resource-provider shim (for components/dynamic providers) must sit next to pulumi.
  local shim="$REPO_DIR/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
  if [[ -f "$shim" ]]; then cp "$shim" "$BIN/pulumi-resource-pulumi-nodejs"; chmod +x "$BIN/pulumi-resource-pulumi-nodejs"; fi
  stamp_set language-nodejs "$key"
}

# ---- kubernetes resource provider -------------------------------------------------------------
build_provider_kubernetes() {
  local key="kubernetes $K8S_PROVIDER_PLUGIN_VERSION (+ $K8S_PROVIDER_EXTRA_LABELS) from $K8S_PROVIDER_MODULE@$K8S_PROVIDER_MODULE_VERSION"
  local plugdir="$PULUMI_HOME/plugins/resource-kubernetes-v$K8S_PROVIDER_PLUGIN_VERSION" label all=1
  for label in $K8S_PROVIDER_EXTRA_LABELS; do
    [[ -x "$PULUMI_HOME/plugins/resource-kubernetes-v$label/pulumi-resource-kubernetes" ]] || all=0
  done
  if stamp_ok provider-kubernetes "$key" && [[ -x "$plugdir/pulumi-resource-kubernetes" && $all == 1 ]]; then
    log "kubernetes provider $K8S_PROVIDER_PLUGIN_VERSION: cached in $PULUMI_HOME/plugins"; return 0
  fi
  go_required
  [[ -x "$BIN/pulumi" ]] || die "the pulumi CLI is needed to install providers: run scripts/toolchain.sh build pulumi first"
  local dir="$SRC/pulumi-kubernetes"
  run_step provider-kubernetes "$K8S_PROVIDER_MODULE@$K8S_PROVIDER_MODULE_VERSION" bash -c "
    set -e
    moddir=\$(go mod download -json '$K8S_PROVIDER_MODULE@$K8S_PROVIDER_MODULE_VERSION' | sed -n 's/^[[:space:]]*\"Dir\": \"\\(.*\\)\",\$/\\1/p')
    [ -n \"\$moddir\" ] || { echo 'go mod download returned no Dir'; exit 1; }
    rm -rf '$dir'; mkdir -p '$dir'; cp -r \"\$moddir\"/. '$dir'/; chmod -R u+w '$dir'
    cd '$dir'
    # The sdk/v4 replace points outside the module (../sdk): use the published sdk the go.mod requires.
    go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4
    # The embedded schema files are generated, not committed.
    (cd cmd/pulumi-resource-kubernetes && VERSION='$K8S_PROVIDER_PLUGIN_VERSION' go run generate.go)
    go mod tidy
    go build -trimpath -ldflags '$GO_LDFLAGS_BASE -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_PLUGIN_VERSION' \
      -o '$BIN/pulumi-resource-kubernetes' ./cmd/pulumi-resource-kubernetes
    for label in $K8S_PROVIDER_PLUGIN_VERSION $K8S_PROVIDER_EXTRA_LABELS; do
      PULUMI_HOME='$PULUMI_HOME' PULUMI_SKIP_UPDATE_CHECK=true '$BIN/pulumi' plugin install resource kubernetes \$label \
        --file '$BIN/pulumi-resource-kubernetes' --reinstall
    done
    rm -rf '$dir' '$BIN/pulumi-resource-kubernetes'" || return 1
  stamp_set provider-kubernetes "$key"
}

# ---- kube-apiserver, kube-controller-manager, kube-scheduler, kubectl --------------------------
build_kubernetes() {
  # kubelet and kube-proxy (the real node, scripts/local-cluster.sh) build in the same wrapper module and share
  # its compiled packages: together they add a few minutes to the control plane's build.
  local key="kubernetes v$KUBERNETES_VERSION +node"
  local bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
  local all=1 b
  for b in "${bins[@]}"; do [[ -x "$BIN/$b" ]] || all=0; done
  if stamp_ok kubernetes "$key" && [[ $all == 1 ]]; then log "kubernetes v$KUBERNETES_VERSION binaries: cached"; return 0; fi
  if reuse_from_path kube-apiserver "Kubernetes v$KUBERNETES_VERSION" --version \
     && reuse_from_path kube-controller-manager "Kubernetes v$KUBERNETES_VERSION" --version \
     && reuse_from_path kube-scheduler "Kubernetes v$KUBERNETES_VERSION" --version \
     && reuse_from_path kubectl "Client Version: v$KUBERNETES_VERSION" version --client \
     && reuse_from_path kubelet "Kubernetes v$KUBERNETES_VERSION" --version \
     && reuse_from_path kube-proxy "Kubernetes v$KUBERNETES_VERSION" --version; then
    stamp_set kubernetes "$key"; return 0
  fi
  go_required
  for b in "${bins[@]}"; do [[ -L "$BIN/$b" ]] && rm -f "$BIN/$b"; done  # never write through a link to a PATH binary
  local dir="$SRC/kubernetes" minor="${KUBERNETES_VERSION#*.}"; minor="${minor%%.*}"
  mkdir -p "$dir"
  local ver="v0.${KUBERNETES_VERSION#*.}"
  run_step kubernetes "k8s.io/kubernetes@v$KUBERNETES_VERSION" bash -c "
    set -e
    cd '$dir'
    modfile=\$(go mod download -json 'k8s.io/kubernetes@v$KUBERNETES_VERSION' | sed -n 's/^[[:space:]]*\"GoMod\": \"\\(.*\\)\",\$/\\1/p')
    [ -n \"\$modfile\" ] || { echo 'go mod download returned no GoMod'; exit 1; }
    goline=\$(grep -m1 '^go ' \"\$modfile\")
    godebug=\$(grep -m1 '^godebug ' \"\$modfile\" || true)
    {
      echo 'module ultramarket.local/toolchain/kubernetes'; echo; echo \"\$goline\"; echo; echo \"\$godebug\"; echo
      echo 'require k8s.io/kubernetes v$KUBERNETES_VERSION'; echo
      echo '// every k8s.io staging module of k8s.io/kubernetes@v$KUBERNETES_VERSION, at its published version'
      echo 'replace ('
      grep -E '^[[:space:]]+k8s.io/[a-z0-9-]+ => ./staging/src/' \"\$modfile\" | awk '{print \"\\t\" \$1 \" => \" \$1 \" $ver\"}'
      echo ')'
    } > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport (\n' > tools.go
    for b in ${bins[*]}; do printf '\t_ \"k8s.io/kubernetes/cmd/%s\"\n' \$b >> tools.go; done
    printf ')\n' >> tools.go
    rm -f go.sum
    go mod tidy
    go build -trimpath -ldflags '$GO_LDFLAGS_BASE -X k8s.io/component-base/version.gitVersion=v$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean' \
      -o '$BIN/' $(for b in "${bins[@]}"; do printf 'k8s.io/kubernetes/cmd/%s ' "$b"; done)" || return 1
  stamp_set kubernetes "$key"
}

# ---- kine (etcd API on sqlite) ------------------------------------------------------------------
build_kine() {
  local key="kine $KINE_VERSION"
  if stamp_ok kine "$key" && [[ -x "$BIN/kine" ]]; then log "kine $KINE_VERSION: cached"; return 0; fi
  if reuse_from_path kine "kine version $KINE_VERSION" --version; then stamp_set kine "$key"; return 0; fi
  go_required
  [[ -L "$BIN/kine" ]] && rm -f "$BIN/kine"
  command -v gcc >/dev/null 2>&1 || die "kine's sqlite driver needs a C compiler (apt-get install gcc)"
  run_step kine "github.com/k3s-io/kine@$KINE_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=1 go install -trimpath -ldflags '$GO_LDFLAGS_BASE -X github.com/k3s-io/kine/pkg/version.Version=$KINE_VERSION -X github.com/k3s-io/kine/pkg/version.GitCommit=release' github.com/k3s-io/kine@$KINE_VERSION" || return 1
  stamp_set kine "$key"
}

# ---- kwok (fake nodes, pod/volume lifecycle stages) ----------------------------------------------
build_kwok() {
  local key="kwok $KWOK_VERSION"
  if stamp_ok kwok "$key" && [[ -x "$BIN/kwok" && -d "$TOOLCHAIN_DIR/kwok-stages" ]]; then log "kwok $KWOK_VERSION: cached"; return 0; fi
  go_required  # the stage files come from the module even when a kwok binary is reused from PATH
  local reuse=0
  [[ -L "$BIN/kwok" ]] && rm -f "$BIN/kwok"
  reuse_from_path kwok "kwok version $KWOK_VERSION" --version && reuse=1
  run_step kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" bash -c "
    set -e
    [ $reuse = 1 ] || GOBIN='$BIN' go install -trimpath -ldflags '$GO_LDFLAGS_BASE' sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION
    # the stage definitions shipped in the module (node/pod/volume lifecycle), used by local-cluster.sh
    moddir=\$(go mod download -json 'sigs.k8s.io/kwok@$KWOK_VERSION' | sed -n 's/^[[:space:]]*\"Dir\": \"\\(.*\\)\",\$/\\1/p')
    rm -rf '$TOOLCHAIN_DIR/kwok-stages'; mkdir -p '$TOOLCHAIN_DIR/kwok-stages'
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
             volume/fast/pv-bind.yaml volume/fast/pv-delete.yaml volume/fast/pvc-provision.yaml volume/fast/pvc-delete.yaml \
             volume/fast/storage-class.yaml; do
      cp \"\$moddir/kustomize/stage/\$f\" '$TOOLCHAIN_DIR/kwok-stages/'
    done
    chmod -R u+w '$TOOLCHAIN_DIR/kwok-stages'" || return 1
  stamp_set kwok "$key"
}

# ---- CRDs (copied from their modules; nothing to build) -------------------------------------------
build_crds() {
  local key="gateway-api $GATEWAY_API_VERSION envoy-gateway $ENVOY_GATEWAY_VERSION cert-manager $CERT_MANAGER_VERSION prometheus-operator $PROMETHEUS_OPERATOR_VERSION"
  if stamp_ok crds "$key" && [[ -d "$TOOLCHAIN_DIR/crds" ]]; then log "CRDs: cached"; return 0; fi
  go_required
  run_step crds "gateway-api, envoy-gateway, cert-manager, prometheus-operator CRDs" bash -c "
    set -euo pipefail
    dir() { go mod download -json \"\$1\" | sed -n 's/^[[:space:]]*\"Dir\": \"\\(.*\\)\",\$/\\1/p'; }
    out='$TOOLCHAIN_DIR/crds'; rm -rf \"\$out\"; mkdir -p \"\$out\"
    d=\$(dir 'sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION')
    cp \"\$d\"/config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes,grpcroutes,referencegrants,backendtlspolicies}.yaml \"\$out/\"
    d=\$(dir 'github.com/envoyproxy/gateway@$ENVOY_GATEWAY_VERSION')
    cp \"\$d\"/charts/gateway-helm/charts/crds/crds/generated/gateway.envoyproxy.io_*.yaml \"\$out/\"
    d=\$(dir 'github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION')
    cp \"\$d\"/deploy/crds/cert-manager.io_*.yaml \"\$d\"/deploy/crds/acme.cert-manager.io_*.yaml \"\$out/\"
    d=\$(dir 'github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION')
    cp \"\$d\"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml \"\$out/\"
    chmod -R u+w \"\$out\"; ls \"\$out\" | wc -l" || return 1
  stamp_set crds "$key"
}

# ---- promtool (the rule unit tests of `npm test`) -------------------------------------------------------
build_promtool() {
  local key="promtool $PROMTOOL_VERSION from github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION"
  if stamp_ok promtool "$key" && [[ -x "$BIN/promtool" ]]; then log "promtool $PROMTOOL_VERSION: cached"; return 0; fi
  if reuse_from_path promtool "promtool, version $PROMTOOL_VERSION " --version; then stamp_set promtool "$key"; return 0; fi
  go_required
  [[ -L "$BIN/promtool" ]] && rm -f "$BIN/promtool"
  # Only the promtool command: none of the server, its web UI or its service discoveries are built. The tags are
  # the release's (.promu.yml); no cgo.
  run_step promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=0 go install -trimpath -tags 'netgo builtinassets' \
      -ldflags '$GO_LDFLAGS_BASE -X github.com/prometheus/common/version.Version=$PROMTOOL_VERSION -X github.com/prometheus/common/version.Branch=release-${PROMTOOL_VERSION%.*} -X github.com/prometheus/common/version.Revision=$PROMETHEUS_MODULE_VERSION' \
      github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" || return 1
  stamp_set promtool "$key"
}

# ---- the Prometheus server (the monitoring loop of the e2e suite, on the real node) -----------------------------
build_prometheus() {
  local key="prometheus $PROMETHEUS_VERSION from github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION (netgo remove_all_sd)"
  if stamp_ok prometheus "$key" && [[ -x "$BIN/prometheus" ]]; then log "prometheus $PROMETHEUS_VERSION: cached"; return 0; fi
  go_required
  # No service discovery (the e2e loop writes the targets the program's ServiceMonitors select into its config, the
  # way the operator's generated config labels them) and no built-in web UI (its assets are not in the module): the
  # scrape loop, the rule engine and the HTTP API are the release's own. Most packages are promtool's, already built.
  run_step prometheus "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" bash -c "
    GOBIN='$BIN' CGO_ENABLED=0 go install -trimpath -tags 'netgo remove_all_sd' \
      -ldflags '$GO_LDFLAGS_BASE -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION -X github.com/prometheus/common/version.Branch=release-${PROMETHEUS_VERSION%.*} -X github.com/prometheus/common/version.Revision=$PROMETHEUS_MODULE_VERSION' \
      github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION" || return 1
  stamp_set prometheus "$key"
}

# shellcheck source=toolchain/node.sh
source "$SCRIPT_DIR/toolchain/node.sh"

ALL_PIECES=(pulumi language-nodejs provider-kubernetes kubernetes kine kwok crds containerd coredns kube-router promtool prometheus node-images standin-images)

piece_fn() { echo "build_${1//-/_}"; }

cmd_build() {
  local pieces=("$@") failed=() p start
  [[ ${#pieces[@]} -gt 0 ]] || pieces=("${ALL_PIECES[@]}")
  start=$(date +%s)
  for p in "${pieces[@]}"; do
    declare -F "$(piece_fn "$p")" >/dev/null || die "unknown piece '$p' (known: ${ALL_PIECES[*]})"
    "$(piece_fn "$p")" || failed+=("$p")
  done
  log "done in $(( $(date +%s) - start ))s; binaries in $BIN, plugins in $PULUMI_HOME/plugins"
  if [[ ${#failed[@]} -gt 0 ]]; then
    log "FAILED pieces: ${failed[*]} (see $LOGS/<piece>.log)"
    return 1
  fi
}

cmd_check() {
  local missing=() b
  for b in pulumi pulumi-language-nodejs kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy kine kwok \
           containerd containerd-shim-runc-v2 ctr coredns kube-router promtool prometheus; do
    [[ -x "$BIN/$b" ]] || missing+=("$b")
  done
  local v
  for v in $K8S_PROVIDER_PLUGIN_VERSION $K8S_PROVIDER_EXTRA_LABELS; do
    [[ -x "$PULUMI_HOME/plugins/resource-kubernetes-v$v/pulumi-resource-kubernetes" ]] || missing+=("resource-kubernetes-v$v")
  done
  [[ -d "$TOOLCHAIN_DIR/kwok-stages" ]] || missing+=("kwok-stages")
  [[ -d "$TOOLCHAIN_DIR/crds" ]] || missing+=("crds")
  [[ -f "$TOOLCHAIN_DIR/node-images/ultramarket.local_prometheus_$PROMETHEUS_VERSION.tar" ]] || missing+=("node-images")
  local image
  for image in postgres_15-standin redis_7-standin pgbouncer_1-standin app_standin postgres-exporter_0-standin redis-exporter_1-standin; do
    [[ -f "$TOOLCHAIN_DIR/node-images/ultramarket.local_$image.tar" ]] || missing+=("standin-images")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "missing: ${missing[*]} (run: npm run toolchain)"
    return 1
  fi
  log "all pieces present in $TOOLCHAIN_DIR"
}

cmd_env() {
  cat <<EOF
export ULTRAMARKET_TOOLCHAIN_DIR="$TOOLCHAIN_DIR"
export PATH="$BIN:\$PATH"
export PULUMI_HOME="$PULUMI_HOME"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
EOF
}

cmd_versions() {
  cat <<EOF
pulumi                      v$PULUMI_VERSION   github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION
pulumi-language-nodejs      $LANGHOST_VERSION    scripts/langhost (own host; upstream module refused by the proxy)
resource kubernetes         $K8S_PROVIDER_PLUGIN_VERSION    built from $K8S_PROVIDER_MODULE@$K8S_PROVIDER_MODULE_VERSION (also labelled $K8S_PROVIDER_EXTRA_LABELS)
kube-apiserver/controller-manager/scheduler/kubectl  v$KUBERNETES_VERSION  k8s.io/kubernetes@v$KUBERNETES_VERSION
kine                        $KINE_VERSION   github.com/k3s-io/kine@$KINE_VERSION
kwok                        $KWOK_VERSION    sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION
kubelet/kube-proxy          v$KUBERNETES_VERSION  (same wrapper module as kube-apiserver; the real node)
containerd/shim/ctr         $CONTAINERD_VERSION   github.com/containerd/containerd/v2@$CONTAINERD_VERSION
coredns                     $COREDNS_VERSION  github.com/coredns/coredns@$COREDNS_VERSION
kube-router                 $KUBE_ROUTER_VERSION   github.com/cloudnativelabs/kube-router/v2@$KUBE_ROUTER_VERSION (firewall only; local cluster only)
promtool                    $PROMTOOL_VERSION    github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION (rule unit tests)
prometheus                  $PROMETHEUS_VERSION    github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION (the e2e monitoring loop; no service discovery)
node images                 scripts/local-node.sh images (pause, busybox, coredns, prometheus; umoci)
CRDs                        gateway-api $GATEWAY_API_VERSION (standard), envoy-gateway $ENVOY_GATEWAY_VERSION, cert-manager $CERT_MANAGER_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION
not buildable here (proxy refused): resource random 4.21.2, resource command 1.2.1
EOF
}

case "${1:-build}" in
  build) shift || true; cmd_build "$@" ;;
  check) cmd_check ;;
  env) cmd_env ;;
  versions) cmd_versions ;;
  -h|--help|help) sed -n '2,18p' "$0" ;;
  *) die "unknown command '$1' (build|check|env|versions)" ;;
esac

# shellcheck shell=bash
# The real node's certificates and configuration files (containerd, CNI, kubelet, kube-proxy).
# Sourced by scripts/local-node.sh (its variables and helpers).

# ---- certificates and configuration -------------------------------------------------------------------
gen_node_pki() {
  [[ -f "$PKI/ca.key" ]] || die "no cluster CA in $PKI: start the control plane first (scripts/local-cluster.sh start)"
  [[ -f "$PKI/node.crt" && -f "$PKI/kube-proxy.crt" && -f "$PKI/kube-router.crt" ]] && return 0
  (
    cd "$PKI"
    umask 077
    client() { # <file> <subject>
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile client.ext 2>/dev/null
      rm -f "$1.csr"
    }
    client node "/O=system:nodes/CN=system:node:$NODE_NAME"
    client kube-proxy "/CN=system:kube-proxy"
    client kube-router "/CN=ultramarket:kube-router"
  )
}

kubeconfig_for() { # <file> <cert name>
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$PKI/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$PKI/$2.crt", client-key: "$PKI/$2.key"}
contexts:
- name: default
  context: {cluster: local, user: $2}
current-context: default
EOF
}

write_configs() {
  local c="$NODE_DIR/containerd"
  mkdir -p "$c/root" "$c/state" "$NODE_DIR/cni" "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs" "$NODE_DIR/sysctl" "$NODE_DIR/volumes"
  # The app registry (scripts/local-node/registry.js) speaks plain HTTP on loopback.
  mkdir -p "$c/certs.d/$APP_REGISTRY"
  printf 'server = "http://%s"\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$APP_REGISTRY" "$APP_REGISTRY" > "$c/certs.d/$APP_REGISTRY/hosts.toml"
  cat > "$c/config.toml" <<EOF
version = 4
root = "$c/root"
state = "$c/state"
imports = []
[plugins.'io.containerd.server.v1.grpc']
  address = "$c/containerd.sock"
[plugins.'io.containerd.server.v1.ttrpc']
  address = "$c/containerd.sock.ttrpc"
[plugins.'io.containerd.server.v1.debug']
  address = ""
[plugins.'io.containerd.server.v1.metrics']
  address = ""
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$c/certs.d"
[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CNI_BIN_DIR"]
    conf_dir = "$NODE_DIR/cni"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$RUNC"
        SystemdCgroup = false
[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.internal.v1.opt']
  path = "$c/opt"
EOF
  # bridge without isGateway/ipMasq: the bridge's address is set here, pods route through it, nothing is NATed out.
  cat > "$NODE_DIR/cni/10-ultramarket.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "ultramarket",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": false, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "198.18.1.0", "rangeEnd": "198.18.255.254", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "0.0.0.0/0", "gw": "$NODE_IP"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  printf 'nameserver %s\n' "$DNS_IP" > "$NODE_DIR/resolv.conf"
  kubeconfig_for "$NODE_DIR/kubelet.kubeconfig" node
  kubeconfig_for "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy
  kubeconfig_for "$NODE_DIR/kube-router.kubeconfig" kube-router
  cat > "$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$PKI/ca.crt"}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$c/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
failCgroupV1: false
oomScoreAdj: 0
protectKernelDefaults: false
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
podLogsDir: $NODE_DIR/pod-logs
registerWithTaints:
- {key: $NODE_TAINT_KEY, value: "true", effect: NoSchedule}
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
serializeImagePulls: false
EOF
  cat > "$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: $NODE_NAME
clientConnection: {kubeconfig: "$NODE_DIR/kube-proxy.kubeconfig"}
clusterCIDR: $POD_CIDR
detectLocalMode: ClusterCIDR
nodePortAddresses: ["$NODE_IP/32"]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

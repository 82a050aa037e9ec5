# shellcheck shell=bash
# What the real node does to the host and how it is read back: bridge and egress guard, the record of the host
# before start, cgroups, the node's processes, and the leftovers check. Sourced by scripts/local-node.sh.

# ---- host network: bridge and egress guard ------------------------------------------------------------
host_network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$NODE_IP/16" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  # Forwarding for packets that arrive on the bridge only (the host's net.ipv4.ip_forward stays as it is).
  printf 1 > "/proc/sys/net/ipv4/conf/$BRIDGE/forwarding"
  nft -f - <<EOF
table inet $NFT_TABLE
delete table inet $NFT_TABLE
table inet $NFT_TABLE {
  comment "ultramarket local node: pod traffic never leaves the machine (scripts/local-node.sh)"
  chain egress-guard {
    type filter hook forward priority filter - 10; policy accept;
    ip saddr $POD_CIDR oifname != { "$BRIDGE", "lo" } counter drop comment "pod range out through anything but the cluster bridge"
    ip daddr $POD_CIDR iifname != { "$BRIDGE", "lo" } counter drop comment "pod range reached from anything but the cluster bridge"
  }
}
EOF
}

record_host_state() {
  local d f
  mkdir -p "$HOST_STATE"
  : > "$HOST_STATE/made"
  for d in "${HOST_DIRS[@]}"; do [[ -e "$d" ]] || echo "$d" >> "$HOST_STATE/made"; done
  : > "$HOST_STATE/sysctls"
  for f in "${SYSCTL_SHADOWED[@]}" "${SYSCTL_WATCHED[@]}"; do
    [[ -r "/proc/sys/$f" ]] || continue
    printf '%s %s\n' "$f" "$(cat "/proc/sys/$f")" >> "$HOST_STATE/sysctls"
  done
  # the kubelet (iptables canaries), kube-proxy and kube-router add nftables tables and ipsets: stop removes the ones
  # that were not here before
  nft list tables | sort > "$HOST_STATE/nft-tables"
  nft_chains > "$HOST_STATE/nft-chains"
  ipset list -n 2>/dev/null | sort > "$HOST_STATE/ipsets" || : > "$HOST_STATE/ipsets"
}

make_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [[ -f "$h/cgroup.procs" ]] || continue
    mkdir -p "$h$CGROUP_ROOT"
    if [[ -f "$h/cpuset.cpus" ]]; then
      cat "$h/cpuset.cpus" > "$h$CGROUP_ROOT/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h$CGROUP_ROOT/cpuset.mems"
    fi
  done
}

# nftables tables and ipsets that were not on the host before the node started (all of them when no record exists).
new_nft_tables() {
  if [[ -f "$HOST_STATE/nft-tables" ]]; then nft list tables | sort | comm -23 - "$HOST_STATE/nft-tables"; fi
}

# "family table chain" for every chain on the host, to find chains added to tables that were already there.
nft_chains() {
  nft list chains 2>/dev/null | awk '$1 == "table" {t = $2 " " $3} $1 == "chain" {print t " " $2}' | sort
}

new_nft_chains_in_old_tables() {
  [[ -f "$HOST_STATE/nft-chains" && -f "$HOST_STATE/nft-tables" ]] || return 0
  local old_tables; old_tables=$(sed 's/^table //' "$HOST_STATE/nft-tables")
  nft_chains | comm -23 - "$HOST_STATE/nft-chains" | while read -r fam tab chain; do
    grep -qx "$fam $tab" <<< "$old_tables" && echo "$fam $tab $chain"
  done
}

new_ipsets() {
  if [[ -f "$HOST_STATE/ipsets" ]]; then ipset list -n 2>/dev/null | sort | comm -23 - "$HOST_STATE/ipsets"; fi
}

# Every process whose executable is one of the node's binaries, or that lives in the node's cgroups.
node_pids() {
  local p exe h
  for p in /proc/[0-9]*; do
    exe=$(readlink "$p/exe" 2>/dev/null) || continue
    case "$exe" in
      "$BIN/containerd"|"$BIN/containerd-shim-runc-v2"|"$BIN/kubelet"|"$BIN/kube-proxy"|"$BIN/kube-router") echo "${p#/proc/}" ;;
    esac
    tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF "$SCRIPT_DIR/local-node/registry.js" && echo "${p#/proc/}"
  done
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$h" ]] && find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null
  done
  if [[ -f "$RUN/node.pid" ]] && kill -0 "$(cat "$RUN/node.pid")" 2>/dev/null; then cat "$RUN/node.pid"; fi
}

# Lists anything of the node left on the host (exit 1 when there is any): used by the e2e suite after local:down.
cmd_leftovers() {
  local found=() p h d line
  p=$(node_pids | sort -u | tr '\n' ' '); [[ -z "${p// /}" ]] || found+=("processes: $p")
  grep -F "$NODE_DIR" /proc/self/mountinfo >/dev/null 2>&1 && found+=("mounts under $NODE_DIR")
  for p in /proc/[0-9]*/mountinfo; do
    if grep -qF "$NODE_DIR" "$p" 2>/dev/null; then found+=("a mount namespace with mounts under $NODE_DIR (${p%/mountinfo})"); break; fi
  done
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do [[ -d "$h" ]] && found+=("cgroup $h"); done
  nft list table inet "$NFT_TABLE" >/dev/null 2>&1 && found+=("nftables table inet $NFT_TABLE")
  while read -r line; do [[ -n "$line" ]] && found+=("nftables $line"); done < <(new_nft_tables)
  while read -r line; do [[ -n "$line" ]] && found+=("ipset $line"); done < <(new_ipsets)
  # kube-router's and the kubelet's chains inside tables the host already had are not removed with a table: listed
  while read -r line; do [[ -n "$line" ]] && found+=("nftables chain $line (in a table the host already had)"); done < <(new_nft_chains_in_old_tables)
  ip link show "$BRIDGE" >/dev/null 2>&1 && found+=("bridge $BRIDGE")
  ip -o link show type veth 2>/dev/null | grep -q "master $BRIDGE" && found+=("veth on $BRIDGE")
  if [[ -f "$HOST_STATE/made" ]]; then
    while read -r d; do [[ -n "$d" && -e "$d" ]] && found+=("$d"); done < "$HOST_STATE/made"
  fi
  if [[ -f "$HOST_STATE/sysctls" ]]; then
    while read -r p line; do
      [[ "$(cat "/proc/sys/$p")" == "$line" ]] || found+=("sysctl $p changed ($line -> $(cat "/proc/sys/$p"))")
    done < "$HOST_STATE/sysctls"
  fi
  if [[ ${#found[@]} -eq 0 ]]; then log "nothing of the node is left on the host"; return 0; fi
  printf '[local-node] left behind: %s\n' "${found[@]}" >&2
  return 1
}

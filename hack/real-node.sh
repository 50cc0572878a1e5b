#!/usr/bin/env bash
# The local cluster's real node: Debian's containerd, runc and CNI plugins, and
# a kubelet and kube-proxy built like the control plane, beside the kwok fakes.
# hack/cluster-up.sh and hack/cluster-down.sh call it; it can be run by hand:
#
#   hack/real-node.sh preflight   exits non-zero with the reason if this machine cannot run it
#   hack/real-node.sh address     creates the node's address (before the API server binds it)
#   hack/real-node.sh up          starts containerd, kubelet and kube-proxy, imports the images
#   hack/real-node.sh import      imports the images again (after hack/build-images.sh rebuilt one)
#   hack/real-node.sh down        stops everything and restores every host setting it changed
#   hack/real-node.sh leftovers   lists what a node left on the machine; exits 1 if anything
#
# The node is "arf-real-node", labelled and tainted arf.dev/node=real (NoSchedule):
# only Pods that select and tolerate it run there; everything else stays on kwok.
# All its traffic stays between loopback, the node address (on a port-less
# bridge "arf0", as these kernels have no dummy interfaces) and the Pods' bridge.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$ARF_CLUSTER_DIR"
node_dir="$dir/node"
pki="$dir/pki"
K8S_BIN="$(k8s_bin_dir)"
NODE_BIN="$(k8s_node_bin_dir)"
sock="$node_dir/containerd.sock"
cgroup_root="arf-node"
# Host state saved before the first change, kept outside the cluster directory
# so that a teardown after a crash (or a removed cluster dir) still restores it.
saved="$ARF_CACHE/real-node-saved"
# After a clean teardown the snapshot moves here: what the machine had before
# (chains, netns, CNI results), which `leftovers` compares against.
baseline="$ARF_CACHE/real-node-baseline"
SYSCTLS=(kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.ipv4.conf.all.forwarding net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
# Directories kubelet, containerd and CNI create at fixed paths whatever they are
# told; teardown removes those that did not exist before the node.
HOST_DIRS=(/var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers /run/containerd /opt/containerd)
PACKAGES=(containerd runc containernetworking-plugins buildah iptables conntrack)

kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$dir/kubeconfig" "$@"; }

preflight() {
  [[ $(id -u) -eq 0 ]] || die "the real node needs root (kubelet, containerd, network and cgroup setup); run as root or set ARF_REAL_NODE=0 for the kwok-only cluster"
  [[ -f /sys/fs/cgroup/cgroup.controllers ]] &&
    die "the real node is set up for cgroup v1 hierarchies (as on these machines), and this machine has cgroup v2 at /sys/fs/cgroup; set ARF_REAL_NODE=0 for the kwok-only cluster"
  [[ -d /sys/fs/cgroup/memory ]] ||
    die "the real node needs cgroups (no memory controller under /sys/fs/cgroup); set ARF_REAL_NODE=0 for the kwok-only cluster"
  local missing=() bin
  for bin in containerd runc ctr buildah iptables conntrack; do command -v "$bin" >/dev/null || missing+=("$bin"); done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] || missing+=("CNI plugins in /usr/lib/cni")
  ((${#missing[@]} == 0)) || die "the real node needs ${missing[*]}; run hack/setup-real-node.sh (Debian packages: ${PACKAGES[*]}) or set ARF_REAL_NODE=0"
  grep -qw overlay /proc/filesystems || die "the real node needs the overlay filesystem for containerd; set ARF_REAL_NODE=0"
  for bin in "$NODE_BIN/kubelet" "$NODE_BIN/kube-proxy"; do
    [[ -x "$bin" ]] || die "missing $bin; run hack/build-binaries.sh first"
  done
  [[ -f "$ARF_IMAGE_DIR/index" ]] || die "no images for the real node; run hack/build-images.sh first"
  ((${#sock} < 100)) || die "ARF_CLUSTER_DIR is too long for containerd's socket path ($sock)"
  # One real node per machine: it owns the node address, bridges and cgroup root.
  if [[ -f "$saved/owner" && "$(cat "$saved/owner")" != "$dir" ]]; then
    die "another cluster ($(cat "$saved/owner")) has the real node on this machine; stop it first: ARF_CLUSTER_DIR=$(cat "$saved/owner") bash hack/cluster-down.sh"
  fi
  if [[ ! -f "$saved/owner" ]] && ip link show arf0 >/dev/null 2>&1; then
    die "a network interface arf0 exists that no ARF cluster made; remove it (ip link del arf0) or choose another machine"
  fi
}

save_host_state() {
  [[ -f "$saved/complete" ]] && return 0 # an earlier node was never torn down: keep the original values
  rm -rf "$saved"; mkdir -p "$saved"
  local key
  for key in "${SYSCTLS[@]}"; do
    sysctl -n "$key" >/dev/null 2>&1 && echo "$key=$(sysctl -n "$key")" >>"$saved/sysctl"
  done
  touch "$saved/sysctl"
  local family
  for family in iptables ip6tables; do
    "$family-save" 2>/dev/null | sed -n 's/^:\([A-Za-z0-9_-]*\) .*/\1/p' | sort -u >"$saved/$family-chains" || true
  done
  { ls /run/netns 2>/dev/null || true; } >"$saved/netns"
  { ls /var/lib/cni/results 2>/dev/null || true; } >"$saved/cni-results"
  echo "$dir" >"$saved/owner"
  local host_dir
  for host_dir in "${HOST_DIRS[@]}"; do [[ -e "$host_dir" ]] && echo "$host_dir"; done >"$saved/host-dirs"
  touch "$saved/complete"
}

address() {
  save_host_state
  ip link show arf0 >/dev/null 2>&1 || ip link add arf0 type bridge
  ip addr replace "$ARF_NODE_IP/32" dev arf0
  ip link set arf0 up
}

write_config() {
  mkdir -p "$node_dir"/{containerd/root,containerd/state,cni/net.d,cni/ipam,kubelet,pki,logs}
  local node_ip="$ARF_NODE_IP"
  cat >"$node_dir/containerd.toml" <<EOF
version = 2
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
[grpc]
  address = "$sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$node_dir/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # runc cannot lower oom_score_adj without CAP_SYS_RESOURCE, which these machines lack.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
EOF
  # No ipMasq and no portmap: Pods need no traffic beyond the machine, and
  # every iptables chain the node adds is one more to remove.
  cat >"$node_dir/cni/net.d/10-arf.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "arf", "plugins": [
  {"type": "bridge", "bridge": "arfbr0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$node_dir/cni/ipam",
            "ranges": [[{"subnet": "$ARF_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}}
]}
EOF
  # The node's client certificate (Node authorizer, NodeRestriction).
  openssl req -newkey rsa:2048 -nodes -subj "/O=system:nodes/CN=system:node:$ARF_NODE_NAME" \
    -keyout "$node_dir/pki/kubelet-client.key" -out "$node_dir/pki/kubelet-client.csr" 2>/dev/null
  openssl x509 -req -in "$node_dir/pki/kubelet-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 365 -out "$node_dir/pki/kubelet-client.crt" 2>/dev/null
  local server; server="$(sed -n 's/^ *server: //p' "$dir/kubeconfig" | head -1)"
  cat >"$node_dir/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: arf-local, cluster: {server: "$server", certificate-authority: "$pki/ca.crt"}}]
users: [{name: node, user: {client-certificate: "$node_dir/pki/kubelet-client.crt", client-key: "$node_dir/pki/kubelet-client.key"}}]
contexts: [{name: node, context: {cluster: arf-local, user: node}}]
current-context: node
EOF
  local proxy_token; proxy_token="$(awk -F, '$2 == "system:kube-proxy" {print $1}' "$pki/tokens.csv")"
  [[ -n "$proxy_token" ]] || die "no system:kube-proxy token in $pki/tokens.csv"
  cat >"$node_dir/kube-proxy.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: arf-local, cluster: {server: "$server", certificate-authority: "$pki/ca.crt"}}]
users: [{name: kube-proxy, user: {token: "$proxy_token"}}]
contexts: [{name: kube-proxy, context: {cluster: arf-local, user: kube-proxy}}]
current-context: kube-proxy
EOF
  chmod 600 "$node_dir"/*.kubeconfig "$node_dir"/pki/*
  cat >"$node_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# These machines have cgroup v1 hierarchies; kubelet 1.35 refuses them unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
# Everything the node creates lives under /$cgroup_root in each hierarchy, so teardown finds it.
cgroupRoot: /$cgroup_root
containerRuntimeEndpoint: unix://$sock
address: $node_ip
port: $(free_port)
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(free_port)
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$pki/ca.crt"}
authorization: {mode: Webhook}
registerWithTaints: [{key: arf.dev/node, value: real, effect: NoSchedule}]
failSwapOn: false
resolvConf: /etc/resolv.conf
# Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
maxPods: 40
serializeImagePulls: false
kernelMemcgNotification: false
podLogsDir: "$node_dir/pod-logs"
EOF
  cat >"$node_dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$node_dir/kube-proxy.kubeconfig"}
hostnameOverride: $ARF_NODE_NAME
mode: iptables
clusterCIDR: $ARF_POD_CIDR
healthzBindAddress: 127.0.0.1:$(free_port)
metricsBindAddress: 127.0.0.1:$(free_port)
nodePortAddresses: ["$node_ip/32"]
oomScoreAdj: 0
iptables: {localhostNodePorts: false}
# Leave the host's conntrack table and timeouts as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# Imports every image hack/build-images.sh built (a running node takes a rebuilt image this way).
import_images() {
  local ref archive
  while read -r ref archive; do
    ctr --address "$sock" -n k8s.io images import --snapshotter overlayfs "$archive" >/dev/null ||
      die "could not import $ref from $archive"
  done <"$ARF_IMAGE_DIR/index"
}

up() {
  preflight
  local started=$SECONDS
  address
  write_config
  start containerd containerd --config "$node_dir/containerd.toml"
  wait_for containerd 30 "containerd's socket" ctr --address "$sock" version
  import_images
  # kubelet wants its cgroup root to exist in every hierarchy; cpuset needs its CPUs and memory nodes set.
  local hierarchy
  for hierarchy in /sys/fs/cgroup/*/; do
    [[ "$hierarchy" == */unified/ ]] && continue
    mkdir -p "$hierarchy$cgroup_root"
    if [[ -f "$hierarchy/cpuset.cpus" ]]; then
      cat "$hierarchy/cpuset.cpus" >"$hierarchy$cgroup_root/cpuset.cpus"
      cat "$hierarchy/cpuset.mems" >"$hierarchy$cgroup_root/cpuset.mems"
    fi
  done
  start kubelet "$NODE_BIN/kubelet" --config "$node_dir/kubelet.yaml" --kubeconfig "$node_dir/kubelet.kubeconfig" \
    --hostname-override "$ARF_NODE_NAME" --node-ip "$ARF_NODE_IP" --root-dir "$node_dir/kubelet" \
    --cert-dir "$node_dir/kubelet/pki" --node-labels "arf.dev/node=real"
  start kube-proxy "$NODE_BIN/kube-proxy" --config "$node_dir/kube-proxy.yaml"
  wait_for kubelet 90 "node $ARF_NODE_NAME Ready" kubectl wait --for=condition=Ready "node/$ARF_NODE_NAME" --timeout=2s
  log "TIMING real node: $ARF_NODE_NAME Ready in $((SECONDS - started))s (containerd, images, kubelet, kube-proxy)"
}

stop_pid() { # name
  local pidfile="$dir/pids/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  # A stale pidfile (after a reboot) may name someone else's process now: only ours mention our directory.
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# Processes in the node's cgroups (containers) and containerd's shims.
node_processes() {
  {
    find /sys/fs/cgroup -path "*/$cgroup_root/*" -name cgroup.procs -exec cat {} + 2>/dev/null || true
    find /sys/fs/cgroup -path "*/$cgroup_root/cgroup.procs" -exec cat {} + 2>/dev/null || true
    pgrep -f "containerd-shim-runc-v2 .*$node_dir" || true
    pgrep -f "(kubelet|kube-proxy) --config $node_dir/" || true
    pgrep -f "containerd --config $node_dir/containerd.toml" || true
  } | sort -un
}

node_mounts() { # mount points, deepest first
  local netns_before="" known; known="$(known_dir)"
  [[ -n "$known" && -f "$known/netns" ]] && netns_before="$(cat "$known/netns")"
  awk '{print $5}' /proc/self/mountinfo | while read -r mnt; do
    case "$mnt" in
      "$node_dir"/* | "$node_dir") echo "$mnt" ;;
      /run/netns/cni-* | /var/run/netns/cni-*) grep -qxF "${mnt##*/}" <<<"$netns_before" || echo "$mnt" ;;
    esac
  done | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-
}

# The snapshot of what the machine had before the node: the current one, or the last.
known_dir() {
  if [[ -f "$saved/complete" ]]; then echo "$saved"; elif [[ -d "$baseline" ]]; then echo "$baseline"; fi
}

new_chains() { # family table: KUBE-/CNI- chains the machine did not have before (none if that is unknown)
  local family="$1" table="$2" known; known="$(known_dir)"
  [[ -n "$known" && -f "$known/$family-chains" ]] || return 0
  "$family-save" -t "$table" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[A-Za-z0-9_-]*\) .*/\1/p' |
    { grep -vxFf "$known/$family-chains" || true; }
}

new_cni_results() { # CNI result caches for the node's network ("arf") and its loopbacks, made since the snapshot
  local known; known="$(known_dir)"
  [[ -n "$known" && -f "$known/cni-results" ]] || return 0
  ls /var/lib/cni/results 2>/dev/null | grep -E '^(arf|cni-loopback)-' | { grep -vxFf "$known/cni-results" || true; }
}

container_log_links() { # kubelet's /var/log/containers links into this node's pod logs
  find /var/log/containers -maxdepth 1 -type l -lname "$node_dir/*" 2>/dev/null || true
}

remove_chains() {
  local family table chain rule
  for family in iptables ip6tables; do
    command -v "$family" >/dev/null || continue
    for table in filter nat mangle; do
      local chains; chains="$(new_chains "$family" "$table")"
      [[ -n "$chains" ]] || continue
      # First every rule that jumps to one of them, then the chains themselves.
      "$family-save" -t "$table" | { grep '^-A ' || true; } | while read -r rule; do
        for chain in $chains; do
          if [[ " $rule " == *" -j $chain "* || " $rule " == *" -g $chain "* ]]; then
            eval "$family -t $table -D ${rule#-A }" 2>/dev/null || true
            break
          fi
        done
      done
      for chain in $chains; do "$family" -t "$table" -F "$chain" 2>/dev/null || true; done
      for chain in $chains; do "$family" -t "$table" -X "$chain" 2>/dev/null || true; done
    done
  done
}

down() {
  # Best effort from here on: one step failing must not leave the rest undone.
  set +e
  # Only the cluster that made the node touches machine-wide state (bridges,
  # chains, sysctls, cgroups); another cluster dir only cleans its own files.
  local owns=0
  [[ -f "$saved/owner" && "$(cat "$saved/owner")" == "$dir" ]] && owns=1
  ((owns)) || [[ -d "$node_dir" ]] || return 0
  if ((owns)) && [[ -f "$dir/kubeconfig" && -f "$dir/pids/kubelet.pid" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    # Cordon first, so controllers' replacements wait elsewhere; then let kubelet
    # stop the Pods itself, so CNI releases their addresses and namespaces.
    kubectl cordon "$ARF_NODE_NAME" >/dev/null 2>&1
    kubectl delete pods -A --field-selector "spec.nodeName=$ARF_NODE_NAME" --grace-period=1 --wait=false >/dev/null 2>&1
    local deadline=$((SECONDS + 20))
    while ((SECONDS < deadline)) && [[ -n "$(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null)" ]]; do sleep 0.5; done
  fi
  stop_pid kube-proxy
  stop_pid kubelet
  local id
  for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
    ctr --address "$sock" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1
  done
  stop_pid containerd
  local pid
  for pid in $(node_processes); do kill -KILL "$pid" 2>/dev/null; done
  for _ in $(seq 1 25); do [[ -z "$(node_processes)" ]] && break; sleep 0.2; done
  local mnt
  for mnt in $(node_mounts); do umount -l "$mnt" 2>/dev/null; done
  local link
  for link in $(container_log_links); do rm -f "$link"; done
  if ((owns)); then
    if [[ -f "$saved/netns" ]]; then
      for mnt in /run/netns/cni-*; do
        [[ -e "$mnt" ]] && ! grep -qxF "${mnt##*/}" "$saved/netns" && rm -f "$mnt"
      done
    fi
    for mnt in $(new_cni_results); do rm -f "/var/lib/cni/results/$mnt"; done
    # Deepest cgroups first; rmdir only succeeds on empty ones, which they now are.
    find /sys/fs/cgroup -depth -type d \( -path "*/$cgroup_root" -o -path "*/$cgroup_root/*" \) -exec rmdir {} \; 2>/dev/null
    remove_chains
    # veths die with their Pods' namespaces; any still on the Pods' bridge go too, then the bridges.
    for link in $(ip -o link show type veth 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
      ip -d link show "$link" 2>/dev/null | grep -q "master arfbr0" && ip link del "$link" 2>/dev/null
    done
    for link in arfbr0 arf0; do ip link show "$link" >/dev/null 2>&1 && ip link del "$link" 2>/dev/null; done
    conntrack -D -s "$ARF_POD_CIDR" >/dev/null 2>&1
    conntrack -D -d "$ARF_POD_CIDR" >/dev/null 2>&1
    # Restore only what differs: writing net.ipv4.conf.all.forwarding resets every interface's own setting.
    local line
    while IFS= read -r line; do
      [[ "$(sysctl -n "${line%%=*}" 2>/dev/null)" == "${line#*=}" ]] || sysctl -q -w "$line" >/dev/null 2>&1
    done <"$saved/sysctl"
    local host_dir
    for host_dir in "${HOST_DIRS[@]}"; do
      grep -qxF "$host_dir" "$saved/host-dirs" || rm -rf --one-file-system "$host_dir"
    done
  fi
  rm -rf --one-file-system "$node_dir"
  if ((owns)); then
    # Keep the snapshot until nothing is left, so a later run can finish the job.
    if SNAPSHOT_IS_EXPECTED=1 leftovers >/dev/null 2>&1; then
      rm -rf "$baseline"
      mv "$saved" "$baseline" && rm -f "$baseline/complete" "$baseline/owner"
    else
      log "the real node's teardown left something behind (kept $saved for the next teardown):"
      SNAPSHOT_IS_EXPECTED=1 leftovers >&2
    fi
  fi
  return 0
}

leftovers() {
  local found=0 item
  report() { echo "leftover $1"; found=1; }
  for item in $(node_processes); do report "process $item: $(tr '\0' ' ' </proc/"$item"/cmdline 2>/dev/null)"; done
  while read -r item; do [[ -n "$item" ]] && report "mount $item"; done < <(node_mounts)
  while read -r item; do [[ -n "$item" ]] && report "cgroup $item"; done < <(find /sys/fs/cgroup -type d -path "*/$cgroup_root" 2>/dev/null)
  local family table
  for family in iptables ip6tables; do
    for table in filter nat mangle; do
      while read -r item; do [[ -n "$item" ]] && report "$family chain $table/$item"; done < <(new_chains "$family" "$table")
    done
  done
  for item in arf0 arfbr0; do ip link show "$item" >/dev/null 2>&1 && report "network interface $item"; done
  while read -r item; do [[ -n "$item" ]] && report "CNI result cache /var/lib/cni/results/$item"; done < <(new_cni_results)
  while read -r item; do [[ -n "$item" ]] && report "log link $item"; done < <(container_log_links)
  local known; known="$(known_dir)"
  if [[ -n "$known" && -f "$known/netns" ]]; then
    for item in /run/netns/cni-*; do
      [[ -e "$item" ]] && ! grep -qxF "${item##*/}" "$known/netns" && report "network namespace $item"
    done
  fi
  [[ -d "$node_dir" ]] && report "directory $node_dir"
  if [[ -n "$known" && -f "$known/host-dirs" ]]; then
    for item in "${HOST_DIRS[@]}"; do
      [[ -e "$item" ]] && ! grep -qxF "$item" "$known/host-dirs" && report "directory $item"
    done
  fi
  # (down checks itself before it retires the snapshot, which is still there then.)
  [[ -f "$saved/complete" && -z "${SNAPSHOT_IS_EXPECTED:-}" ]] && report "unrestored host settings in $saved"
  return $found
}

# Host settings a node changes, as "key=value" lines (the test compares before and after).
host_settings() {
  local key
  for key in "${SYSCTLS[@]}"; do sysctl -n "$key" >/dev/null 2>&1 && echo "$key=$(sysctl -n "$key")"; done
  return 0
}

case "${1:-}" in
  preflight) preflight ;;
  address) preflight; address ;;
  up) up ;;
  import) import_images ;;
  down) down ;;
  leftovers) leftovers ;;
  host-settings) host_settings ;;
  *) die "usage: $0 preflight|address|up|import|down|leftovers|host-settings" ;;
esac

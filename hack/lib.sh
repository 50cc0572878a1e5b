# Shared helpers for hack/ scripts. Source it; it does nothing on its own.
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
# Everything built or downloaded lives outside the repo, keyed by version.
ARF_CACHE="${ARF_CACHE:-$HOME/.cache/arf-operator}"
ARF_BIN_CACHE="$ARF_CACHE/bin"
# Built images, as archives for `ctr images import` (hack/build-images.sh).
ARF_IMAGE_DIR="$ARF_CACHE/images"
# The operator image: the chart's default reference, so `helm install` needs no image values.
OPERATOR_IMAGE="ghcr.io/arf-dev/arf-operator:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$REPO_ROOT/charts/arf-operator/Chart.yaml")"
# Where the local cluster keeps its state (etcd data, certs, logs, kubeconfig).
ARF_CLUSTER_DIR="${ARF_CLUSTER_DIR:-$ARF_CACHE/cluster}"

# The real node (hack/real-node.sh): on unless ARF_REAL_NODE=0 (then kwok fake nodes only).
ARF_REAL_NODE="${ARF_REAL_NODE:-1}"
ARF_NODE_NAME="${ARF_NODE_NAME:-arf-real-node}"
# An address the project creates for the node (and the API server, for Pods), from a range nothing else uses.
ARF_NODE_IP="${ARF_NODE_IP:-10.246.0.1}"
ARF_POD_CIDR="${ARF_POD_CIDR:-10.245.0.0/24}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

k8s_bin_dir() { echo "$ARF_BIN_CACHE/kubernetes-$KUBERNETES_VERSION"; }
k8s_node_bin_dir() { echo "$ARF_BIN_CACHE/kubernetes-node-$KUBERNETES_VERSION"; }
etcd_bin_dir() { echo "$ARF_BIN_CACHE/etcd-$ETCD_VERSION"; }
kwok_bin_dir() { echo "$ARF_BIN_CACHE/kwok-$KWOK_VERSION"; }
helm_bin_dir() { echo "$ARF_BIN_CACHE/helm-$HELM_VERSION"; }
flux_bin_dir() { echo "$ARF_BIN_CACHE/flux-source-$FLUX_SOURCE_CONTROLLER_VERSION-kustomize-$FLUX_KUSTOMIZE_CONTROLLER_VERSION"; }
# Keyed by the runner's source too, so an edit to it rebuilds (warm, from Go's build cache).
argo_lua_bin_dir() { echo "$ARF_BIN_CACHE/argo-lua-$ARGOCD_VERSION-$(sha256sum "$HACK_DIR/argo-lua/main.go" | cut -c1-12)"; }

# A TCP port nothing listens on now, on any address.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return 0; }
  done
}

# Starts one component of the local cluster in the background, keeping its
# exact command (hack/restart-component.sh restarts it), log and pid under
# $ARF_CLUSTER_DIR, so cluster-down.sh can stop it.   start name command...
start() {
  local name="$1"; shift
  mkdir -p "$ARF_CLUSTER_DIR/cmd" && printf '%q ' "$@" >"$ARF_CLUSTER_DIR/cmd/$name"
  nohup "$@" </dev/null >"$ARF_CLUSTER_DIR/logs/$name.log" 2>&1 &
  echo $! >"$ARF_CLUSTER_DIR/pids/$name.pid"
}

# Waits for a check to pass, failing fast if the component died.   wait_for name seconds description check...
wait_for() {
  local name="$1" seconds="$2" what="$3"; shift 3
  local deadline=$((SECONDS + seconds)) log="$ARF_CLUSTER_DIR/logs/$name.log"
  until "$@" >/dev/null 2>&1; do
    kill -0 "$(cat "$ARF_CLUSTER_DIR/pids/$name.pid")" 2>/dev/null || die "$name exited while waiting for $what; see $log"
    ((SECONDS < deadline)) || die "timed out after ${seconds}s waiting for $what; see $log"
    sleep 0.5
  done
}

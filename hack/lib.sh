# Shared helpers for hack/ scripts. Source it; it does nothing on its own.
HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HACK_DIR/.." && pwd)"
# shellcheck source=versions.env
source "$HACK_DIR/versions.env"
# Everything built or downloaded lives outside the repo, keyed by version.
ARF_CACHE="${ARF_CACHE:-$HOME/.cache/arf-operator}"
ARF_BIN_CACHE="$ARF_CACHE/bin"
# Where the local cluster keeps its state (etcd data, certs, logs, kubeconfig).
ARF_CLUSTER_DIR="${ARF_CLUSTER_DIR:-$ARF_CACHE/cluster}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

k8s_bin_dir() { echo "$ARF_BIN_CACHE/kubernetes-$KUBERNETES_VERSION"; }
etcd_bin_dir() { echo "$ARF_BIN_CACHE/etcd-$ETCD_VERSION"; }
kwok_bin_dir() { echo "$ARF_BIN_CACHE/kwok-$KWOK_VERSION"; }
helm_bin_dir() { echo "$ARF_BIN_CACHE/helm-$HELM_VERSION"; }

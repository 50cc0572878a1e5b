#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go module proxy and caches
# them by version outside the repo. A warm cache builds nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "go is not installed; the control plane is built from source with Go"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath"

# Runs a build step unless its cache directory already has a .complete marker.
# Steps build into a temp dir and rename it into place, so an interrupted
# build never leaves a half-filled cache entry behind.
cached_build() {
  local name="$1" dir="$2"; shift 2
  if [[ -f "$dir/.complete" ]]; then log "cached: $name ($dir)"; return 0; fi
  local tmp; tmp="$(mktemp -d "$ARF_BIN_CACHE/.build-XXXXXX")"
  local started=$SECONDS
  log "building $name ..."
  "$@" "$tmp"
  touch "$tmp/.complete"
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "built $name in $((SECONDS - started))s"
}

# build_kubernetes <out> <cmd>...: builds the named k8s.io/kubernetes/cmd/* binaries.
build_kubernetes() {
  local out="$1" work; work="$(mktemp -d)"; shift
  local cmds=("$@")
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  local upstream_mod; upstream_mod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [[ -f "$upstream_mod" ]] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION go.mod"
  # k8s.io/kubernetes replaces its staging modules with local paths, which
  # `go install` refuses. A wrapper module re-points each at its published tag.
  {
    echo "module arf.dev/k8s-build"
    grep -E '^go ' "$upstream_mod"
    grep -E '^godebug ' "$upstream_mod" || true
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$upstream_mod"
    echo ")"
  } > "$work/go.mod"
  local pkgs=("${cmds[@]/#/k8s.io/kubernetes/cmd/}")
  (cd "$work" && go get "${pkgs[@]/%/@$KUBERNETES_VERSION}" >/dev/null)
  # Without the stamp /version says v0.0.0-master and Helm's kubeVersion checks fail.
  local ldflags="-s -w"
  local v
  for v in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $v.gitVersion=$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$work" && go build -ldflags "$ldflags" -o "$out/" "${pkgs[@]}")
  rm -rf "$work"
}

# etcd's server module carries replace directives for its sibling modules, so
# `go install` refuses it; a wrapper module that merely requires it builds,
# because a dependency's replaces are ignored and its requires are already pinned.
build_etcd() {
  local out="$1" work; work="$(mktemp -d)"
  local upstream_mod; upstream_mod="$(go mod download -json "go.etcd.io/etcd/server/v3@$ETCD_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  { echo "module arf.dev/etcd-build"; grep -E '^go ' "$upstream_mod"; echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"; } > "$work/go.mod"
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null && go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$work"
}

# kwok needs Stage objects to make nodes Ready and pods Running; take the
# "fast" stages from the very release we build, via the module cache.
build_kwok() {
  local out="$1" src
  GOBIN="$out" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  src="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  local stage first=1
  for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "$src/kustomize/stage/$stage" ]] || die "kwok $KWOK_VERSION has no stage $stage"
    ((first)) || echo "---"
    first=0
    cat "$src/kustomize/stage/$stage"
  done >"$out/stages.yaml"
}

build_control_plane() { build_kubernetes "$1" kube-apiserver kube-controller-manager kube-scheduler kubectl; }
build_node() { build_kubernetes "$1" kubelet kube-proxy; }

build_go_install() {
  local pkg="$1" out="$2"
  GOBIN="$out" go install -ldflags "-s -w" "$pkg"
}

mkdir -p "$ARF_BIN_CACHE"
started=$SECONDS
cached_build "etcd $ETCD_VERSION" "$(etcd_bin_dir)" build_etcd
cached_build "kwok $KWOK_VERSION" "$(kwok_bin_dir)" build_kwok
cached_build "helm $HELM_VERSION" "$(helm_bin_dir)" build_go_install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
cached_build "kubernetes $KUBERNETES_VERSION" "$(k8s_bin_dir)" build_control_plane
# The real node's binaries: a separate cache entry, so adding them never rebuilds the control plane.
cached_build "kubernetes node $KUBERNETES_VERSION" "$(k8s_node_bin_dir)" build_node
log "control-plane binaries ready in $((SECONDS - started))s (cache: $ARF_BIN_CACHE)"

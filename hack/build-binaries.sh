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

# go_mod_field MODULE@VERSION FIELD: a field (GoMod: its go.mod; Dir: its source) of
# the module, downloaded into the module cache if need be.
go_mod_field() { go mod download -json "$1" | sed -n "s/.*\"$2\": \"\(.*\)\".*/\1/p"; }

# build_kubernetes <out> <cmd>...: builds the named k8s.io/kubernetes/cmd/* binaries.
build_kubernetes() {
  local out="$1" work; work="$(mktemp -d)"; shift
  local cmds=("$@")
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local staging_version="v0.${KUBERNETES_VERSION#v1.}"
  local upstream_mod; upstream_mod="$(go_mod_field "k8s.io/kubernetes@$KUBERNETES_VERSION" GoMod)"
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
  local upstream_mod; upstream_mod="$(go_mod_field "go.etcd.io/etcd/server/v3@$ETCD_VERSION" GoMod)"
  { echo "module arf.dev/etcd-build"; grep -E '^go ' "$upstream_mod"; echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"; } > "$work/go.mod"
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null && go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$work"
}

# kwok needs Stage objects to make nodes Ready and pods Running; take the
# "fast" stages from the very release we build, via the module cache.
build_kwok() {
  local out="$1" src
  GOBIN="$out" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  src="$(go_mod_field "sigs.k8s.io/kwok@$KWOK_VERSION" Dir)"
  local stage first=1
  for stage in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ -f "$src/kustomize/stage/$stage" ]] || die "kwok $KWOK_VERSION has no stage $stage"
    ((first)) || echo "---"
    first=0
    cat "$src/kustomize/stage/$stage"
  done >"$out/stages.yaml"
}

# Flux's controllers carry replace directives (a local ./api, pinned forks),
# which `go install` refuses. A wrapper module per controller requires it and
# copies its non-local replaces; each controller's CRDs come from its own
# module, so the CRDs always match the binaries.
# A module's replace directives, single-line and blocks verbatim (blocks may hold
# comments), without the local ones (=> ./ or ../), which a wrapper module cannot use.
remote_replaces() {
  awk '/^replace \($/{block=1} block{print; if ($0 ~ /^\)$/) block=0; next} /^replace /{print}' "$1" |
    grep -vE '=> \.\.?/' || true
}

build_flux_controller() {
  local out="$1" name="$2" version="$3" work; work="$(mktemp -d)"
  local module="github.com/fluxcd/$name"
  local upstream_mod upstream_dir
  upstream_mod="$(go_mod_field "$module@$version" GoMod)"
  upstream_dir="$(go_mod_field "$module@$version" Dir)"
  [[ -f "$upstream_mod" && -d "$upstream_dir" ]] || die "could not download $module@$version"
  {
    echo "module arf.dev/flux-build"
    grep -E '^go ' "$upstream_mod"
    echo "require $module $version"
    remote_replaces "$upstream_mod"
  } >"$work/go.mod"
  (cd "$work" && go get "$module@$version" >/dev/null && go build -ldflags "-s -w" -o "$out/$name" "$module")
  mkdir -p "$out/crds"
  cp "$upstream_dir"/config/crd/bases/*.yaml "$out/crds/"
  rm -rf "$work"
}
build_flux() {
  build_flux_controller "$1" source-controller "$FLUX_SOURCE_CONTROLLER_VERSION"
  build_flux_controller "$1" kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION"
}

# The health-check runner (hack/argo-lua) against Argo CD's own util/lua. argo-cd's
# go.mod carries replace directives, so a wrapper module requires it and copies
# its non-local replaces; the runner's source is copied into the wrapper.
build_argo_lua() {
  local out="$1" work; work="$(mktemp -d)"
  local module="github.com/argoproj/argo-cd/v3"
  local upstream_mod; upstream_mod="$(go_mod_field "$module@$ARGOCD_VERSION" GoMod)"
  [[ -f "$upstream_mod" ]] || die "could not download $module@$ARGOCD_VERSION go.mod"
  {
    echo "module arf.dev/argo-lua-build"
    grep -E '^go ' "$upstream_mod"
    echo "require $module $ARGOCD_VERSION"
    remote_replaces "$upstream_mod"
  } >"$work/go.mod"
  cp "$HACK_DIR/argo-lua/main.go" "$work/"
  (cd "$work" && go mod tidy >/dev/null && go build -ldflags "-s -w" -o "$out/argo-lua" .)
  rm -rf "$work"
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
# Flux's controllers, for the GitOps e2e (about 1.5 GB of memory each to build cold).
cached_build "flux source-controller $FLUX_SOURCE_CONTROLLER_VERSION, kustomize-controller $FLUX_KUSTOMIZE_CONTROLLER_VERSION" "$(flux_bin_dir)" build_flux
# Argo CD's Lua runtime for the health checks' unit test (hack/argo-lua.test.ts); about 6 min and 1.5 GB cold.
cached_build "argo-lua (Argo CD $ARGOCD_VERSION util/lua)" "$(argo_lua_bin_dir)" build_argo_lua
log "control-plane binaries ready in $((SECONDS - started))s (cache: $ARF_BIN_CACHE)"

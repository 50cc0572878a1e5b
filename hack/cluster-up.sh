#!/usr/bin/env bash
# Brings up a local Kubernetes control plane on 127.0.0.1 from real binaries:
# etcd, kube-apiserver (RBAC, token users, audit log), kube-controller-manager,
# kube-scheduler and kwok with fake nodes. No Docker.
#
#   hack/cluster-up.sh          start, or reuse a healthy running cluster
#   hack/cluster-up.sh --fresh  tear down any running cluster and start anew
#
# Writes $ARF_CLUSTER_DIR/kubeconfig with one context per user:
#   arf-admin (default), arf-requester, arf-alice, arf-bob, arf-outsider, arf-operator
#
# Settings: ARF_CLUSTER_DIR (state), ARF_ETCD_PORT, ARF_ETCD_PEER_PORT, ARF_API_PORT,
# ARF_KWOK_PORT, ARF_FAKE_NODES, ARF_APISERVER_EXTRA_ARGS (e.g. feature gates),
# ARF_REAL_NODE (1, the default: also one real node, see hack/real-node.sh; 0: kwok only).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ETCD_PORT="${ARF_ETCD_PORT:-12379}"
ETCD_PEER_PORT="${ARF_ETCD_PEER_PORT:-12380}"
API_PORT="${ARF_API_PORT:-16443}"
KWOK_PORT="${ARF_KWOK_PORT:-10247}"
FAKE_NODES="${ARF_FAKE_NODES:-2}"

dir="$ARF_CLUSTER_DIR"
kubeconfig="$dir/kubeconfig"
K8S_BIN="$(k8s_bin_dir)"
kubectl() { "$K8S_BIN/kubectl" --kubeconfig "$kubeconfig" "$@"; }

if [[ "${1:-}" == "--fresh" ]]; then "$HACK_DIR/cluster-down.sh"; fi

components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
((ARF_REAL_NODE)) && components+=(containerd kubelet kube-proxy)
cluster_healthy() {
  [[ -f "$kubeconfig" ]] && kubectl get --raw /readyz >/dev/null 2>&1 &&
    for name in "${components[@]}"; do
      [[ -f "$dir/pids/$name.pid" ]] && kill -0 "$(cat "$dir/pids/$name.pid")" 2>/dev/null || return 1
    done
}
if cluster_healthy; then
  log "cluster already up; KUBECONFIG=$kubeconfig (use --fresh to recreate)"
  exit 0
fi
# Something half-alive from an earlier run: clear it before starting.
"$HACK_DIR/cluster-down.sh" >/dev/null 2>&1 || true

for bin in "$(etcd_bin_dir)/etcd" "$K8S_BIN/kube-apiserver" "$K8S_BIN/kube-controller-manager" \
  "$K8S_BIN/kube-scheduler" "$K8S_BIN/kubectl" "$(kwok_bin_dir)/kwok"; do
  [[ -x "$bin" ]] || die "missing binary $bin; run hack/build-binaries.sh first"
done
# With a real node the API server serves the node's address (Pods reach it
# there), and every client uses that address; otherwise loopback.
API_HOST=127.0.0.1
if ((ARF_REAL_NODE)); then
  bash "$HACK_DIR/real-node.sh" preflight
  API_HOST="$ARF_NODE_IP"
fi
for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KWOK_PORT"; do
  if ss -Hltn "sport = :$port" | grep -q .; then
    die "port 127.0.0.1:$port is already in use; stop whatever holds it or choose other ports with ARF_ETCD_PORT, ARF_ETCD_PEER_PORT, ARF_API_PORT, ARF_KWOK_PORT"
  fi
done

started=$SECONDS
rm -rf "$dir"
mkdir -p "$dir"/{pki,pids,logs,etcd,cmd}
chmod 700 "$dir"

on_exit() {
  local code=$?
  ((code == 0)) && return 0
  log "cluster start failed (exit $code); last lines of each log:"
  for f in "$dir"/logs/*.log; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
  "$HACK_DIR/cluster-down.sh" --keep-logs >/dev/null 2>&1 || true
}
# On any failure, a clean slate: show why, then stop whatever was started.
trap on_exit EXIT

# --- certificates: a CA, the apiserver's serving cert, and the service-account key pair.
pki="$dir/pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=arf-local-ca" \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
# 10.96.0.1 is the kubernetes Service, the address in-cluster clients use.
printf 'subjectAltName=IP:127.0.0.1,IP:%s,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' "$ARF_NODE_IP" >"$pki/san.ext"
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 \
  -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
# The API server's client certificate for kubelets (logs, exec, port-forward).
openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" \
  -keyout "$pki/kubelet-client.key" -out "$pki/kubelet-client.csr" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$pki/client.ext"
openssl x509 -req -in "$pki/kubelet-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 \
  -extfile "$pki/client.ext" -out "$pki/kubelet-client.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

# --- token users. Fresh random tokens per cluster; the names are what tests rely on.
token() { openssl rand -hex 24; }
declare -A TOKENS
# name|groups (comma separated)
USERS=(
  "arf-admin|system:masters"
  "requester|arf:requesters"
  "alice|arf:approvers"
  "bob|arf:approvers"
  "outsider|"
  "arf-operator|arf:operators"
  "system:kube-controller-manager|"
  "system:kube-scheduler|"
  "kwok-controller|system:masters"
  "system:kube-proxy|"
  # Flux's controllers in the GitOps e2e; like a real Flux install, cluster-admin.
  "flux-controller|system:masters"
)
: >"$pki/tokens.csv"
uid=1000
for entry in "${USERS[@]}"; do
  name="${entry%%|*}" groups="${entry#*|}"
  TOKENS[$name]="$(token)"
  # An empty groups column would give the user a group named "".
  if [[ -n "$groups" ]]; then line="${TOKENS[$name]},$name,$uid,\"$groups\""; else line="${TOKENS[$name]},$name,$uid"; fi
  echo "$line" >>"$pki/tokens.csv"
  uid=$((uid + 1))
done
chmod 600 "$pki"/*

# --- audit policy: every write at Metadata level, reads and system noise skipped.
cat >"$dir/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver", "kwok-controller", "system:kube-proxy"]
  - level: None
    userGroups: ["system:nodes"]
  - level: None
    verbs: ["get", "list", "watch"]
  - level: Metadata
POLICY

# --- kubeconfigs
write_kubeconfig() { # file default-user
  local file="$1" default_user="$2"
  {
    echo "apiVersion: v1"
    echo "kind: Config"
    echo "clusters:"
    echo "- name: arf-local"
    echo "  cluster:"
    echo "    server: https://$API_HOST:$API_PORT"
    echo "    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")"
    echo "users:"
    for name in "${!TOKENS[@]}"; do
      echo "- name: $name"
      echo "  user:"
      echo "    token: ${TOKENS[$name]}"
    done
    echo "contexts:"
    for name in arf-admin requester alice bob outsider arf-operator kwok-controller flux-controller system:kube-controller-manager system:kube-scheduler; do
      local ctx="arf-${name#arf-}"
      ctx="${ctx//system:/}"
      echo "- name: $ctx"
      echo "  context:"
      echo "    cluster: arf-local"
      echo "    user: $name"
      echo "    namespace: default"
    done
    echo "current-context: $default_user"
  } >"$file"
  chmod 600 "$file"
}
write_kubeconfig "$kubeconfig" arf-admin
write_kubeconfig "$dir/kube-controller-manager.kubeconfig" arf-kube-controller-manager
write_kubeconfig "$dir/kube-scheduler.kubeconfig" arf-kube-scheduler
write_kubeconfig "$dir/kwok.kubeconfig" arf-kwok-controller

log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$(etcd_bin_dir)/etcd" --name arf --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "arf=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --quota-backend-bytes 4294967296
wait_for etcd 30 "etcd health" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

((ARF_REAL_NODE)) && bash "$HACK_DIR/real-node.sh" address
log "starting kube-apiserver on https://$API_HOST:$API_PORT"
start kube-apiserver "$K8S_BIN/kube-apiserver" \
  --bind-address "$API_HOST" --advertise-address "$API_HOST" --secure-port "$API_PORT" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
  --token-auth-file "$pki/tokens.csv" --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
  --anonymous-auth=false --kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
  --service-account-signing-key-file "$pki/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  --audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log" --audit-log-format json \
  --audit-log-maxsize 200 --audit-log-mode blocking \
  --enable-priority-and-fairness=false --event-ttl 2h ${ARF_APISERVER_EXTRA_ARGS:-}
wait_for kube-apiserver 90 "kube-apiserver readiness" kubectl get --raw /readyz

log "starting kube-controller-manager, kube-scheduler and kwok"
# kwok simulates node heartbeats; under load (or just after an API server
# restart) they can lag past the default 50 s grace, and a node marked
# NotReady is tainted so nothing schedules. Fake nodes get a long grace.
start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig "$dir/kube-controller-manager.kubeconfig" --authentication-skip-lookup \
  --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
  --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --controllers '*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle' --concurrent-deployment-syncs 10 \
  --node-monitor-grace-period 5m
start kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig "$dir/kube-scheduler.kubeconfig" --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
start kwok "$(kwok_bin_dir)/kwok" --kubeconfig "$dir/kwok.kubeconfig" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --manage-nodes-with-label-selector= --config "$(kwok_bin_dir)/stages.yaml" \
  --cidr=10.244.0.1/16 --node-ip=10.244.0.1 \
  --server-address "127.0.0.1:$KWOK_PORT"

for i in $(seq 1 "$FAKE_NODES"); do
  kubectl apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    arf.dev/node: fake
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
NODE
done
wait_for kwok 60 "fake nodes Ready" kubectl wait --for=condition=Ready node --all --timeout=2s
# The ServiceAccount admission plugin rejects Pods until the default account exists.
wait_for kube-controller-manager 60 "the default ServiceAccount" kubectl get serviceaccount default -n default

log "TIMING control plane: up in $((SECONDS - started))s"
((ARF_REAL_NODE)) && bash "$HACK_DIR/real-node.sh" up
log "cluster up in $((SECONDS - started))s; export KUBECONFIG=$kubeconfig"

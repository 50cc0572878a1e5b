#!/usr/bin/env bash
# The main job, from nothing: Node, the control plane, the images and a local
# cluster with one real node; ARF installed with Helm and running in-cluster;
# a real service whose bad release really fails, watched by a real Prometheus.
# The audience sees the bad deploy, the recommendation, the approvals, the
# action, the window, and the automatic undo of a fix that made things worse.
# The cluster keeps running afterwards; hack/cluster-down.sh stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"

((ARF_REAL_NODE)) || die "the demo runs real Pods on the real node; it cannot run with ARF_REAL_NODE=0"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
quietly() { # runs a set-up command, showing its output only if it fails
  local out; out="$(mktemp)"
  "$@" >"$out" 2>&1 || { cat "$out" >&2; rm -f "$out"; die "failed: $*"; }
  rm -f "$out"
}

step "Setting up: Node, npm packages, control plane, real-node packages, images, cluster (cached after the first run)"
quietly npm install --no-audit --no-fund --loglevel=error
quietly bash hack/build-binaries.sh
quietly bash hack/setup-prometheus.sh
quietly bash hack/setup-real-node.sh
quietly bash hack/build-images.sh
# A fresh cluster every time (it starts in seconds), so the demo is the same on every run.
quietly bash hack/cluster-up.sh --fresh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
export PATH="$REPO_ROOT/bin:$(k8s_bin_dir):$(helm_bin_dir):$PATH"
demo_dir="$ARF_CACHE/demo"
rm -rf "$demo_dir"; mkdir -p "$demo_dir"
background=()
trap 'for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

# --- Prometheus on the node's address (the in-cluster operator queries it), scraping
# the checkout Pods through a file_sd list this script keeps current.
prom_port="$(free_port)"
prom="http://$ARF_NODE_IP:$prom_port"
echo '[]' >"$demo_dir/targets.json"
cat >"$demo_dir/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: pods
    file_sd_configs: [{ files: ["$demo_dir/targets.json"], refresh_interval: 1s }]
EOF
prometheus --config.file="$demo_dir/prometheus.yml" --storage.tsdb.path="$demo_dir/prometheus" \
  --web.listen-address="$ARF_NODE_IP:$prom_port" --query.lookback-delta=5s >"$demo_dir/prometheus.log" 2>&1 &
background+=($!)
keep_targets() {
  while :; do
    kubectl get pods -n shop -l app=checkout --field-selector=status.phase=Running \
      -o jsonpath='{range .items[*]}{.status.podIP}{" "}{.metadata.name}{"\n"}{end}' 2>/dev/null |
      awk 'BEGIN { printf "[" } NF == 2 { printf "%s{\"targets\":[\"%s:8080\"],\"labels\":{\"namespace\":\"shop\",\"pod\":\"%s\"}}", sep, $1, $2; sep = "," } END { print "]" }' \
        >"$demo_dir/targets.tmp" && mv "$demo_dir/targets.tmp" "$demo_dir/targets.json"
    sleep 1
  done
}
keep_targets &
background+=($!)
ratio_query='sum(rate(http_requests_total{namespace="shop",code="500"}[5s])) / sum(rate(http_requests_total{namespace="shop"}[5s]))'
error_ratio() { # the error ratio as Prometheus computes it, as a percentage, or "no data"
  { curl -fsS "$prom/api/v1/query" --data-urlencode "query=$ratio_query" 2>/dev/null || echo '{}'; } |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let r;try{r=JSON.parse(s).data?.result?.[0]?.value?.[1]}catch{};const v=Number(r);console.log(r===undefined||!Number.isFinite(v)?"no data":`${Math.round(v*100)}%`)})'
}
wait_ratio() { # wait_ratio <test on the number, e.g. "== 0"> : waits until Prometheus agrees
  local deadline=$((SECONDS + 90)) value
  while ((SECONDS < deadline)); do
    value="$(error_ratio)"
    [[ "$value" != "no data" ]] && (("${value%\%}" $1)) && { echo "$value"; return 0; }
    sleep 1
  done
  die "the error ratio never became $1 (last: ${value:-none}); see $demo_dir/prometheus.log"
}
image_of() { kubectl -n shop get deployment checkout -o jsonpath='{.spec.template.spec.containers[0].image}'; }
rolled_out() { kubectl -n shop rollout status deployment/checkout --timeout=120s >/dev/null; }
phase_of() { kubectl -n shop get hi "$1" -o jsonpath='{.status.phase}' 2>/dev/null || true; }
wait_phase() { # intent phase...
  local intent="$1"; shift
  local deadline=$((SECONDS + 90)) phase=""
  while ((SECONDS < deadline)); do
    phase="$(phase_of "$intent")"
    for wanted in "$@"; do [[ "$phase" == "$wanted" ]] && return 0; done
    sleep 0.5
  done
  die "intent $intent is $phase, never $*"
}
field() { kubectl -n shop get "$1" -o jsonpath="{$2}"; }

step "A real node beside the fake ones, and a real service on it"
say "nodes: $(kubectl get nodes --no-headers -o custom-columns=N:.metadata.name,R:.status.nodeInfo.containerRuntimeVersion | awk '{printf "%s%s (%s)", sep, $1, $2; sep=", "}')"
kubectl create namespace shop >/dev/null
kubectl -n shop apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: { name: checkout, labels: { app: checkout } }
spec:
  replicas: 2
  selector: { matchLabels: { app: checkout } }
  strategy: { rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } }
  template:
    metadata: { labels: { app: checkout } }
    spec:
      nodeSelector: { arf.dev/node: real }
      tolerations: [{ key: arf.dev/node, operator: Equal, value: real, effect: NoSchedule }]
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          image: $DEMO_SERVICE_IMAGE:v1
          imagePullPolicy: Never
          env: [{ name: LOAD_RPS, value: "20" }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
EOF
rolled_out
ratio="$(wait_ratio '== 0')"
say "checkout $(image_of): $(kubectl -n shop get pods -l app=checkout --no-headers | awk '$3 == "Running"' | wc -l) Pods Running on $ARF_NODE_NAME; error ratio $ratio (Prometheus)"

step "ARF installed with Helm, in-cluster on the real node: the OSS edition only recommends"
mkdir -p "$ARF_CACHE/demo-keys"
[[ -f "$ARF_CACHE/demo-keys/public.pem" ]] || node hack/license.ts keygen "$ARF_CACHE/demo-keys" >/dev/null 2>&1
helm_args=(arf charts/arf-operator --namespace arf-system --wait --timeout 180s
  --set-json 'nodeSelector={"arf.dev/node":"real"}'
  --set-json 'tolerations=[{"key":"arf.dev/node","operator":"Equal","value":"real","effect":"NoSchedule"}]'
  --set "prometheusUrl=$prom" --set-file "license.unsafePublicKeyOverride=$ARF_CACHE/demo-keys/public.pem")
helm install "${helm_args[@]}" --create-namespace --set edition=oss >/dev/null
say "$(kubectl -n arf-system get pods -l app.kubernetes.io/name=arf-operator --no-headers | awk '{print $2}' | grep -c 1/1)/2 operator Pods Ready, image $(kubectl -n arf-system get deployment arf-operator -o jsonpath='{.spec.template.spec.containers[0].image}')"
kubectl -n shop create role intents --verb=get,list,watch,create,patch --resource=healingintents.arf.dev >/dev/null
kubectl -n shop create rolebinding intents --role=intents --user=requester --user=alice --user=bob >/dev/null
kubectl -n shop apply -f - >/dev/null <<EOF
apiVersion: arf.dev/v1alpha1
kind: ApprovalPolicy
metadata: { name: checkout-rollbacks }
spec:
  selector: { actions: [rollback] }
  mode: approval
  approvers: { users: [alice, bob] }
  requiredApprovals: 2
---
apiVersion: arf.dev/v1alpha1
kind: RollbackPlan
metadata: { name: checkout }
spec:
  target: { kind: Deployment, name: checkout }
  # A fix starts from a bad ratio: rounds that are no worse than before are
  # inconclusive, not failures, until the fix shows; allow enough of them.
  autoRollback: { duration: 20s, checkInterval: 2s, failureLimit: 2, inconclusiveLimit: 8 }
  healthChecks:
    prometheus:
      queries:
        - name: error-ratio
          query: '$ratio_query'
          operator: LessThan
          threshold: 0.2
EOF

step "A bad deploy: checkout v2 answers errors"
kubectl -n shop set image deployment/checkout app="$DEMO_SERVICE_IMAGE:v2" >/dev/null
rolled_out
ratio="$(wait_ratio '> 90')"
say "checkout $(image_of) rolled out; error ratio $ratio (Prometheus)"

propose() { # intent-name incident justification
  kubectl --context arf-requester -n shop apply -f - >/dev/null <<EOF
apiVersion: arf.dev/v1alpha1
kind: HealingIntent
metadata: { name: $1 }
spec:
  action: rollback
  target: { kind: Deployment, name: checkout }
  justification: "$3"
  confidence: 0.91
  incidentId: $2
  detectedAt: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  source: { type: agent, name: sre-agent }
  requestedBy: requester
  approvals: []
EOF
}

step "An AI agent proposes a rollback (HealingIntent checkout-rollback)"
propose checkout-rollback INC-4242 "HTTP 500 ratio jumped from 0% to 100% right after checkout v2 rolled out."
wait_phase checkout-rollback Advisory
say "recommendation: $(field hi/checkout-rollback .status.recommendation.summary)"
policy="$(field hi/checkout-rollback .status.decision.policy)"
say "policy: ${policy:-none governs it} (mode $(field hi/checkout-rollback .status.decision.mode)); OSS: advisory only, checkout still runs $(image_of)"

step "helm upgrade to the licensed edition, with a license bound to this cluster"
node hack/license.ts issue --key "$ARF_CACHE/demo-keys/private.pem" --licensee "Demo Corp" --days 1 \
  --cluster-uid "$(kubectl get namespace kube-system -o jsonpath='{.metadata.uid}')" >"$demo_dir/license.token"
kubectl -n arf-system create secret generic arf-license --from-file=license="$demo_dir/license.token" >/dev/null
helm upgrade "${helm_args[@]}" --set edition=licensed >/dev/null
wait_phase checkout-rollback AwaitingApproval
say "edition licensed; checkout-rollback is $(phase_of checkout-rollback): $(field hi/checkout-rollback .status.decision.reasons[0])"

approve() { # user intent
  local out
  out="$(kubectl arf approve "$2" -n shop --context "arf-$1" -m "error ratio confirmed in Prometheus" 2>&1)" ||
    die "$1 could not approve $2: $out"
  say "$1 approved $2"
}
step "Two people approve; nobody can approve in someone else's name"
approve alice checkout-rollback
if forged="$(kubectl --context arf-alice -n shop patch hi checkout-rollback --type json \
  -p '[{"op":"add","path":"/spec/approvals/-","value":{"user":"bob","decision":"approve"}}]' 2>&1)"; then
  die "the API server accepted an approval in someone else's name: is the admission policy installed?"
fi
say "alice approving as bob: refused by the API server (${forged##*: })"
approve bob checkout-rollback

step "The action, then the auto-rollback window watches it"
wait_phase checkout-rollback Succeeded Failed
say "checkout-rollback $(phase_of checkout-rollback): $(field hi/checkout-rollback .status.execution.message)"
rolled_out
ratio="$(wait_ratio '== 0')"
say "checkout $(image_of); error ratio $ratio (Prometheus)"
[[ "$(phase_of checkout-rollback)" == Succeeded ]] || die "checkout-rollback did not succeed; see kubectl arf explain checkout-rollback -n shop"
deadline=$((SECONDS + 90))
until [[ "$(field rollbackplan/checkout .status.window.intentName)" == checkout-rollback &&
  "$(field rollbackplan/checkout .status.window.state)" != Watching ]]; do
  ((SECONDS < deadline)) || die "the window of checkout-rollback did not end in 90 s"
  sleep 1
done
say "window $(field rollbackplan/checkout .status.window.state): $(field rollbackplan/checkout .status.window.verdict.message)"

step "A wrong fix: the agent rolls back again, to v2, and the window undoes it"
propose checkout-rollback-again INC-4243 "Latency is up 5% since the last rollback; rolling back to the previous revision."
wait_phase checkout-rollback-again AwaitingApproval
approve alice checkout-rollback-again
approve bob checkout-rollback-again
wait_phase checkout-rollback-again Succeeded Failed RolledBack
say "checkout-rollback-again acted: $(field hi/checkout-rollback-again .status.execution.message)"
wait_phase checkout-rollback-again RolledBack
# The window may undo it before a 5 s rate shows the worst: look back over the episode.
peak="$(curl -fsS "$prom/api/v1/query" --data-urlencode "query=max_over_time(($ratio_query)[3m:1s])" |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(`${Math.round(Number(JSON.parse(s).data.result[0].value[1])*100)}%`))')"
say "meanwhile v2 served errors again: the error ratio peaked at $peak (Prometheus)"
say "window $(field rollbackplan/checkout .status.window.state): $(field rollbackplan/checkout .status.window.verdict.message)"
rolled_out
ratio="$(wait_ratio '== 0')"
say "undone automatically: checkout $(image_of); error ratio $ratio (Prometheus)"
say "why, in one command: kubectl arf explain checkout-rollback-again -n shop"

echo
echo "The cluster keeps running. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$REPO_ROOT/bin:$(k8s_bin_dir):\$PATH"
echo "  kubectl get hi,ap,rbp -A; kubectl arf explain checkout-rollback-again -n shop; kubectl -n shop get pods -o wide"
echo "Stop it with: bash hack/cluster-down.sh"

#!/usr/bin/env bash
# The main job, from nothing: set up Node and the control plane, start the
# local cluster, install the CRDs and the OSS RBAC, run the operator as its own
# token user, apply example intents, and show what the operator recommends.
# The cluster keeps running afterwards; hack/cluster-down.sh stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"

npm install --no-audit --no-fund --loglevel=error
bash hack/build-binaries.sh
# A fresh cluster every time (it starts in seconds), so the demo is the same on every run.
bash hack/cluster-up.sh --fresh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
kubectl() { "$(k8s_bin_dir)/kubectl" "$@"; }
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

say "Installing the CRDs and the OSS edition's RBAC (read-only on workloads)"
bash hack/install-arf.sh oss

say "A workload with two revisions: web:1.3, then web:1.4"
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo apply -f examples/workload.yaml >/dev/null
kubectl -n demo set image deployment/web app=registry.example/web:1.3 >/dev/null
kubectl -n demo rollout status deployment/web --timeout=90s >/dev/null
kubectl -n demo set image deployment/web app=registry.example/web:1.4 >/dev/null
kubectl -n demo rollout status deployment/web --timeout=90s
kubectl -n demo get deployment web

say "Starting the operator (OSS edition) as token user arf-operator; log in $ARF_CACHE/demo-operator.log"
# A demo vendor key pair; the license Secret does not exist yet, so this is the OSS edition.
mkdir -p "$ARF_CACHE/demo-keys"
[[ -f "$ARF_CACHE/demo-keys/public.pem" ]] || node hack/license.ts keygen "$ARF_CACHE/demo-keys" 2>/dev/null
kubectl -n arf-system delete secret arf-license --ignore-not-found >/dev/null
node operator/main.ts --context arf-operator --http-host 127.0.0.1 --http-port 18080 \
  --leader-election-namespace arf-system --license-secret arf-system/arf-license \
  --license-public-key "$ARF_CACHE/demo-keys/public.pem" --license-check-interval 1s >"$ARF_CACHE/demo-operator.log" 2>&1 &
operator_pid=$!
trap 'kill "$operator_pid" 2>/dev/null || true' EXIT
until curl -fsS 127.0.0.1:18080/readyz >/dev/null 2>&1; do
  kill -0 "$operator_pid" 2>/dev/null || { tail -20 "$ARF_CACHE/demo-operator.log"; exit 1; }
  sleep 0.5
done

say "An alerting pipeline and an AI agent propose fixes: kubectl apply of two HealingIntents"
kubectl -n demo apply -f examples/approvalpolicy.yaml -f examples/healingintent-scale.yaml -f examples/healingintent-rollback.yaml
for intent in web-scale-out web-rollback; do
  kubectl -n demo wait --for=jsonpath='{.status.phase}'=Advisory "hi/$intent" --timeout=60s >/dev/null
done

say "kubectl get hi -o wide"
kubectl -n demo get hi -o wide
say "What the operator decided, and why"
for intent in web-scale-out web-rollback; do
  kubectl -n demo get hi "$intent" -o jsonpath='{.metadata.name}{":\n  recommendation: "}{.status.recommendation.summary}{"\n  dry run validated: "}{.status.recommendation.dryRun.validated}{"\n  policy: "}{.status.decision.policy}{" (mode "}{.status.decision.mode}{")\n  verdict: "}{.status.decision.verdict}{" - "}{.status.decision.reasons[0]}{"\n"}'
done
say "The workload is untouched: the OSS edition never acts"
kubectl -n demo get deployment web -o jsonpath='{"replicas: "}{.spec.replicas}{", image: "}{.spec.template.spec.containers[0].image}{"\n"}'
kubectl auth can-i patch deployments -n demo --as arf-operator || true

say "The licensed edition: issue a license bound to this cluster and store it in a Secret (no restart)"
bash hack/install-arf.sh licensed
node hack/license.ts issue --key "$ARF_CACHE/demo-keys/private.pem" --licensee "Demo Corp" --days 1 \
  --cluster-uid "$(kubectl get namespace kube-system -o jsonpath='{.metadata.uid}')" >"$ARF_CACHE/demo-license.token"
kubectl -n arf-system create secret generic arf-license --from-file=license="$ARF_CACHE/demo-license.token" >/dev/null
until curl -fsS 127.0.0.1:18080/metrics | grep -q '^arf_license_valid 1'; do sleep 0.5; done
curl -fsS 127.0.0.1:18080/metrics | grep -E '^arf_(edition_info|license_valid)'

say "Two of alice, bob and carol must approve scaling the checkout service; the requester may not approve their own"
kubectl create namespace shop --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n shop create deployment checkout --image=registry.example/checkout:2.1 --replicas=2 >/dev/null
kubectl -n shop rollout status deployment/checkout --timeout=90s >/dev/null
kubectl -n shop create role intents --verb=get,list,watch,create,patch --resource=healingintents.arf.dev >/dev/null
kubectl -n shop create rolebinding intents --role=intents --user=requester --user=alice --user=bob >/dev/null
kubectl -n shop apply -f - >/dev/null <<'POLICY'
apiVersion: arf.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: checkout-scaling
spec:
  selector: { actions: [scale] }
  mode: approval
  approvers: { users: [alice, bob, carol] }
  requiredApprovals: 2
  limits: { maxReplicas: 10, maxScaleFactor: 3 }
POLICY
kubectl --context arf-requester -n shop apply -f - <<'INTENT'
apiVersion: arf.dev/v1alpha1
kind: HealingIntent
metadata:
  name: checkout-scale-out
spec:
  action: scale
  target: { kind: Deployment, name: checkout }
  parameters: { replicas: 5 }
  justification: Checkout queue depth tripled after the campaign launch; CPU is saturated on both replicas.
  confidence: 0.88
  incidentId: INC-3001
  detectedAt: "2026-11-21T12:00:00Z"
  source: { type: human, name: requester }
  requestedBy: requester
  approvals: []
INTENT
export PATH="$REPO_ROOT/bin:$(k8s_bin_dir):$PATH"
kubectl -n shop wait --for=jsonpath='{.status.phase}'=AwaitingApproval hi/checkout-scale-out --timeout=60s >/dev/null
echo "\$ kubectl arf approve checkout-scale-out --context arf-requester   # the requester's own approval is not counted"
kubectl arf approve checkout-scale-out -n shop --context arf-requester
echo "\$ kubectl arf approve checkout-scale-out --context arf-alice -m 'queue depth confirmed'"
kubectl arf approve checkout-scale-out -n shop --context arf-alice -m "queue depth confirmed"
echo "\$ kubectl --context arf-alice patch ... (an approval in bob's name)"
kubectl --context arf-alice -n shop patch hi checkout-scale-out --type json \
  -p '[{"op":"add","path":"/spec/approvals/-","value":{"user":"bob","decision":"approve"}}]' 2>&1 | sed 's/^/  /' || true
sleep 1
kubectl -n shop get hi checkout-scale-out -o wide
echo "\$ kubectl arf approve checkout-scale-out --context arf-bob"
kubectl arf approve checkout-scale-out -n shop --context arf-bob
kubectl -n shop wait --for=jsonpath='{.status.phase}'=Succeeded hi/checkout-scale-out --timeout=60s >/dev/null
kubectl -n shop get hi checkout-scale-out -o wide
echo "\$ kubectl arf explain checkout-scale-out"
kubectl arf explain checkout-scale-out -n shop
kubectl -n shop get deployment checkout

echo
echo "The cluster keeps running. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$(k8s_bin_dir):\$PATH"
echo "  kubectl get hi,ap,rbp -A; kubectl explain healingintent.spec; kubectl -n demo describe hi web-rollback"
echo "Stop it with: bash hack/cluster-down.sh"

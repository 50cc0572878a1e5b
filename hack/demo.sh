#!/usr/bin/env bash
# The main job, from nothing: set up Node and the control plane, start the
# local cluster, install the CRDs, apply an example workload and intent, and
# show the intent. Leaves the cluster running; hack/cluster-down.sh stops it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup-node.sh"
cd "$REPO_ROOT"

npm install --no-audit --no-fund --loglevel=error
bash hack/build-binaries.sh
bash hack/cluster-up.sh
export KUBECONFIG="$ARF_CLUSTER_DIR/kubeconfig"
kubectl() { "$(k8s_bin_dir)/kubectl" "$@"; }

kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd -l app.kubernetes.io/part-of=arf-operator --timeout=60s >/dev/null
kubectl apply -f examples/workload.yaml
kubectl rollout status deployment/web --timeout=90s
kubectl apply -f examples/healingintent-scale.yaml

echo
echo "\$ kubectl get hi"
kubectl get hi
echo
echo "The cluster keeps running. Try:"
echo "  export KUBECONFIG=$KUBECONFIG PATH=$(k8s_bin_dir):\$PATH"
echo "  kubectl get hi,ap,rbp -A; kubectl explain healingintent.spec"
echo "Stop it with: bash hack/cluster-down.sh"

#!/usr/bin/env bash
# Installs what the operator needs on the local cluster, for running it from
# this checkout as the token user arf-operator: the CRDs (with the approvals
# admission policy), the arf-system namespace, and the chart's RBAC for an
# edition bound to that user.   hack/install-arf.sh oss|licensed
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
edition="${1:?usage: install-arf.sh oss|licensed}"
export KUBECONFIG="${KUBECONFIG:-$ARF_CLUSTER_DIR/kubeconfig}"
kubectl() { "$(k8s_bin_dir)/kubectl" "$@"; }
cd "$REPO_ROOT"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for=condition=Established crd -l app.kubernetes.io/part-of=arf-operator --timeout=60s >/dev/null
kubectl create namespace arf-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
"$(helm_bin_dir)/helm" template arf charts/arf-operator --namespace arf-system --kube-version 1.35.0 \
  --set "edition=$edition" --set 'rbac.extraUsers={arf-operator}' --show-only templates/rbac.yaml | kubectl apply -f - >/dev/null

#!/usr/bin/env bash
# Where Docker exists: a kind cluster shaped like the local control plane (the
# same token users, RBAC, and an audit log readable from the host), so the same
# e2e suite runs against it:
#   bash hack/kind-up.sh && ARF_E2E_KUBECONFIG=$ARF_CACHE/kind/kubeconfig \
#     ARF_E2E_AUDIT_LOG=$ARF_CACHE/kind/audit/audit.log npx vitest run --project e2e
# Not exercised on machines without a Docker engine (the project's CI machines).
# The API-server restart test needs the local control plane and fails here with a message saying so.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v kind >/dev/null || die "kind is not installed (go install sigs.k8s.io/kind@latest)"
docker info >/dev/null 2>&1 || die "no Docker engine is reachable; use hack/cluster-up.sh instead"

dir="$ARF_CACHE/kind"
rm -rf "$dir" && mkdir -p "$dir/auth" "$dir/audit"
: >"$dir/auth/tokens.csv"
declare -A TOKENS
uid=1000
for entry in "arf-admin|system:masters" "requester|arf:requesters" "alice|arf:approvers" "bob|arf:approvers" "outsider|" "arf-operator|arf:operators"; do
  name="${entry%%|*}" groups="${entry#*|}"
  TOKENS[$name]="$(openssl rand -hex 24)"
  if [[ -n "$groups" ]]; then echo "${TOKENS[$name]},$name,$uid,\"$groups\""; else echo "${TOKENS[$name]},$name,$uid"; fi >>"$dir/auth/tokens.csv"
  uid=$((uid + 1))
done
cat >"$dir/auth/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    verbs: ["get", "list", "watch"]
  - level: Metadata
POLICY
chmod 644 "$dir/auth/"*
cat >"$dir/kind.yaml" <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraMounts:
      - { hostPath: $dir/auth, containerPath: /etc/arf-auth, readOnly: true }
      - { hostPath: $dir/audit, containerPath: /var/log/arf-audit }
    kubeadmConfigPatches:
      - |
        kind: ClusterConfiguration
        apiServer:
          extraArgs:
            token-auth-file: /etc/arf-auth/tokens.csv
            audit-policy-file: /etc/arf-auth/audit-policy.yaml
            audit-log-path: /var/log/arf-audit/audit.log
          extraVolumes:
            - { name: arf-auth, hostPath: /etc/arf-auth, mountPath: /etc/arf-auth, readOnly: true, pathType: Directory }
            - { name: arf-audit, hostPath: /var/log/arf-audit, mountPath: /var/log/arf-audit, pathType: DirectoryOrCreate }
KIND
kind delete cluster --name arf >/dev/null 2>&1 || true
kind create cluster --name arf --config "$dir/kind.yaml" --kubeconfig "$dir/kind-admin.kubeconfig"
server="$(sed -n 's/^ *server: //p' "$dir/kind-admin.kubeconfig" | head -1)"
ca="$(sed -n 's/^ *certificate-authority-data: //p' "$dir/kind-admin.kubeconfig" | head -1)"
{
  echo "apiVersion: v1"; echo "kind: Config"
  echo "clusters: [{name: arf-kind, cluster: {server: $server, certificate-authority-data: $ca}}]"
  echo "users:"
  for name in "${!TOKENS[@]}"; do echo "- {name: $name, user: {token: ${TOKENS[$name]}}}"; done
  echo "contexts:"
  for name in arf-admin requester alice bob outsider arf-operator; do
    echo "- {name: arf-${name#arf-}, context: {cluster: arf-kind, user: $name, namespace: default}}"
  done
  echo "current-context: arf-admin"
} >"$dir/kubeconfig"
chmod 600 "$dir/kubeconfig"
log "kind cluster up; ARF_E2E_KUBECONFIG=$dir/kubeconfig ARF_E2E_AUDIT_LOG=$dir/audit/audit.log"

#!/usr/bin/env bash
# Prints, as KEY=value lines, where the local cluster's pieces are, for tools
# and tests that are not shell scripts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
echo "KUBECONFIG=$ARF_CLUSTER_DIR/kubeconfig"
echo "AUDIT_LOG=$ARF_CLUSTER_DIR/audit.log"
echo "KUBECTL=$(k8s_bin_dir)/kubectl"
echo "HELM=$(helm_bin_dir)/helm"
echo "BIN_PATH=$(k8s_bin_dir):$(helm_bin_dir)"

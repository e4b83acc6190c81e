#!/usr/bin/env bash
# The main job (`make deploy`): deploy the default stack onto a cluster and show it healthy.
# Cluster, in this order: the context named by KUBECONFIG if it answers; else Minikube if
# installed (bootstrapped with playbooks/minikube.yml); else the local test cluster built
# from source (tests/cluster) with the test images (tests/images).
# GENAI_INVENTORY overrides the inventory chosen for that cluster.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/venv.sh"

answers() { kubectl --request-timeout=10s version >/dev/null 2>&1; }

if [ -n "${KUBECONFIG:-}" ] && [ -f "${KUBECONFIG%%:*}" ] && answers; then
  say "using the cluster of KUBECONFIG=$KUBECONFIG (context $(kubectl config current-context))"
  inventory=${GENAI_INVENTORY:-inventories/genai}
elif command -v minikube >/dev/null 2>&1; then
  say "using Minikube"
  inventory=${GENAI_INVENTORY:-inventories/genai}
  ansible-playbook playbooks/minikube.yml -i "$inventory"
  export KUBECONFIG=${KUBECONFIG:-$HOME/.kube/config}
  kubectl config use-context genai >/dev/null
else
  say "no cluster given: bringing up the local test cluster (tests/cluster; the first run builds it from source)"
  "$ROOT/tests/cluster/cluster" up
  "$ROOT/tests/images/images" import
  export KUBECONFIG=$ROOT/.cluster/kubeconfig
  inventory=${GENAI_INVENTORY:-inventories/local}
fi

say "deploying with $inventory"
ansible-playbook site.yml -i "$inventory"
if [ "$inventory" = inventories/local ]; then
  say "the local test cluster has no ingress controller; reach the app with a port-forward:"
  say "  $ROOT/.cluster/bin/kubectl --kubeconfig $KUBECONFIG -n genai port-forward svc/frontend 5173:5173   # then http://127.0.0.1:5173/"
  say "  $ROOT/.cluster/bin/kubectl --kubeconfig $KUBECONFIG -n genai port-forward svc/gateway 8000:8000    # then http://127.0.0.1:8000/healthz"
fi
say "done: the health report above is from playbooks/verify.yml; run it again with"
say "  KUBECONFIG=$KUBECONFIG ansible-playbook playbooks/verify.yml -i $inventory"

#!/usr/bin/env bash
# The main job (`make deploy`): deploy the default stack onto a cluster and show it healthy.
# Cluster, in this order: the context named by KUBECONFIG if it answers; else Minikube if
# installed (bootstrapped with playbooks/minikube.yml); else the local test cluster built
# from source (tests/cluster) with the test images (tests/images).
# GENAI_INVENTORY overrides the inventory chosen for that cluster.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
site_args=()
cd "$ROOT"
"$ROOT/scripts/venv.sh"

answers() { kubectl --request-timeout=10s version >/dev/null 2>&1; }

if [ -n "${KUBECONFIG:-}" ] && [ -f "${KUBECONFIG%%:*}" ] && answers; then
  say "using the cluster of KUBECONFIG=$KUBECONFIG (context $(kubectl config current-context))"
  inventory=${GENAI_INVENTORY:-inventories/genai}
elif command -v minikube >/dev/null 2>&1; then
  # The profile `genai` (playbooks/minikube.yml, role defaults: 2 CPUs, 4g) with the test
  # images loaded into it by the role, so nothing is pulled; the stack then goes to its context.
  profile=${GENAI_MINIKUBE_PROFILE:-genai}
  say "using Minikube (profile $profile)"
  inventory=${GENAI_INVENTORY:-inventories/local}
  "$ROOT/tests/images/images" build >/dev/null
  archives=${GENAI_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genai-stack}/minikube/deploy-archives
  mkdir -p "$archives"
  refs=()
  for name in app mysql redis qdrant; do
    [ -s "$archives/$name.tar" ] || "$ROOT/tests/images/images" save "$name" "$archives/$name.tar" >/dev/null
    refs+=("{\"ref\": \"localhost/genai-stack-test/$name:1.0.0\", \"archive\": \"$archives/$name.tar\"}")
  done
  extra='[]'
  # minikube refuses the docker driver as root (DRV_AS_ROOT) unless told to go on.
  [ "$(id -u)" = 0 ] && extra='["--force"]'
  ansible-playbook playbooks/minikube.yml -i "$inventory" -e "{\"minikube_profile\": \"$profile\",
    \"minikube_manage_hosts\": false, \"minikube_extra_args\": $extra,
    \"minikube_image_archives\": [$(IFS=,; echo "${refs[*]}")]}"
  export KUBECONFIG=${KUBECONFIG:-$HOME/.kube/config}
  export K8S_AUTH_CONTEXT=$profile
  # No ingress controller or cert-manager on the profile (minikube's ingress addon pulls its
  # images): the stack goes on without its Ingress; reach it with a port-forward.
  site_args=(-e '{"genai_k8s_auth": {"context": "'"$profile"'"}, "genai_ingress_overrides": {"enabled": false}, "verify_ingress_check": false}')
else
  say "no cluster given: bringing up the local test cluster (tests/cluster; the first run builds it from source)"
  "$ROOT/tests/cluster/cluster" up
  "$ROOT/tests/images/images" import
  export KUBECONFIG=$ROOT/.cluster/kubeconfig
  inventory=${GENAI_INVENTORY:-inventories/local}
fi

say "deploying with $inventory"
ansible-playbook site.yml -i "$inventory" "${site_args[@]}"
if [ "$inventory" = inventories/local ] && [ -s "$ROOT/.cluster/node-ip" ]; then
  say "the URLs above answered through the test cluster's ingress controller; to open them here, add"
  say "  $(cat "$ROOT/.cluster/node-ip") app.genai.local api.genai.local"
  say "to /etc/hosts and trust the test CA $ROOT/.cluster/ca/genai-test-ca.crt (docs/test-cluster.md)"
fi
say "done: the health report above is from playbooks/verify.yml; run it again with"
say "  KUBECONFIG=$KUBECONFIG ansible-playbook playbooks/verify.yml -i $inventory"

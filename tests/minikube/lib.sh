# Shared settings for tests/minikube scripts. Sourced, not run.
# shellcheck shell=bash
MINIKUBE_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../cluster/lib.sh
. "$MINIKUBE_TEST_DIR/../cluster/lib.sh"
# shellcheck source=versions.env
. "$MINIKUBE_TEST_DIR/versions.env"
MINIKUBE_BIN_DIR="$GENAI_CACHE/bin/minikube-$MINIKUBE_VERSION-crictl-$CRICTL_VERSION"
# Images of the test profile: minikube start --image-repository=$MINIKUBE_IMAGE_REPOSITORY
MINIKUBE_IMAGE_REPOSITORY=localhost/genai-stack-test/minikube
MINIKUBE_KICBASE_TAG=v0.0.50-genai

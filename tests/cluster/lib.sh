# Shared settings for tests/cluster scripts. Sourced, not run.
# shellcheck shell=bash
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_DIR/../.." && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

# Long builds are cached outside the repository so a warm machine skips them.
GENAI_CACHE=${GENAI_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genai-stack}
BIN_DIR="$GENAI_CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-coredns-$COREDNS_VERSION"
# Add-on binaries (addons/: metrics-server, kube-router, our cert-manager controller) are
# keyed by their Go sources, so a change of go.mod or of our code rebuilds them once.
ADDON_SRC_HASH=$(cat "$CLUSTER_DIR/addons/go.mod" "$CLUSTER_DIR/addons/go.sum" "$CLUSTER_DIR/addons/tools.go" \
  "$CLUSTER_DIR"/addons/cmd/*/*.go | sha256sum | cut -c1-16)
ADDON_BIN="$GENAI_CACHE/bin/addons-$ADDON_SRC_HASH"
ADDON_CMDS=(metrics-server kube-router genai-cert-manager)
TRAEFIK_DIR="$GENAI_CACHE/traefik-$TRAEFIK_VERSION"
export GOWORK=off GOFLAGS=-buildvcs=false
export GOCACHE=${GOCACHE:-$GENAI_CACHE/go-build}
export GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# step NAME CMD...: run a step and print how long it took.
step() {
  local name=$1; shift
  local t0=$SECONDS
  log "start: $name"
  "$@" || die "step failed: $name"
  log "done:  $name ($((SECONDS - t0))s)"
}

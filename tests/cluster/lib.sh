# Shared settings for tests/cluster scripts. Sourced, not run.
# shellcheck shell=bash
CLUSTER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CLUSTER_DIR/../.." && pwd)
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

# Long builds are cached outside the repository so a warm machine skips them.
GENAI_CACHE=${GENAI_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genai-stack}
BIN_DIR="$GENAI_CACHE/bin/kube-$KUBE_VERSION-etcd-$ETCD_VERSION-coredns-$COREDNS_VERSION"
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

#!/usr/bin/env bash
# Build the cluster's binaries from source through the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl, kubeadm,
# etcd, etcdctl, coredns, and a static pause binary. Output is cached in $BIN_DIR.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KUBE_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl kubeadm)

have_all() {
  local b
  for b in "${KUBE_CMDS[@]}" etcd etcdctl coredns pause; do
    [ -x "$BIN_DIR/$b" ] || return 1
  done
}

kube_ldflags() {
  local v=${KUBE_VERSION#v} major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  local flags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000 -X $pkg.gitTreeState=clean"
    flags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

build_kube() {
  local work="$GENAI_CACHE/src/kube-$KUBE_VERSION"
  mkdir -p "$work"
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
  {
    echo "module genai.stack/tests/cluster/kubebuild"
    echo
    grep -E '^go ' "$gomod"
    grep -E '^godebug ' "$gomod" || true
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    # Every staging module is replaced by its published release of the same version.
    sed -n -E 's#^[[:space:]]*(k8s\.io/[a-z0-9-]+) => \./staging/.*#replace \1 => \1 '"$KUBE_STAGING_VERSION"'#p' "$gomod"
  } > "$work/go.mod"
  cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
  (
    cd "$work"
    go mod tidy -e >/dev/null 2>&1 || true
    go mod download
    local pkgs=() c
    for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubeadm; do
      pkgs+=("k8s.io/kubernetes/cmd/$c")
    done
    pkgs+=("k8s.io/kubernetes/cmd/kubectl")
    mkdir -p "$BIN_DIR.tmp"
    # One invocation so compiled packages are shared; -p 2 bounds the linker's memory.
    CGO_ENABLED=0 go build -p 2 -trimpath -tags selinux,notest,grpcnotrace \
      -ldflags "$(kube_ldflags)" -o "$BIN_DIR.tmp/" "${pkgs[@]}"
  )
}

build_etcd() {
  local work="$GENAI_CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$work/etcd" "$work/etcdctl"
  cat > "$work/go.mod" <<GOMOD
module genai.stack/tests/cluster/etcdbuild

go 1.24

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/etcdctl/v3 $ETCD_VERSION
)
GOMOD
  cat > "$work/etcd/main.go" <<'GO'
// Command etcd runs the etcd server from its published module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  cat > "$work/etcdctl/main.go" <<'GO'
// Command etcdctl runs the etcd client from its published module.
package main

import "go.etcd.io/etcd/etcdctl/v3/ctlv3"

func main() { ctlv3.MustStart() }
GO
  (
    cd "$work"
    go mod tidy
    mkdir -p "$BIN_DIR.tmp"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN_DIR.tmp/" ./etcd ./etcdctl
  )
}

build_coredns() {
  mkdir -p "$BIN_DIR.tmp"
  CGO_ENABLED=0 GOBIN="$BIN_DIR.tmp" go install -trimpath -ldflags "-s -w" \
    "github.com/coredns/coredns@$COREDNS_VERSION"
}

build_pause() {
  mkdir -p "$BIN_DIR.tmp"
  gcc -Os -static -o "$BIN_DIR.tmp/pause" "$CLUSTER_DIR/pause.c"
  strip "$BIN_DIR.tmp/pause"
}

main() {
  if have_all; then
    log "binaries cached in $BIN_DIR"
    return 0
  fi
  mkdir -p "$GENAI_CACHE"
  local t0=$SECONDS
  # A binary added to KUBE_CMDS rebuilds the Kubernetes set once (compiled packages come
  # from the Go build cache); what is already built is kept.
  if [ -d "$BIN_DIR" ] && [ ! -d "$BIN_DIR.tmp" ]; then cp -a "$BIN_DIR" "$BIN_DIR.tmp"; fi
  [ -x "$BIN_DIR.tmp/pause" ] || step "pause (gcc -static)" build_pause
  [ -x "$BIN_DIR.tmp/etcd" ] || step "etcd $ETCD_VERSION" build_etcd
  [ -x "$BIN_DIR.tmp/coredns" ] || step "coredns $COREDNS_VERSION" build_coredns
  local c kube_ok=1
  for c in "${KUBE_CMDS[@]}"; do [ -x "$BIN_DIR.tmp/$c" ] || kube_ok=0; done
  [ "$kube_ok" = 1 ] || step "kubernetes $KUBE_VERSION" build_kube
  rm -rf "$BIN_DIR"
  mv "$BIN_DIR.tmp" "$BIN_DIR"
  log "built all binaries in $((SECONDS - t0))s into $BIN_DIR ($(du -sh "$BIN_DIR" | cut -f1))"
}

main "$@"

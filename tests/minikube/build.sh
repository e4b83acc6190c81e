#!/usr/bin/env bash
# Build minikube, its storage-provisioner and crictl from source through the Go module proxy.
#
# `go install k8s.io/minikube/cmd/minikube@vX` fails on the module proxy this project uses, so a
# wrapper module requires k8s.io/minikube and builds cmd/minikube with the version ldflags of
# minikube's Makefile (MINIKUBE_LDFLAGS) and its build tag (libvirt_dlopen). The storage
# provisioner is minikube's own hostpath provisioner with leader election off: at this tag its
# Endpoints lock is gone from the API ("endpoints lock is removed"), and one replica needs none.
# crictl is a separate module (cri-tools).
# Output: $MINIKUBE_BIN_DIR/{minikube,storage-provisioner,crictl}, cached across runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

have_all() {
  local b
  for b in minikube storage-provisioner crictl; do
    [ -x "$MINIKUBE_BIN_DIR/$b" ] || return 1
  done
}

build_minikube() {
  local work="$GENAI_CACHE/src/minikube-$MINIKUBE_VERSION"
  mkdir -p "$work/storage-provisioner"
  cat > "$work/go.mod" <<GOMOD
module genai.stack/tests/minikube/build

go 1.25.0

require k8s.io/minikube $MINIKUBE_VERSION
GOMOD
  cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "k8s.io/minikube/cmd/minikube"
GO
  cat > "$work/storage-provisioner/main.go" <<'GO'
// Command storage-provisioner is minikube's hostpath provisioner (pkg/storage) started
// without leader election, which a single replica does not need.
package main

import (
	"context"
	"os"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/minikube/pkg/storage"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v6/controller"
)

func main() {
	if err := os.MkdirAll("/tmp", 0o755); err != nil {
		klog.Exit(err)
	}
	config, err := rest.InClusterConfig()
	if err != nil {
		klog.Exit(err)
	}
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		klog.Exit(err)
	}
	serverVersion, err := clientset.Discovery().ServerVersion()
	if err != nil {
		klog.Exit(err)
	}
	pc := controller.NewProvisionController(clientset, "k8s.io/minikube-hostpath",
		storage.NewHostPathProvisioner("/tmp/hostpath-provisioner"), serverVersion.GitVersion,
		controller.LeaderElection(false))
	klog.Info("storage provisioner started (leader election off)")
	pc.Run(context.Background())
}
GO
  local v=k8s.io/minikube/pkg/version
  local ldflags="-s -w -X $v.version=$MINIKUBE_VERSION -X $v.isoVersion=$MINIKUBE_ISO_VERSION"
  ldflags+=" -X $v.gitCommitID=$MINIKUBE_COMMIT -X $v.storageProvisionerVersion=$STORAGE_PROVISIONER_TAG"
  ldflags+=" -X k8s.io/minikube/pkg/storage.version=$STORAGE_PROVISIONER_TAG"
  (
    cd "$work"
    go mod tidy
    mkdir -p "$MINIKUBE_BIN_DIR.tmp"
    # minikube needs cgo: its kvm driver links libvirt (dlopen'ed at run time with libvirt_dlopen).
    # The provisioner runs in an image with nothing but itself, so it is static (no cgo).
    CGO_ENABLED=1 nice -n 10 go build -p 2 -trimpath -tags libvirt_dlopen -ldflags "$ldflags" \
      -o "$MINIKUBE_BIN_DIR.tmp/minikube" k8s.io/minikube/cmd/minikube
    CGO_ENABLED=0 nice -n 10 go build -p 2 -trimpath -ldflags "$ldflags" \
      -o "$MINIKUBE_BIN_DIR.tmp/storage-provisioner" ./storage-provisioner
  )
}

build_crictl() {
  mkdir -p "$MINIKUBE_BIN_DIR.tmp"
  CGO_ENABLED=0 GOBIN="$MINIKUBE_BIN_DIR.tmp" nice -n 10 go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
}

main() {
  if have_all; then
    log "minikube binaries cached in $MINIKUBE_BIN_DIR"
    return 0
  fi
  local t0=$SECONDS
  [ -x "$MINIKUBE_BIN_DIR.tmp/crictl" ] || step "crictl $CRICTL_VERSION" build_crictl
  [ -x "$MINIKUBE_BIN_DIR.tmp/minikube" ] || step "minikube $MINIKUBE_VERSION + storage-provisioner" build_minikube
  rm -rf "$MINIKUBE_BIN_DIR"
  mv "$MINIKUBE_BIN_DIR.tmp" "$MINIKUBE_BIN_DIR"
  log "built minikube binaries in $((SECONDS - t0))s into $MINIKUBE_BIN_DIR"
}

main "$@"

//go:build tools

// Package tools pins the programs built from published modules next to our own
// cert-manager controller, so that one `go build` compiles the shared Kubernetes
// libraries once.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
	_ "sigs.k8s.io/metrics-server/cmd/metrics-server"
)

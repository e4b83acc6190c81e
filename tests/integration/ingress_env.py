"""Shared helpers of the ingress, HPA, browser and resilience tests (not a test module).

A small system (gateway and frontend on the stand-in image, an HPA on the gateway, an
Ingress with two hosts) is written as an inventory into tests/output/ and deployed with the
collection's own site.yml into a namespace of the prefix t-ing-, on the cluster named by
KUBECONFIG. Requests go through the cluster's real ingress controller (node ports 80/443).
"""
import os
import subprocess
import time

import yaml
from clusterlib import ANSIBLE_PLAYBOOK, RECAP, REPO, kubectl

# genai.stack from the clone (clusterlib put collections/ on sys.path)
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402
from ansible_collections.genai.stack.plugins.modules import ingress_check  # noqa: E402

# what the tests import from here
__all__ = ["GenaiStackError", "ingress_check"]

OUTPUT = os.path.join(REPO, "tests", "output")
APP_IMAGE = {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"}


def log(text):
    print("[{0}] {1}".format(time.strftime("%H:%M:%S"), text), flush=True)


def small_system(namespace, domain, tls, hpa=False, gateway_env=None):
    """Inventory variables of a two-component system behind an Ingress.

    tls: the genai_ingress.tls dict. hosts api.<domain> -> gateway, app.<domain> -> frontend.
    hpa: an HPA on the gateway. gateway_env: extra environment of the gateway.
    """
    small = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    gateway = {
        "tier": "backend", "image": dict(APP_IMAGE), "ports": [{"name": "http", "port": 8000}],
        "replicas": 1, "resources": small, "health_path": "/healthz",
    }
    if gateway_env:
        gateway["env"] = dict(gateway_env)
    if hpa:
        # 50 % of a 20m request: a few dozen requests a second are enough to scale up; a 10 s
        # scale-down window so the test sees it come back within two minutes.
        gateway["autoscaling"] = {
            "min_replicas": 1, "max_replicas": 3, "cpu": 50,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 10,
                                       "policies": [{"type": "Percent", "value": 100, "periodSeconds": 5}]},
                         "scaleUp": {"stabilizationWindowSeconds": 0,
                                     "policies": [{"type": "Percent", "value": 200, "periodSeconds": 5}]}},
        }
    frontend = {
        "tier": "frontend", "image": dict(APP_IMAGE), "ports": [{"name": "http", "port": 3000}],
        "replicas": 1, "resources": small, "health_path": "/healthz",
        "env": {"API_URL": {"ref": "gateway"}}, "needs": ["gateway"],
    }
    return {
        "genai_system": namespace,
        "genai_namespace": namespace,
        "genai_image_pull_policy": "IfNotPresent",
        "genai_wait_timeout": 240,
        "genai_monitoring_enabled": False,
        "genai_components": {"gateway": gateway, "frontend": frontend},
        "genai_ingress": {
            "enabled": True, "class_name": "nginx", "mode": "hosts",
            "hosts": [{"host": "api." + domain, "component": "gateway"},
                      {"host": "app." + domain, "component": "frontend"}],
            "domain": domain, "paths": [{"path": "/api", "component": "gateway"}, {"path": "/", "component": "frontend"}],
            "annotations": {}, "controller_namespace": "ingress-nginx", "tls": tls,
        },
        "ingress_install_controller": False,
        "ingress_tls_generate": tls.get("mode") == "secret",
        "verify_ingress_require_served_by": True,
        "verify_wait_timeout": 240,
    }


def write_inventory(name, variables):
    """An inventory directory under tests/output/ holding the local connection and variables."""
    base = os.path.join(OUTPUT, "inventories", name)
    group_vars = os.path.join(base, "group_vars", "genai_stack")
    os.makedirs(group_vars, exist_ok=True)
    with open(os.path.join(base, "hosts.yml"), "w", encoding="utf-8") as fh:
        fh.write("genai_stack:\n  hosts:\n    local:\n")
    connection = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    with open(os.path.join(group_vars, "connection.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(connection, fh)
    with open(os.path.join(group_vars, "system.yml"), "w", encoding="utf-8") as fh:
        yaml.safe_dump(variables, fh, sort_keys=False)
    return base


def playbook(inventory, path, *extra, expect_ok=True, timeout=1500):
    """Run a playbook; returns (returncode, stdout, recap {host: {changed, failed}})."""
    args = [ANSIBLE_PLAYBOOK, path, "-i", inventory, *extra]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
    log("{0} -> rc {1} in {2:.0f}s".format(" ".join(args[1:]), proc.returncode, time.monotonic() - started))
    if expect_ok:
        assert proc.returncode == 0, "{0} failed:\n{1}\n{2}".format(" ".join(args), proc.stdout[-8000:], proc.stderr[-2000:])
    recap = {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in RECAP.finditer(proc.stdout)}
    return proc.returncode, proc.stdout, recap


def delete_namespace(namespace):
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false", check=False)


def addons_present():
    """Why the cluster lacks the ingress add-ons, or None when IngressClass and issuer exist."""
    if kubectl("get", "ingressclass", "nginx", check=False).returncode != 0:
        return "no IngressClass nginx on the cluster (tests/cluster add-ons)"
    if kubectl("get", "clusterissuer", "genai-test-ca", check=False).returncode != 0:
        return "no ClusterIssuer genai-test-ca on the cluster (tests/cluster add-ons)"
    return None

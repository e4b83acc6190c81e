"""Helpers every integration test shares (not a test module): paths, kubectl, waits.

The tests run against the real cluster named by KUBECONFIG (tests/cluster/cluster up;
docs/test-cluster.md); without KUBECONFIG they are skipped through ``needs_cluster``.
Tools are found in the clone first: kubectl in .cluster/bin (or the KUBECTL environment
variable), ansible and ansible-playbook in .venv/bin; otherwise the ones on PATH.

Importing this module puts the clone's ``collections/`` directory (where
ansible_collections/genai/stack links to the repository root) first on sys.path, so
``ansible_collections.genai.stack`` imports the code under test, not an installed copy.
"""
import json
import os
import re
import subprocess
import sys
import time

import pytest

# the repository root (tests/integration/clusterlib.py -> ../..)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

BIN = os.path.join(REPO, ".venv", "bin")


def _tool(path, name):
    """``path`` when that file exists, else ``name`` (looked up on PATH when run)."""
    return path if os.path.exists(path) else name


ANSIBLE = _tool(os.path.join(BIN, "ansible"), "ansible")
ANSIBLE_PLAYBOOK = _tool(os.path.join(BIN, "ansible-playbook"), "ansible-playbook")
KUBECTL = os.environ.get("KUBECTL") or _tool(os.path.join(REPO, ".cluster", "bin", "kubectl"), "kubectl")
# the test CA (.cluster/ca, made by tests/cluster/cluster up); GENAI_TEST_CA names another file
CA_FILE = os.environ.get("GENAI_TEST_CA") or os.path.join(REPO, ".cluster", "ca", "genai-test-ca.crt")

# prefix of every namespace (and test Ingress host) the integration tests create:
# GENAI_TEST_NAMESPACE_PREFIX, default t-; another prefix lets a second run share the cluster
NAMESPACE_PREFIX = os.environ.get("GENAI_TEST_NAMESPACE_PREFIX", "t-")

# one host's line of ansible-playbook's PLAY RECAP: host, ok, changed, unreachable, failed
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)

# skip marker of every test that talks to the cluster (pytestmark = needs_cluster)
needs_cluster = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"), reason="needs a cluster: set KUBECONFIG (tests/cluster/cluster up)")


def system_vars(name, namespace, components, **extra):
    """Extra vars of a small system ``name`` in ``namespace`` on inventories/local: ``components``
    as genai_components, no inventory overrides, no Ingress, short waits; ``extra`` adds or
    replaces variables."""
    data = {
        "genai_system": name,
        "genai_namespace": namespace,
        "genai_components": components,
        "genai_component_overrides": {},
        "genai_image_overrides": {},
        "genai_ingress_overrides": {"enabled": False},
        "ingress_tls_generate": False,
        "genai_wait_timeout": 180,
        "verify_wait_timeout": 60,
    }
    data.update(extra)
    return data


def kubectl(*args, check=True, input_text=None, timeout=120):
    """Run ``kubectl *args`` (stdin: input_text) and return the CompletedProcess (text output).

    check: a non-zero exit raises AssertionError naming the arguments and kubectl's stderr.
    timeout: seconds before subprocess.TimeoutExpired.
    """
    proc = subprocess.run([KUBECTL, *args], input=input_text, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("kubectl {0} failed: {1}".format(" ".join(args), proc.stderr.strip()))
    return proc


def namespace_exists(name):
    """True when Namespace ``name`` exists, False when kubectl says NotFound; any other
    kubectl failure raises AssertionError with its stderr."""
    proc = kubectl("get", "namespace", name, "-o", "name", check=False, timeout=60)
    if proc.returncode != 0 and "NotFound" not in proc.stderr:
        raise AssertionError(f"kubectl get namespace {name}: {proc.stderr.strip()}")
    return proc.returncode == 0


def kget(ns, *args):
    """``kubectl -n ns get *args -o json``, decoded (an object, or a List with ``items``).

    A missing object or a kubectl failure raises AssertionError.
    """
    return json.loads(kubectl("-n", ns, "get", *args, "-o", "json").stdout)


def apply(ns, manifest):
    """``kubectl -n ns apply -f -`` of one manifest (a dict; a List kind applies its items)."""
    kubectl("-n", ns, "apply", "-f", "-", input_text=json.dumps(manifest))


def wait_until(what, predicate, timeout=120, interval=1.0):
    """Call predicate() every ``interval`` seconds until it returns a true value; return that value.

    After ``timeout`` seconds (monotonic clock) raise AssertionError naming ``what`` and the
    last value returned.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after {0}s waiting for {1} (last: {2!r})".format(timeout, what, last))


def condition(obj, kind):
    """The status ("True", "False", "Unknown") of the condition ``kind`` of an object, or None."""
    return next((c.get("status") for c in obj.get("status", {}).get("conditions", []) if c["type"] == kind), None)


def ready_pods(ns, app):
    """Names of the pods labelled app=<app> in ns that are Ready and not being deleted."""
    return [
        p["metadata"]["name"] for p in kget(ns, "pods", "-l", "app={0}".format(app))["items"]
        if p["metadata"].get("deletionTimestamp") is None and condition(p, "Ready") == "True"
    ]


def node_ip():
    """The InternalIP address of the cluster's first node (AssertionError if it has none)."""
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    for addr in nodes[0]["status"]["addresses"]:
        if addr["type"] == "InternalIP":
            return addr["address"]
    raise AssertionError("the node has no InternalIP")


def ansible_module(module, args, check_mode=False, timeout=600):
    """Run ``ansible localhost -m module -a <args as JSON>`` from the clone with the json callback.

    Returns (the task's result for localhost as a dict, seconds the command took). Lines the
    module prints before the JSON document (progress of a long wait) are skipped; output
    without a JSON document raises AssertionError with the exit code and the output's tail.
    """
    cmd = [ANSIBLE, "localhost", "-m", module, "-a", json.dumps(args)]
    if check_mode:
        cmd.append("--check")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    took = time.monotonic() - start
    text = proc.stdout if proc.stdout.startswith("{") else proc.stdout[proc.stdout.find("\n{") + 1:]
    try:
        out = json.loads(text)
    except ValueError as exc:
        raise AssertionError("no JSON from ansible (rc {0}): {1} {2}".format(
            proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])) from exc
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"], took

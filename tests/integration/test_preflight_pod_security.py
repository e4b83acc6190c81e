"""The preflight stops pods PodSecurity would refuse in a namespace the run creates (issue 9, case G).

``inventories/local`` enforces PodSecurity ``restricted`` on a namespace the first run
creates. Before the fix the preflight validated that namespace's workloads in ``default``
(no PodSecurity level), so a Redis whose pods run as root passed it and was refused only at
the datastores tier, after the foundation tier had been applied. Each case layers a
group_vars file on ``inventories/local`` in its own namespace ``t-pss-<case>``:

- refused: Redis with ``security_context.run_as_non_root: false``; ``site.yml`` must fail
  naming the component and the PodSecurity check, and the namespace must not exist
  afterwards (nothing was applied);
- accepted: the same system with its proper security_context passes ``validate.yml`` (the
  preflight, nothing applied).

Needs the cluster named by KUBECONFIG (tests/cluster/cluster up).
"""
import copy
import os
import re
import subprocess

import yaml
from clusterlib import ANSIBLE_PLAYBOOK, KUBECTL, NAMESPACE_PREFIX, REPO, namespace_exists, needs_cluster

pytestmark = needs_cluster

LOCAL_VARS = os.path.join(REPO, "inventories", "local", "group_vars", "genai_stack", "genai.yml")


def run_playbook(playbook, namespace, overrides, tmp_path):
    """ansible-playbook ``playbook`` on inventories/local in ``namespace`` with the component overrides given.

    inventories/local's own genai_component_overrides (small resources, non-root users) are
    kept; ``overrides`` replaces the whole record of each component it names. Returns
    (return code, output with JSON-escaped quotes unescaped and every run of whitespace made
    one space: the YAML callback wraps a long message wherever its length puts a line end).
    """
    with open(LOCAL_VARS, encoding="utf-8") as handle:
        components = copy.deepcopy(yaml.safe_load(handle)["genai_component_overrides"])
    components.update(overrides)
    overlay = tmp_path / "overlay"
    (overlay / "group_vars" / "genai_stack").mkdir(parents=True)
    (overlay / "hosts.yml").write_text("genai_stack: {}\n")
    (overlay / "group_vars" / "genai_stack" / "pss.yml").write_text(
        yaml.safe_dump({"genai_namespace": namespace, "genai_component_overrides": components}, sort_keys=True))
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, playbook, "-i", os.path.join("inventories", "local"), "-i", str(overlay)],
        cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    return proc.returncode, " ".join((proc.stdout + proc.stderr).replace('\\"', '"').split())


def delete_namespace(namespace):
    subprocess.run([KUBECTL, "delete", "namespace", namespace, "--ignore-not-found", "--wait=false"],
                   capture_output=True, text=True, timeout=120, check=False)


def test_fresh_restricted_namespace_refuses_a_root_redis_with_nothing_applied(tmp_path):
    namespace = NAMESPACE_PREFIX + "pss-refused"
    with open(LOCAL_VARS, encoding="utf-8") as handle:
        redis = copy.deepcopy(yaml.safe_load(handle)["genai_component_overrides"]["redis"])
    redis["security_context"] = dict(redis["security_context"], run_as_non_root=False)
    try:
        assert not namespace_exists(namespace), f"{namespace} exists before the test"
        code, output = run_playbook("site.yml", namespace, {"redis": redis}, tmp_path)
        assert code != 0, f"site.yml succeeded:\n{output[-4000:]}"
        assert re.search(rf"redis: (Deployment|StatefulSet) redis: its pods would be refused by PodSecurity "
                         rf"restricted of namespace {namespace}", output), output[-6000:]
        for text in ("The API server would refuse 1 object(s); nothing was applied",
                     'would violate PodSecurity "restricted:latest": runAsNonRoot != true (pod must not set '
                     "securityContext.runAsNonRoot=false)",
                     "forbidden by PodSecurity"):
            assert text in output, f"{text!r} not in the output:\n{output[-6000:]}"
        assert not namespace_exists(namespace), f"namespace {namespace} was created"
    finally:
        delete_namespace(namespace)


def test_fresh_restricted_namespace_accepts_the_system_with_its_security_context(tmp_path):
    namespace = NAMESPACE_PREFIX + "pss-accepted"
    try:
        code, output = run_playbook(os.path.join("playbooks", "validate.yml"), namespace, {}, tmp_path)
        assert code == 0, f"validate.yml failed:\n{output[-6000:]}"
        assert "objects accepted by the API server in a dry run" in output, output[-4000:]
        assert f"namespace {namespace} absent: validated against namespace default" in output, output[-4000:]
        assert "would violate PodSecurity" not in output, output[-4000:]
        assert not namespace_exists(namespace), f"validate.yml created namespace {namespace}"
    finally:
        delete_namespace(namespace)

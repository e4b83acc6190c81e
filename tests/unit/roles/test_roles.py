"""The roles and playbooks hold the collection's conventions (issue 10).

- datastores, backend, worker and frontend are the same thin role: after replacing the
  tier name, every file is identical;
- (every role's defaults against its argument specs: tests/unit/test_docs.py);
- every play sets the connection once, from genai_k8s_auth, for both action groups, and
  meta/runtime.yml lists every module that talks to the Kubernetes API in group k8s.
"""

import glob
import os

import pytest
import yaml

from systems import ROOT

THIN_TIERS = ("datastores", "backend", "worker", "frontend")
MODULE_DEFAULTS = {
    "group/kubernetes.core.k8s": "{{ genai_k8s_auth | default({}) }}",
    "group/genai.stack.k8s": "{{ genai_k8s_auth | default({}) }}",
}
# Bootstraps a Minikube cluster through its CLI: there is no Kubernetes API to connect to yet.
NO_CLUSTER_PLAYBOOKS = ("playbooks/minikube.yml",)


def _load(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _role_files(role):
    base = os.path.join(ROOT, "roles", role)
    return sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, "**", "*"), recursive=True)
                  if os.path.isfile(p))


def test_the_thin_tier_roles_differ_only_in_their_names():
    reference = THIN_TIERS[0]
    files = _role_files(reference)
    assert "tasks/main.yml" in files
    for tier in THIN_TIERS[1:]:
        assert _role_files(tier) == files, tier
        for name in files:
            with open(os.path.join(ROOT, "roles", reference, name), encoding="utf-8") as handle:
                expected = handle.read().replace(reference, tier)
            with open(os.path.join(ROOT, "roles", tier, name), encoding="utf-8") as handle:
                assert handle.read() == expected, f"roles/{tier}/{name}"


@pytest.mark.parametrize("tier", THIN_TIERS + ("foundation", "ingress", "monitoring"))
def test_every_tier_role_deploys_through_the_tier_mechanism(tier):
    tasks = _load("roles", tier, "tasks", "main.yml")
    includes = [t for t in tasks if "ansible.builtin.include_role" in t]
    assert len(includes) == 1, tier
    assert includes[0]["ansible.builtin.include_role"] == {"name": "genai.stack.common", "tasks_from": "tier"}
    assert includes[0]["vars"]["genai_tier"] == tier
    # no tier role applies or waits by itself
    for path in glob.glob(os.path.join(ROOT, "roles", tier, "tasks", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert "genai.stack.health" not in text and "until:" not in text, path


def _plays():
    paths = sorted(glob.glob(os.path.join(ROOT, "playbooks", "*.yml")))
    paths += sorted(glob.glob(os.path.join(ROOT, "molecule", "*", "*.yml")))
    paths.append(os.path.join(ROOT, "site.yml"))
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        document = _load(rel)
        if not isinstance(document, list):
            continue
        for index, play in enumerate(document):
            if isinstance(play, dict) and "hosts" in play:
                yield rel, index, play


def test_every_play_sets_the_connection_once_from_genai_k8s_auth():
    seen = 0
    for rel, index, play in _plays():
        if rel in NO_CLUSTER_PLAYBOOKS or play.get("hosts") == "localhost" and "molecule" in rel:
            continue
        seen += 1
        assert play.get("module_defaults") == MODULE_DEFAULTS, f"{rel} play {index}"
    assert seen >= 10


def test_runtime_action_group_lists_every_kubernetes_module():
    groups = _load("meta", "runtime.yml")["action_groups"]
    assert groups["k8s"] == ["health", "apply", "ingress_check"]


def test_teardown_and_preflight_take_the_tier_order_from_the_renderer():
    """The tier order is written once (module_utils/render.py): no role lists it."""
    names = ("foundation", "datastores", "backend", "worker", "frontend", "ingress")
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml")):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        assert sum(f"'{n}'" in text for n in names) < 3, path

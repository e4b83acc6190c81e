"""Every seed system deploys from its own inventory (docs/systems.md).

For each system, one after the other: converge `inventories/<system>` with its `local`
overlay on the cluster named by KUBECONFIG, converge again and expect no change, verify
(molecule/seeds/verify.yml: the health module, HTTP health through the API proxy, HPAs,
the CronJob run once on demand) and purge the system's namespaces.

Long (a few minutes per system), so it runs only when asked:
    GENAI_STACK_SEEDS=all pytest tests/integration/test_seed_systems.py
    GENAI_STACK_SEEDS=chat4all,rag-system pytest ...
"""
import os
import subprocess

import pytest
from clusterlib import ANSIBLE_PLAYBOOK, RECAP, REPO, needs_cluster

SYSTEMS = ["todo-app", "rag-system", "my-saas-chat", "chat4all"]

SELECTED = os.environ.get("GENAI_STACK_SEEDS", "")
WANTED = SYSTEMS if SELECTED == "all" else [s for s in SELECTED.split(",") if s]

needs_selection = pytest.mark.skipif(
    not WANTED, reason="set GENAI_STACK_SEEDS=all (or a comma-separated list of systems)")


def playbook(system, path, *extra):
    args = [
        ANSIBLE_PLAYBOOK, path,
        "-i", os.path.join("inventories", system),
        "-i", os.path.join("inventories", system, "local"),
        *extra,
    ]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    recap = {m.group(1): {"changed": int(m.group(3)), "failed": int(m.group(5))} for m in RECAP.finditer(proc.stdout)}
    assert recap, f"no PLAY RECAP in the output of {path}"
    return recap


def test_inventory_layout():
    """The system is written once; the overlay has no hosts of its own."""
    for system in SYSTEMS:
        base = os.path.join(REPO, "inventories", system)
        assert os.path.isfile(os.path.join(base, "hosts.yml"))
        assert os.path.isfile(os.path.join(base, "local", "hosts.yml"))
        with open(os.path.join(base, "local", "hosts.yml"), encoding="utf-8") as fh:
            assert "genai_stack: {}" in fh.read()


@needs_cluster
@needs_selection
@pytest.mark.parametrize("system", [s for s in SYSTEMS if s in WANTED])
def test_seed_system_converges_idempotently_and_verifies(system):
    try:
        first = playbook(system, "site.yml")
        assert all(r["failed"] == 0 for r in first.values())

        second = playbook(system, "site.yml")
        assert {host: r["changed"] for host, r in second.items()} == dict.fromkeys(second, 0), \
            f"the second run of {system} changed something: {second}"

        playbook(system, os.path.join("molecule", "seeds", "verify.yml"))
    finally:
        playbook(system, os.path.join("playbooks", "teardown.yml"), "-e", "genai_teardown_purge=true")

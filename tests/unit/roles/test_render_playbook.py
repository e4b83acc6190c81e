"""playbooks/render.yml writes every tier's manifests in apply order, without a cluster.

Runs the playbook on inventories/local into a temporary directory (no KUBECONFIG needed:
without genai_render_secrets nothing is contacted) and reads the files back.
"""

import os
import subprocess

import yaml

from systems import ROOT

ANSIBLE_PLAYBOOK = os.path.join(ROOT, ".venv", "bin", "ansible-playbook")
if not os.path.exists(ANSIBLE_PLAYBOOK):
    ANSIBLE_PLAYBOOK = "ansible-playbook"


def test_render_writes_every_tier_in_apply_order_and_no_secret(tmp_path):
    out = tmp_path / "rendered"
    env = dict(os.environ, KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    proc = subprocess.run(
        [ANSIBLE_PLAYBOOK, "playbooks/render.yml", "-i", "inventories/local", "-e", f"genai_render_dir={out}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert files == ["10-foundation.yaml", "20-datastores.yaml", "30-backend.yaml", "40-worker.yaml",
                     "50-frontend.yaml", "60-ingress.yaml"]
    documents = {}
    for name in files:
        with open(out / name, encoding="utf-8") as handle:
            documents[name] = [d for d in yaml.safe_load_all(handle) if d]
    assert documents["10-foundation.yaml"][0]["kind"] == "Namespace"
    assert {d["metadata"]["name"] for d in documents["20-datastores.yaml"] if d["kind"] == "StatefulSet"} == {"mysql", "qdrant"}
    every = [d for docs in documents.values() for d in docs]
    assert not [d for d in every if d["kind"] == "Secret"]
    for name, docs in documents.items():
        tier = name[3:-len(".yaml")]
        for d in docs:
            assert d["metadata"]["labels"]["app.kubernetes.io/component"] == tier, (name, d["metadata"]["name"])
    assert (os.stat(out).st_mode & 0o777) == 0o700

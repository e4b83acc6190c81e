"""Deploys of small systems through site.yml on the real cluster (the one named by KUBECONFIG).

Each case layers a small system over inventories/local (``-e @vars``, so the genai system's
overrides of the inventory do not apply) in its own namespace ``t-house-*``:

- A: a system with no Secrets at all deploys; the re-run reports changed=0 and check mode
  on the converged system reports no change either.
- K: the same namespace under a renamed genai_system stops before any password is
  generated, naming both system names and the objects; the Secret keeps its value.
- rollback: an image upgrade that cannot start, with genai_rollback_on_failure, fails
  naming the component, and the Deployment is back on the previous ReplicaSet, serving.

Needs the test image localhost/genai-stack-test/app:1.0.0 in the cluster's containerd.
"""
import json
import os
import subprocess
import time

import yaml
from clusterlib import ANSIBLE_PLAYBOOK, RECAP, REPO, needs_cluster, system_vars
from clusterlib import kubectl as run_kubectl

pytestmark = needs_cluster

OUTPUT = os.path.join(REPO, "tests", "output", "identity")
APP = {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"}
SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
# inventories/local enforces PodSecurity restricted; the app image runs as user 1000
NON_ROOT = {"run_as_non_root": True, "run_as_user": 1000, "run_as_group": 1000, "fs_group": 1000}


def kubectl(*args, check=True):
    """clusterlib.kubectl with the longer timeout of a deploy's waits (300 s)."""
    return run_kubectl(*args, check=check, timeout=300)


def playbook(variables, path="site.yml", *args):
    """Run a playbook on inventories/local with ``variables`` as extra vars: (rc, output, changed)."""
    os.makedirs(OUTPUT, exist_ok=True)
    vars_file = os.path.join(OUTPUT, "{}-{}.yml".format(variables["genai_namespace"], int(time.time() * 1000)))
    with open(vars_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump(variables, handle)
    cmd = [ANSIBLE_PLAYBOOK, path, "-i", "inventories/local", "-e", "@" + vars_file, *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200, check=False)
    recap = RECAP.findall(proc.stdout)
    changed = sum(int(r[2]) for r in recap)
    return proc.returncode, proc.stdout + proc.stderr, changed


def converge(variables, *args):
    rc, out, changed = playbook(variables, "site.yml", *args)
    assert rc == 0, out[-6000:]
    return out, changed


def purge(namespace):
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)


def api(**extra):
    record = {"tier": "backend", "image": dict(APP), "ports": [{"name": "http", "port": 8000}],
              "health_path": "/healthz", "resources": SMALL, "security_context": NON_ROOT}
    record.update(extra)
    return record


def test_a_system_without_secrets_deploys_reruns_unchanged_and_checks_unchanged():
    namespace = "t-house-a"
    variables = system_vars("t-house-a", namespace, {"api": api()})
    purge(namespace)
    try:
        converge(variables)
        ready = kubectl("-n", namespace, "get", "deployment", "api", "-o", "jsonpath={.status.readyReplicas}").stdout
        assert ready == "1"
        secrets = json.loads(kubectl("-n", namespace, "get", "secrets", "-l", "app.kubernetes.io/part-of=t-house-a",
                                     "-o", "json").stdout)["items"]
        assert secrets == []

        changed = converge(variables)[1]
        assert changed == 0, "the re-run changed something"

        out, changed = converge(variables, "--check")
        assert changed == 0, "check mode on the converged system reports a change:\n" + out[-4000:]
    finally:
        purge(namespace)


def _secret_data(namespace, name):
    return json.loads(kubectl("-n", namespace, "get", "secret", name, "-o", "json").stdout)["data"]


def test_a_renamed_system_stops_before_any_password_is_generated():
    namespace = "t-house-k"
    store = api(tier="datastores", workload="StatefulSet",
                secrets={"STORE_PASSWORD": {"generate": 16}},
                storage=[{"name": "data", "mount": "/data", "size": "64Mi"}])
    first = system_vars("t-house-shop", namespace, {"store": store})
    renamed = system_vars("t-house-shop-v2", namespace, {"store": store})
    purge(namespace)
    try:
        converge(first)
        before = _secret_data(namespace, "store-secrets")

        rc, out = playbook(renamed)[:2]
        assert rc != 0, "the renamed system was deployed over the first one's data"
        message = " ".join(out.split())
        assert "t-house-shop-v2" in message and "holds objects of the system t-house-shop " in message, out[-4000:]
        assert "Secret/store-secrets" in message and "PersistentVolumeClaim/data-store-0" in message, out[-4000:]
        assert "genai_system" in message
        assert _secret_data(namespace, "store-secrets") == before
        labels = json.loads(kubectl("-n", namespace, "get", "secret", "store-secrets", "-o", "json").stdout)["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "t-house-shop"

        changed = converge(first)[1]
        assert changed == 0
        assert _secret_data(namespace, "store-secrets") == before
    finally:
        purge(namespace)


def test_a_failed_upgrade_rolls_back_and_the_previous_replicaset_serves():
    namespace = "t-house-r"
    good = system_vars("t-house-r", namespace, {"api": api(replicas=2)})
    bad = system_vars("t-house-r", namespace, {"api": api(replicas=2, image=dict(APP, tag="does-not-exist"))},
                      genai_rollback_on_failure=True)
    purge(namespace)
    try:
        converge(good)
        deployment = json.loads(kubectl("-n", namespace, "get", "deployment", "api", "-o", "json").stdout)
        good_revision = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]

        started = time.monotonic()
        rc, out = playbook(bad)[:2]
        elapsed = time.monotonic() - started
        assert rc != 0, "the upgrade to an image that does not exist passed"
        message = " ".join(out.split())
        assert "The backend tier of t-house-r is not ready" in message, out[-4000:]
        assert "api" in message and "Rolled back" in message, out[-4000:]
        assert elapsed < 170, f"the bad image took {elapsed:.0f} s to be named"

        deployment = json.loads(kubectl("-n", namespace, "get", "deployment", "api", "-o", "json").stdout)
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith("genai-stack-test/app:1.0.0")
        kubectl("-n", namespace, "rollout", "status", "deployment/api", "--timeout=120s")
        deployment = json.loads(kubectl("-n", namespace, "get", "deployment", "api", "-o", "json").stdout)
        assert deployment["status"]["readyReplicas"] == 2
        assert int(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) > int(good_revision)
        replicasets = json.loads(kubectl("-n", namespace, "get", "replicasets", "-l", "app.kubernetes.io/name=api",
                                         "-o", "json").stdout)["items"]
        serving = [rs for rs in replicasets if rs["status"].get("readyReplicas", 0) > 0]
        assert len(serving) == 1
        assert serving[0]["spec"]["template"]["spec"]["containers"][0]["image"].endswith("app:1.0.0")
    finally:
        purge(namespace)

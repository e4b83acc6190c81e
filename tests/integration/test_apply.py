"""genai.stack.apply against a real cluster (the one named by KUBECONFIG).

Each test works in its own throwaway namespace t-apply-<case>-<random> and deletes it. The
engine runs in-process (plugins/module_utils/apply_engine.py over k8s_client, exactly what
the action plugin runs for a local connection); one test goes through `ansible localhost -m
genai.stack.apply` so the action plugin and its argument handling are covered as users run
them. Cases are those of issue 9: A (empty list), I (prune), J (immutable volume claim
templates), L (adding an HPA), M (StatefulSet stuck on a bad revision) and rollback.

Needs the test image localhost/genai-stack-test/app:1.0.0 imported into the cluster's
containerd (tests/images).
"""
import json
import os
import subprocess
import threading
import time
import uuid

import pytest
from clusterlib import ANSIBLE, KUBECTL, NAMESPACE_PREFIX, REPO, kubectl, needs_cluster, wait_until

# ansible_collections.genai.stack from the clone (clusterlib put collections/ on sys.path)
from ansible_collections.genai.stack.plugins.module_utils import k8s_client  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.apply_engine import Applier, argument_spec  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402

pytestmark = needs_cluster

APP_IMAGE = "localhost/genai-stack-test/app:1.0.0"
MISSING_IMAGE = "localhost/genai-stack-test/app:0.0.0-does-not-exist"
SYSTEM = "tapply"
# namespaces t-apply-<case>-<random> (t-: clusterlib.NAMESPACE_PREFIX)
PREFIX = NAMESPACE_PREFIX + "apply"


def get(kind, name, namespace):
    proc = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


@pytest.fixture()
def namespace(request):
    case = request.node.name.replace("test_", "").replace("_", "-")[:20].strip("-")
    name = "{0}-{1}-{2}".format(PREFIX, case, uuid.uuid4().hex[:5])
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def apply(namespace, definitions, check_mode=False, diff=False, **options):
    params = {key: spec.get("default") for key, spec in argument_spec().items()}
    params.update(namespace=namespace, definitions=definitions, **options)
    api = k8s_client.get_api({"kubeconfig": os.environ["KUBECONFIG"]})
    return Applier(api, params, check_mode=check_mode, diff=diff).run()


def actions(result):
    return {(r["kind"], r["name"]): r["action"] for r in result["results"]}


def labels(name, tier="backend"):
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": SYSTEM,
            "app.kubernetes.io/component": tier, "app.kubernetes.io/part-of": SYSTEM,
            "app.kubernetes.io/managed-by": "genai-stack"}


def pod_template(name, image=APP_IMAGE):
    return {"metadata": {"labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": SYSTEM}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "env": [{"name": "PORT", "value": "8080"}],
                                     "ports": [{"name": "http", "containerPort": 8080}],
                                     "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 1}}]}}


def deployment(name, replicas=1, image=APP_IMAGE):
    spec = {"selector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": SYSTEM}},
            "template": pod_template(name, image)}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels(name)},
            "spec": spec}


def statefulset(name, image=APP_IMAGE, size=None, storage_class=None, service_name=None):
    spec = {"replicas": 1, "serviceName": service_name or name,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": SYSTEM}},
            "template": pod_template(name, image)}
    if size:
        claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
        if storage_class:
            claim["storageClassName"] = storage_class
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data", "labels": labels(name)}, "spec": claim}]
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "labels": labels(name)},
            "spec": spec}


def configmap(name, data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels(name)}, "data": data}


def secret(name):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels(name)},
            "stringData": {"password": "not-for-your-eyes"}}


def service(name):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"selector": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": SYSTEM},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}


def hpa(name, minimum, maximum):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels(name)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": minimum, "maxReplicas": maximum,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}


def pdb(name):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}}


def ready_replicas(kind, name, namespace, wanted):
    obj = get(kind, name, namespace)
    status = (obj or {}).get("status") or {}
    return obj and status.get("readyReplicas", 0) >= wanted and status.get("updatedReplicas", 0) >= wanted and \
        status.get("observedGeneration", 0) >= obj["metadata"]["generation"]


def pods(namespace, name):
    out = kubectl("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/name=" + name, "-o", "json").stdout
    return json.loads(out)["items"]


# --------------------------------------------------------------------------------------------


def test_rerun_changes_nothing_check_mode_tells_the_truth_and_secrets_stay_hidden(namespace):
    objs = [configmap("api", {"LOG_LEVEL": "info"}), secret("api"), service("api"), deployment("api", replicas=1)]
    first = apply(namespace, objs)
    assert first["changed"] is True and set(actions(first).values()) == {"created"}
    versions = {kind: get(kind, "api", namespace)["metadata"]["resourceVersion"]
                for kind in ("configmap", "secret", "service", "deployment")}
    second = apply(namespace, objs, diff=True)
    assert second["changed"] is False, second["results"]
    assert set(actions(second).values()) == {"unchanged"} and second["diff"] == []
    assert versions == {kind: get(kind, "api", namespace)["metadata"]["resourceVersion"] for kind in versions}

    changed = [configmap("api", {"LOG_LEVEL": "debug"}), dict(secret("api"), stringData={"password": "new-one"})]
    check = apply(namespace, changed, check_mode=True, diff=True)
    assert actions(check) == {("ConfigMap", "api"): "configured", ("Secret", "api"): "configured"}
    assert get("configmap", "api", namespace)["data"] == {"LOG_LEVEL": "info"}, "check mode wrote"
    text = json.dumps(check)
    assert "not-for-your-eyes" not in text and "new-one" not in text
    assert "bmV3LW9uZQ" not in text and "bm90LWZvci15b3VyLWV5ZXM" not in text  # base64 forms
    secret_diff = [d for d in check["diff"] if d["after"].get("kind") == "Secret"][0]
    assert secret_diff["after"]["data"] == {"password": "<hidden, changed>"}


def test_action_plugin_through_ansible_empty_list_and_check_mode(namespace):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")

    def ansible(args, check=False):
        cmd = [ANSIBLE, "localhost", "-m", "genai.stack.apply", "-a", json.dumps(args)] + (["--check"] if check else [])
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300, check=False)
        return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]

    # case A: a tier with nothing to apply (no secrets) is fine, not a crash
    empty = ansible({"definitions": [], "namespace": namespace})
    assert not empty.get("failed") and empty["changed"] is False and empty["results"] == []
    checked = ansible({"definitions": [configmap("api", {"A": "1"})], "namespace": namespace}, check=True)
    assert not checked.get("failed"), checked.get("msg")
    assert checked["changed"] is True and checked["dry_run"] is True
    assert get("configmap", "api", namespace) is None
    real = ansible({"definitions": [configmap("api", {"A": "1"})], "namespace": namespace})
    assert real["results"] == [{"kind": "ConfigMap", "name": "api", "namespace": namespace, "action": "created"}]


def test_adding_an_hpa_never_drops_replicas_nor_replaces_pods(namespace):
    # case L
    apply(namespace, [deployment("web", replicas=3)])
    wait_until("3 ready replicas of web", lambda: ready_replicas("deployment", "web", namespace, 3))
    before = sorted(p["metadata"]["name"] for p in pods(namespace, "web"))
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            obj = get("deployment", "web", namespace)
            seen.append(obj["spec"]["replicas"])
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = apply(namespace, [deployment("web", replicas=None), hpa("web", 3, 5)])
        time.sleep(5)
    finally:
        stop.set()
        watcher.join()
    assert actions(result) == {("Deployment", "web"): "configured", ("HorizontalPodAutoscaler", "web"): "created"}
    assert seen and min(seen) == 3, seen
    assert sorted(p["metadata"]["name"] for p in pods(namespace, "web")) == before
    again = apply(namespace, [deployment("web", replicas=None), hpa("web", 3, 5)])
    assert again["changed"] is False, again["results"]


def test_prune_removes_a_switched_off_component_and_keeps_its_secret(namespace):
    # case I
    prune = {"labels": {"app.kubernetes.io/part-of": SYSTEM, "app.kubernetes.io/component": "backend"}}
    first = [deployment("api", replicas=None), hpa("api", 2, 3), pdb("api"),
             deployment("search"), service("search"), configmap("search", {"A": "1"}), secret("search")]
    apply(namespace, first, prune=prune)
    wait_until("the HPA to scale api to 2", lambda: (get("deployment", "api", namespace) or {}).get(
        "spec", {}).get("replicas") == 2, timeout=60)
    second = [deployment("api", replicas=1)]
    result = apply(namespace, second, prune=prune)
    assert actions(result) == {
        ("Deployment", "api"): "configured", ("HorizontalPodAutoscaler", "api"): "pruned",
        ("PodDisruptionBudget", "api"): "pruned", ("Deployment", "search"): "pruned",
        ("Service", "search"): "pruned", ("ConfigMap", "search"): "pruned"}
    assert get("secret", "search", namespace) is not None, "a Secret was pruned without purge"
    assert get("deployment", "search", namespace) is None
    assert get("deployment", "api", namespace)["spec"]["replicas"] == 1
    again = apply(namespace, second, prune=prune)
    assert again["changed"] is False, again["results"]
    purged = apply(namespace, second, prune=prune, purge=True)
    assert actions(purged)[("Secret", "search")] == "pruned"


def test_immutable_volume_claim_template_is_refused_with_nothing_applied(namespace):
    # case J: bigger volume plus an unrelated ConfigMap change
    apply(namespace, [configmap("redis", {"LOG_LEVEL": "info"}), statefulset("redis", size="1Gi")])
    with pytest.raises(GenaiStackError) as err:
        apply(namespace, [configmap("redis", {"LOG_LEVEL": "debug"}), statefulset("redis", size="2Gi")])
    refusal = err.value.details["refusals"][0]
    assert (refusal["component"], refusal["kind"], refusal["field"]) == ("redis", "StatefulSet",
                                                                         "spec.volumeClaimTemplates")
    assert "expand_volumes" in refusal["remedy"] and "nothing was applied" in err.value.msg
    assert get("configmap", "redis", namespace)["data"] == {"LOG_LEVEL": "info"}
    # the cluster's default StorageClass does not allow expansion: named as the reason
    wait_until("claim data-redis-0", lambda: get("pvc", "data-redis-0", namespace))
    with pytest.raises(GenaiStackError) as err:
        apply(namespace, [statefulset("redis", size="2Gi")], expand_volumes=True, recreate_statefulsets=True)
    refusal = err.value.details["refusals"][0]
    assert refusal["reason"] == "volume expansion not allowed" and "StorageClass" in refusal["message"]


@pytest.fixture()
def expandable_class():
    name = PREFIX + "-grow-" + uuid.uuid4().hex[:5]
    manifest = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                "provisioner": "kubernetes.io/host-path", "allowVolumeExpansion": True,
                "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"}
    subprocess.run([KUBECTL, "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True,
                   capture_output=True)
    yield name
    kubectl("delete", "storageclass", name, "--wait=false", check=False)


def test_recreate_statefulset_keeps_its_pod_and_grows_its_claim(namespace, expandable_class):
    apply(namespace, [statefulset("redis", size="1Gi", storage_class=expandable_class)])
    wait_until("redis ready", lambda: ready_replicas("statefulset", "redis", namespace, 1))
    wait_until("claim bound", lambda: (get("pvc", "data-redis-0", namespace) or {}).get("status", {}).get(
        "phase") == "Bound")
    uid = pods(namespace, "redis")[0]["metadata"]["uid"]
    result = apply(namespace, [statefulset("redis", size="2Gi", storage_class=expandable_class)],
                   expand_volumes=True, recreate_statefulsets=True)
    assert actions(result) == {("StatefulSet", "redis"): "recreated", ("PersistentVolumeClaim", "data-redis-0"): "expanded"}
    claim = get("pvc", "data-redis-0", namespace)
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    sts = get("statefulset", "redis", namespace)
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert [p["metadata"]["uid"] for p in pods(namespace, "redis")] == [uid], "the pod was replaced"
    assert apply(namespace, [statefulset("redis", size="2Gi", storage_class=expandable_class)])["changed"] is False


def test_statefulset_stuck_on_a_bad_revision_recovers_on_the_next_converge(namespace):
    # case M
    apply(namespace, [statefulset("redis")])
    wait_until("redis ready", lambda: ready_replicas("statefulset", "redis", namespace, 1))
    bad = apply(namespace, [statefulset("redis", image=MISSING_IMAGE)])
    assert actions(bad) == {("StatefulSet", "redis"): "configured"}
    assert list(bad["revisions"]) == ["StatefulSet/redis"]
    wait_until("redis-0 failing to pull", lambda: any(
        (c.get("state", {}).get("waiting") or {}).get("reason") in ("ErrImagePull", "ImagePullBackOff")
        for p in pods(namespace, "redis") for c in p.get("status", {}).get("containerStatuses") or []), timeout=90)
    good = apply(namespace, [statefulset("redis")])
    assert [p["name"] for p in good["replaced_pods"]] == ["redis-0"]
    wait_until("redis ready again", lambda: ready_replicas("statefulset", "redis", namespace, 1), timeout=90)
    assert pods(namespace, "redis")[0]["spec"]["containers"][0]["image"] == APP_IMAGE


def test_rollback_returns_a_deployment_to_its_previous_template(namespace):
    apply(namespace, [deployment("api", replicas=1)])
    wait_until("api ready", lambda: ready_replicas("deployment", "api", namespace, 1))
    old_pod = pods(namespace, "api")[0]["metadata"]["uid"]
    updated = apply(namespace, [deployment("api", replicas=1, image=MISSING_IMAGE)])
    assert updated["revisions"]["Deployment/api"]["revision"] == "1"
    time.sleep(3)
    result = apply(namespace, [], state="rollback", revisions=updated["revisions"])
    assert actions(result) == {("Deployment", "api"): "rolled_back"}
    live = get("deployment", "api", namespace)
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == APP_IMAGE
    wait_until("api rolled back", lambda: ready_replicas("deployment", "api", namespace, 1), timeout=90)
    assert old_pod in [p["metadata"]["uid"] for p in pods(namespace, "api")], "the old pod stopped serving"
    again = apply(namespace, [], state="rollback", revisions=updated["revisions"])
    assert actions(again) == {("Deployment", "api"): "unchanged"}

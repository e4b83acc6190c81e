"""genai.stack.health against a real cluster (the one named by KUBECONFIG).

Creates a throwaway namespace t-health-hm-<random> with one healthy "tier" (a Deployment of the
app stand-in with a PVC, a Service answering /healthz through the API server's service proxy,
an HPA, an Ingress and a completed Job) and one broken "tier" (an image that is not present
with pull policy Never, an invalid image name, a crash-looping container, a missing Secret
key, a PVC of an unknown StorageClass, an HPA without target, an Ingress without backend, a
Service without endpoints and a failed Job), runs the module as `ansible localhost -m
genai.stack.health` from the clone, asserts the reports, and deletes the namespace.

Needs the test image localhost/genai-stack-test/app:1.0.0 imported into the cluster's
containerd (tests/images).
"""
import json
import time
import uuid

import pytest
from clusterlib import ansible_module, kubectl, needs_cluster

pytestmark = needs_cluster

APP_IMAGE = "localhost/genai-stack-test/app:1.0.0"
SYSTEM = "hmtest"


def health(namespace, check_mode=False, **args):
    """Run the module ad hoc from the clone; returns (failed, result)."""
    result = ansible_module("genai.stack.health", dict(namespace=namespace, **args), check_mode=check_mode)[0]
    return bool(result.get("failed")), result


def labels(name, tier):
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": tier,
            "app.kubernetes.io/part-of": SYSTEM, "app.kubernetes.io/instance": SYSTEM}


def deployment(name, tier, image=APP_IMAGE, policy="IfNotPresent", command=None, env=None, port=None,
               pvc=None, needs=None):
    container = {"name": "main", "image": image, "imagePullPolicy": policy, "env": list(env or [])}
    if command:
        container["command"] = command
    if port:
        container["env"].append({"name": "PORT", "value": str(port)})
        container["ports"] = [{"name": "http", "containerPort": port}]
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}
    pod = {"containers": [container], "terminationGracePeriodSeconds": 1}
    if pvc:
        pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": pvc}}]
        container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    meta = {"name": name, "labels": labels(name, tier)}
    if needs:
        meta["annotations"] = {"genai.stack/needs": needs}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "progressDeadlineSeconds": 600,
                     "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": {"metadata": {"labels": labels(name, tier)}, "spec": pod}}}


def service(name, tier, selector_name=None, health_path=None, port=8080):
    meta = {"name": name, "labels": labels(name, tier)}
    if health_path:
        meta["annotations"] = {"genai.stack/health-path": health_path, "genai.stack/health-port": "http"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"selector": {"app.kubernetes.io/name": selector_name or name},
                     "ports": [{"name": "http", "port": port, "targetPort": "http"}]}}


def pvc(name, tier, storage_class=None):
    spec = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "labels": labels(name.split("-")[0], tier)},
            "spec": spec}


def hpa(name, tier, target):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels(name, tier)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": 1, "maxReplicas": 2,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}}


def ingress(name, tier, backend):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "labels": labels(name, tier)},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": name + ".example.test", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": backend, "port": {"name": "http"}}}}]}}]}}


def job(name, tier, exit_code):
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": labels(name, tier)},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": labels(name, tier)}, "spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                "containers": [{"name": "main", "image": APP_IMAGE, "imagePullPolicy": "IfNotPresent",
                                "command": ["sh", "-c", "exit {0}".format(exit_code)]}]}}}}


GOOD = [
    pvc("web-data", "good"),
    deployment("web", "good", port=8080, pvc="web-data", needs="migrate"),
    service("web", "good", health_path="/healthz"),
    hpa("web", "good", "web"),
    ingress("site", "good", "web"),
    job("migrate", "good", 0),
]

BAD = [
    deployment("never", "bad", image="localhost/genai-stack-test/absent:1.0.0", policy="Never"),
    # no registry answers on localhost: the kubelet's pull fails, then backs off
    deployment("pull", "bad", image="localhost/genai-stack-test/absent:3.0.0", policy="IfNotPresent"),
    deployment("badname", "bad", image="localhost/genai-stack-test/Not_Valid:1.0.0"),
    deployment("crash", "bad", command=["sh", "-c", "echo starting; exit 3"]),
    deployment("nokey", "bad", env=[{"name": "API_KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "absent"}}}]),
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "labels": labels("creds", "bad")},
     "stringData": {"present": "s3cr3t-value-never-shown"}},
    pvc("stuck-data", "bad", storage_class="no-such-class"),
    hpa("orphan", "bad", "ghost"),
    ingress("broken", "bad", "nothere"),
    service("lonely", "bad", selector_name="nobody"),
    job("fails", "bad", 1),
]

EXPECTED_BAD = {
    "never": ("ErrImageNeverPull", True),
    "pull": (("ImagePullBackOff", "ErrImagePull"), True),
    "badname": ("InvalidImageName", True),
    "crash": ("CrashLoopBackOff", None),
    "nokey": ("CreateContainerConfigError", True),
    "stuck": ("ProvisioningFailed", True),
    "orphan": ("scale target missing", False),
    "broken": ("backend missing", False),
    "lonely": ("no endpoints", False),
    "fails": ("Job failed", True),
}


@pytest.fixture(scope="module")
def namespace():
    name = "t-health-hm-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name)
    try:
        kubectl("-n", name, "apply", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": GOOD + BAD}))
        yield name
    finally:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def by_name(result):
    return {c["name"]: c for c in result["components"]}


def test_healthy_tier_is_reported_ready_with_http_and_dependency_order(namespace):
    failed, result = health(namespace, label_selectors=["app.kubernetes.io/component=good"], components=["web", "migrate"],
                            wait_timeout=240, wait_sleep=1)
    assert not failed, result.get("msg")
    assert result["healthy"] is True and result["terminal"] is False
    assert result["failing"] == []
    comps = by_name(result)
    assert set(comps) == {"web", "migrate"}
    web = comps["web"]
    assert web["kind"] == "Deployment"
    assert {"Deployment", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler"} <= set(web["kinds"])
    assert web["http"]["status"] == 200 and web["http"]["path"] == "/healthz"
    assert web["needs"] == ["migrate"]
    assert result["order"].index("migrate") < result["order"].index("web")
    assert comps["migrate"]["kind"] == "Job" and comps["migrate"]["ready"]
    assert all("scale target" not in p for p in web["problems"])
    assert result["summary"] == "2/2 components ready"


def test_ingress_is_ready_once_a_controller_gives_it_an_address(namespace):
    """With a controller for class nginx on the cluster the Ingress gets an address and is ready;
    without one it is named "no ingress controller" with its class."""
    controller = kubectl("get", "ingressclass", "nginx", check=False).returncode == 0
    if controller:
        failed, result = health(namespace, components=["site"], wait_timeout=180, wait_sleep=1)
        assert not failed, result.get("msg")
        assert by_name(result)["site"]["kind"] == "Ingress"
    else:
        failed, result = health(namespace, components=["site"], wait=False, ingress_grace_period=0)
        site = by_name(result)["site"]
        assert failed and site["reason"] == "no ingress controller" and "class nginx" in site["message"], site


def _reasons(reason):
    return reason if isinstance(reason, tuple) else (reason,)


def _bad_report(namespace):
    failed, result = health(namespace, label_selectors=["app.kubernetes.io/component=bad"], wait=False,
                            pull_grace_period=0, stuck_grace_period=0, crash_loop_restarts=1)
    comps = by_name(result)
    if all(name in comps and comps[name]["reason"] in _reasons(reason) for name, (reason, dummy) in EXPECTED_BAD.items()):
        return failed, result
    return None


def test_broken_tier_names_every_failing_component_and_reason(namespace):
    deadline = time.monotonic() + 180
    got = None
    while time.monotonic() < deadline and got is None:
        got = _bad_report(namespace)
        if got is None:
            time.sleep(3)
    if got is None:
        failed, result = health(namespace, label_selectors=["app.kubernetes.io/component=bad"], wait=False,
                                pull_grace_period=0, stuck_grace_period=0, crash_loop_restarts=1)
        pytest.fail("reasons never matched: {0}".format(
            {c["name"]: (c["reason"], c["message"]) for c in result["components"]}))
    failed, result = got
    assert failed is True
    assert result["healthy"] is False and result["terminal"] is True
    comps = by_name(result)
    for name, (reason, terminal) in EXPECTED_BAD.items():
        assert comps[name]["ready"] is False
        if terminal is not None:
            assert comps[name]["terminal"] is terminal, (name, comps[name])
        assert any(line.startswith(name + ": " + r) for r in _reasons(reason) for line in result["failing"]), (name, result["failing"])
        assert name in result["msg"]
    assert comps["crash"]["terminal"] is True  # restarts >= crash_loop_restarts (1)
    assert "absent:1.0.0" in comps["never"]["message"]
    assert "absent:3.0.0" in comps["pull"]["message"]
    assert "absent" in comps["nokey"]["message"]  # the missing key is named...
    assert "s3cr3t-value-never-shown" not in json.dumps(result)  # ...never a Secret value
    assert "creds" not in comps or comps["creds"]["kind"] is None or comps["creds"]["ready"]


def test_terminal_failure_ends_the_wait_at_once(namespace):
    start = time.monotonic()
    failed, result = health(namespace, components=["badname"], wait_timeout=120)
    assert failed and result["terminal"] is True
    assert result["components"][0]["reason"] == "InvalidImageName"
    assert time.monotonic() - start < 60


def test_not_ready_waits_out_its_slice_and_fails_non_terminal(namespace):
    failed, result = health(namespace, components=["lonely"], wait_timeout=4, wait_sleep=1)
    assert failed and result["terminal"] is False
    assert result["elapsed"] >= 4
    assert result["components"][0]["reason"] == "no endpoints"
    assert "not healthy after 4s" in result["msg"]


def test_check_mode_reports_without_failing(namespace):
    failed, result = health(namespace, check_mode=True, label_selectors=["app.kubernetes.io/component=bad"])
    assert not failed
    assert result["healthy"] is False and result["failing"]
    assert result["elapsed"] < 30


def test_unknown_component_and_empty_selection(namespace):
    failed, result = health(namespace, components=["web", "nope"], wait=False)
    assert failed
    comps = by_name(result)
    assert comps["nope"]["reason"] == "not found" and comps["web"]["ready"]
    failed, result = health(namespace, label_selectors=["app.kubernetes.io/component=none"], wait=False)
    assert failed and result["components"] == []
    failed, result = health(namespace, label_selectors=["app.kubernetes.io/component=none"], wait=False, allow_empty=True)
    assert not failed and result["healthy"]

"""genai.stack.health fails fast, naming the fault, on the real cluster (issue 9 cases F, G, M).

Each test creates its own namespace t-health-<case>-<random>, applies a few small manifests
with kubectl (no role involved), runs the module as `ansible localhost -m genai.stack.health`
from the clone (so its action plugin runs the wait in the controller) and measures how long
the module took to name the fault. The namespace is deleted afterwards.

Needs the test images localhost/genai-stack-test/{app,redis}:1.0.0 imported into the
cluster's containerd (tests/images).
"""
import json
import os
import subprocess
import time
import uuid

import pytest
from clusterlib import ANSIBLE, NAMESPACE_PREFIX, REPO, ansible_module, kubectl, needs_cluster
from clusterlib import apply as apply_manifest  # this module's apply() takes several objects

pytestmark = needs_cluster

APP_IMAGE = "localhost/genai-stack-test/app:1.0.0"
REDIS_IMAGE = "localhost/genai-stack-test/redis:1.0.0"
SYSTEM = "faults"
RESTRICTED = {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
              "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def apply(namespace, *objects):
    apply_manifest(namespace, {"apiVersion": "v1", "kind": "List", "items": list(objects)})


def health(namespace, **args):
    """Run the module ad hoc; returns (failed, result, seconds the command took)."""
    result, took = ansible_module("genai.stack.health", dict(namespace=namespace, **args))
    return bool(result.get("failed")), result, took


def labels(name):
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "faults",
            "app.kubernetes.io/part-of": SYSTEM, "app.kubernetes.io/instance": SYSTEM}


def pod_spec(image, security=None, command=None, volumes=None, mounts=None, probe=None):
    container = {"name": "main", "image": image, "imagePullPolicy": "IfNotPresent"}
    if command:
        container["command"] = command
    if security:
        container["securityContext"] = security
    if mounts:
        container["volumeMounts"] = mounts
    if probe:
        container["readinessProbe"] = probe
    spec = {"containers": [container], "terminationGracePeriodSeconds": 1}
    if volumes:
        spec["volumes"] = volumes
    return spec


def statefulset(name, image=REDIS_IMAGE, storage_class=None, security=None):
    spec = {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels(name)}, "spec": pod_spec(image, security)}}
    if storage_class:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data", "labels": labels(name)}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
            "resources": {"requests": {"storage": "10Mi"}}}}]
        spec["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "labels": labels(name)}, "spec": spec}


def deployment(name, image=APP_IMAGE, **pod):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels(name)},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": {"metadata": {"labels": labels(name)}, "spec": pod_spec(image, **pod)}}}


@pytest.fixture
def namespace(request):
    name = "{0}-{1}-{2}".format(NAMESPACE_PREFIX + "health", request.node.name.split("_")[1][:8].lower(),
                                uuid.uuid4().hex[:6])
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def restrict(namespace):
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "--overwrite")


def component(result, name):
    return {c["name"]: c for c in result["components"]}[name]


def test_f_missing_storage_class_is_named_within_60s(namespace):
    apply(namespace, statefulset("redis", storage_class="does-not-exist"))
    failed, result, took = health(namespace, components=["redis"], wait_timeout=180)
    redis = component(result, "redis")
    assert failed and result["terminal"] is True, result.get("msg")
    assert redis["reason"] == "ProvisioningFailed", redis
    assert 'storageclass.storage.k8s.io "does-not-exist" not found' in redis["message"]
    assert "redis: ProvisioningFailed" in result["msg"]
    assert took < 60, took
    print("case F named in {0:.1f}s: {1}".format(took, redis["message"]))


def test_g_pod_security_refusing_a_root_redis_is_named_within_30s(namespace):
    restrict(namespace)
    apply(namespace, statefulset("redis"))
    failed, result, took = health(namespace, components=["redis"], wait_timeout=180)
    redis = component(result, "redis")
    assert failed and result["terminal"] is True, result.get("msg")
    assert redis["reason"] == "FailedCreate", redis
    assert "violates PodSecurity" in redis["message"] and "restricted" in redis["message"]
    assert took < 30, took
    print("case G named in {0:.1f}s: {1}".format(took, redis["message"]))


def test_m_bad_tag_on_a_running_statefulset_is_named_within_30s(namespace):
    apply(namespace, statefulset("redis"))
    failed, result, took = health(namespace, components=["redis"], wait_timeout=180)
    assert not failed, result.get("msg")
    apply(namespace, statefulset("redis", image="localhost/genai-stack-test/redis:9.9.9-absent"))
    failed, result, took = health(namespace, components=["redis"], wait_timeout=180)
    redis = component(result, "redis")
    assert failed and result["terminal"] is True, result.get("msg")
    assert redis["reason"] in ("ErrImagePull", "ImagePullBackOff"), redis
    assert "9.9.9-absent" in redis["message"]
    assert took < 30, took
    print("case M named in {0:.1f}s: {1} {2}".format(took, redis["reason"], redis["message"]))


def test_stale_failed_create_of_an_old_replicaset_does_not_trip(namespace):
    restrict(namespace)
    apply(namespace, deployment("api"))  # refused: no securityContext
    failed, result, took = health(namespace, components=["api"], wait_timeout=60)
    api = component(result, "api")
    assert failed and result["terminal"] and api["reason"] == "FailedCreate", api
    old = json.loads(kubectl("-n", namespace, "get", "replicasets", "-o", "json").stdout)["items"]
    assert len(old) == 1
    apply(namespace, deployment("api", security=RESTRICTED))
    failed, result, took = health(namespace, components=["api"], wait_timeout=120)
    assert not failed, result.get("msg")
    assert result["healthy"] is True
    # the old ReplicaSet's refusals are still there to be misread
    events = json.loads(kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    assert any(e["reason"] == "FailedCreate" and e["involvedObject"]["name"] == old[0]["metadata"]["name"] for e in events)


def test_missing_secret_volume_is_named_after_the_grace(namespace):
    apply(namespace, deployment("api", volumes=[{"name": "creds", "secret": {"secretName": "absent-creds"}}],
                                mounts=[{"name": "creds", "mountPath": "/creds"}]))
    failed, result, took = health(namespace, components=["api"], wait_timeout=180, stuck_grace_period=10)
    api = component(result, "api")
    assert failed and result["terminal"] is True, result.get("msg")
    assert api["reason"] == "FailedMount" and 'secret "absent-creds" not found' in api["message"], api
    assert took < 60, took


def test_an_object_held_by_a_finalizer_is_named(namespace):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "api-data", "labels": labels("api"), "finalizers": ["genai.stack/test-hold"]},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Mi"}}}}
    apply(namespace, deployment("api"), claim)
    kubectl("-n", namespace, "delete", "pvc", "api-data", "--wait=false")
    try:
        failed, result, took = health(namespace, components=["api"], wait_timeout=120, stuck_grace_period=5)
        api = component(result, "api")
        assert failed and result["terminal"] is True, result.get("msg")
        assert api["reason"] == "being deleted" and "genai.stack/test-hold" in api["message"], api
        assert took < 30, took
    finally:
        kubectl("-n", namespace, "patch", "pvc", "api-data", "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False)


def test_missing_tls_secret_is_named(namespace):
    site = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site", "labels": labels("site")},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["site.faults.test"], "secretName": "site-absent-tls"}],
                     "rules": [{"host": "site.faults.test", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                         "service": {"name": "site", "port": {"number": 80}}}}]}}]}}
    apply(namespace, site)
    failed, result, took = health(namespace, components=["site"], wait=False)
    problems = component(result, "site")["problems"]
    assert failed and any(p.startswith("TLS Secret missing (TLS Secret site-absent-tls does not exist") for p in problems), problems


def test_progress_is_printed_while_one_call_waits(namespace):
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1}
    apply(namespace, deployment("slow", command=["sleep", "3600"], probe=probe))
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="default")
    args = {"namespace": namespace, "components": ["slow"], "wait_timeout": 12, "progress_interval": 3}
    proc = subprocess.run([ANSIBLE, "localhost", "-m", "genai.stack.health", "-a", json.dumps(args)],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if "] ready: " in line]
    assert proc.returncode != 0
    assert len(lines) >= 2, proc.stdout[-3000:]
    assert "not ready: slow (" in lines[-1], lines
    assert "FAILED - RETRYING" not in proc.stdout


def test_hpa_current_metric_is_reported_against_its_target(namespace):
    """With metrics-server on the cluster the report shows `cpu N% (target 60%)` for the HPA."""
    if kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", check=False).returncode != 0:
        pytest.skip("no metrics-server on this cluster")
    web = deployment("web")
    web["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "20m", "memory": "32Mi"}}
    scaler = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "labels": labels("web")},
              "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                       "minReplicas": 1, "maxReplicas": 2, "metrics": [{"type": "Resource", "resource": {
                           "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}}
    apply(namespace, web, scaler)
    deadline = time.monotonic() + 180
    metrics = []
    while time.monotonic() < deadline and not metrics:
        failed, result, took = health(namespace, components=["web"], wait_timeout=30)
        metrics = component(result, "web")["metrics"]
        if not metrics:
            time.sleep(5)
    assert metrics and metrics[0].startswith("web: cpu ") and metrics[0].endswith("% (target 60%)"), metrics
    assert not failed, result.get("msg")
    print("HPA metric seen: {0}".format(metrics[0]))


def wait_for_restart(namespace, timeout=90):
    """Wait for a first restart, so that no poll sees the pod before anything went wrong."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = json.loads(kubectl("-n", namespace, "get", "pods", "-o", "json").stdout)["items"]
        if any(cs.get("restartCount") for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or []):
            return
        time.sleep(1)
    raise AssertionError("no container of {0} restarted in {1}s".format(namespace, timeout))


def test_liveness_kills_are_named_and_not_called_a_crash_loop(namespace):
    live = deployment("live", command=["sleep", "3600"])
    live["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {
        "exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1}
    apply(namespace, live)
    wait_for_restart(namespace)
    failed, result, took = health(namespace, components=["live"], wait_timeout=45, crash_loop_restarts=1)
    comp = component(result, "live")
    assert failed and result["terminal"] is False, result.get("msg")
    assert comp["reason"] == "liveness probe failing", comp
    assert "by its liveness probe" in comp["message"]


def test_a_pod_that_becomes_ready_then_crashes_is_not_healthy(namespace):
    apply(namespace, deployment("flaky", command=["sh", "-c", "sleep 4; exit 1"]))
    wait_for_restart(namespace)
    failed, result, took = health(namespace, components=["flaky"], wait_timeout=60)
    comp = component(result, "flaky")
    assert failed and result["healthy"] is False, result.get("msg")
    assert comp["reason"] in ("CrashLoopBackOff", "restarted recently"), comp

"""Smoke test of the local test cluster (tests/cluster): what the collection relies on.

Runs against the cluster named by KUBECONFIG with the test images imported
(`tests/images/images import`). Every test talks to the real API server and runs real pods.
"""
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from clusterlib import KUBECTL, REPO, apply, kget, kubectl, needs_cluster, ready_pods, wait_until

pytestmark = needs_cluster

APP_IMAGE = "localhost/genai-stack-test/app:1.0.0"
REDIS_IMAGE = "localhost/genai-stack-test/redis:1.0.0"


def deployment(name, image, env=None, port=None, volumes=None, mounts=None, labels=None):
    container = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent", "env": env or []}
    if port:
        container["ports"] = [{"name": "http", "containerPort": port}]
        container["readinessProbe"] = {
            "httpGet": {"path": "/healthz", "port": port}, "periodSeconds": 2, "failureThreshold": 1
        }
    if mounts:
        container["volumeMounts"] = mounts
    pod_labels = {"app": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": [container], "volumes": volumes or [],
                         "terminationGracePeriodSeconds": 2},
            },
        },
    }


def service(name, port):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }


@pytest.fixture(scope="module")
def ns():
    name = f"smoke-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=baseline")
    wait_until("default ServiceAccount", lambda: kubectl("-n", name, "get", "sa", "default", check=False).returncode == 0)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_node_is_ready():
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) == 1
    conditions = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert nodes[0]["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.34.")


def test_app_becomes_ready_only_when_its_datastore_service_answers(ns):
    redis_url = f"redis://redis.{ns}.svc.cluster.local:6379/0"
    env = [{"name": "PORT", "value": "8000"}, {"name": "REDIS_URL", "value": redis_url}]
    apply(ns, deployment("app", APP_IMAGE, env=env, port=8000))
    apply(ns, service("app", 8000))
    # No redis Service yet: the stand-in's readiness must fail, as the real service would.
    wait_until("app pod running", lambda: any(
        p["status"].get("phase") == "Running" for p in kget(ns, "pods", "-l", "app=app")["items"]))
    time.sleep(6)
    assert ready_pods(ns, "app") == [], "app is Ready although its redis does not exist"

    apply(ns, deployment("redis", REDIS_IMAGE))
    redis_svc = service("redis", 6379)
    redis_svc["spec"]["ports"][0]["name"] = "redis"
    apply(ns, redis_svc)
    wait_until("app Ready through redis.<ns>.svc.cluster.local", lambda: ready_pods(ns, "app"), timeout=180)


def test_health_through_the_api_service_proxy(ns):
    wait_until("app Ready", lambda: ready_pods(ns, "app"), timeout=180)
    raw = kubectl("get", "--raw", f"/api/v1/namespaces/{ns}/services/app:http/proxy/healthz").stdout
    body = json.loads(raw)
    assert body["status"] in ("ok", "ready", "healthy"), body
    assert any("redis" in json.dumps(dep) for dep in body.get("dependencies", [body])), body


def test_service_by_cluster_ip_and_dns_name_from_a_pod(ns):
    pod = wait_until("app Ready", lambda: ready_pods(ns, "app"), timeout=180)[0]
    cluster_ip = kget(ns, "service", "app")["spec"]["clusterIP"]
    script = (
        "import socket,urllib.request as u;"
        f"print(socket.gethostbyname('redis.{ns}.svc.cluster.local'));"
        f"print(u.urlopen('http://{cluster_ip}:8000/healthz',timeout=5).status);"
        f"print(u.urlopen('http://app.{ns}.svc.cluster.local:8000/',timeout=5).status)"
    )
    out = kubectl("-n", ns, "exec", pod, "--", "python3", "-c", script).stdout.split()
    redis_ip = kget(ns, "service", "redis")["spec"]["clusterIP"]
    assert out == [redis_ip, "200", "200"]


def test_deleted_pod_is_replaced(ns):
    old = wait_until("app Ready", lambda: ready_pods(ns, "app"), timeout=180)[0]
    kubectl("-n", ns, "delete", "pod", old, "--wait=true")
    new = wait_until("replacement Ready", lambda: [p for p in ready_pods(ns, "app") if p != old], timeout=180)
    assert old not in new


def test_pvc_data_survives_pod_deletion(ns):
    apply(ns, {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    })
    wait_until("PVC Bound", lambda: kget(ns, "pvc", "data")["status"].get("phase") == "Bound")
    apply(ns, deployment("writer", APP_IMAGE, env=[{"name": "PORT", "value": "8000"}], port=8000,
                         volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                         mounts=[{"name": "data", "mountPath": "/data"}]))
    pod = wait_until("writer Ready", lambda: ready_pods(ns, "writer"), timeout=180)[0]
    token = uuid.uuid4().hex
    kubectl("-n", ns, "exec", pod, "--", "sh", "-c", f"echo {token} > /data/token")
    kubectl("-n", ns, "delete", "pod", pod, "--wait=true")
    new = wait_until("new writer Ready", lambda: [p for p in ready_pods(ns, "writer") if p != pod], timeout=180)[0]
    assert kubectl("-n", ns, "exec", new, "--", "cat", "/data/token").stdout.strip() == token


def test_logs_exec_and_port_forward(ns):
    pod = wait_until("app Ready", lambda: ready_pods(ns, "app"), timeout=180)[0]
    assert kubectl("-n", ns, "exec", pod, "--", "id", "-u").stdout.strip().isdigit()
    # The stand-in logs every request; the readiness probe produces some.
    wait_until("request lines in the log", lambda: "/healthz" in kubectl("-n", ns, "logs", pod).stdout)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local_port = s.getsockname()[1]
    pf = subprocess.Popen([KUBECTL, "-n", ns, "port-forward", f"pod/{pod}", f"{local_port}:8000",
                           "--address", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local_port}/", timeout=3) as resp:
                    return resp.status
            except OSError:
                return None
        assert wait_until("port-forward", fetch, timeout=30) == 200
    finally:
        pf.terminate()
        pf.wait(timeout=10)


def test_pod_security_is_enforced(ns):
    privileged = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": APP_IMAGE,
                                 "securityContext": {"privileged": True}}]},
    }
    proc = kubectl("-n", ns, "apply", "-f", "-", input_text=json.dumps(privileged), check=False)
    assert proc.returncode != 0
    assert "violates PodSecurity" in proc.stderr


def test_workload_kinds_are_served_and_a_job_completes(ns):
    job_spec = {"template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": APP_IMAGE, "command": ["sh", "-c", "echo done"]}]}}}
    manifests = [
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"}, "spec": job_spec},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
         "spec": {"schedule": "0 2 * * *", "jobTemplate": {"spec": job_spec}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "app"},
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                  "minReplicas": 1, "maxReplicas": 3,
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "app"},
         "spec": {"ingressClassName": "nginx", "rules": [{"host": "app.smoke.local", "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "app", "port": {"number": 8000}}}}]}}]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
         "spec": {"podSelector": {"matchLabels": {"app": "nobody"}}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts"},
         "spec": {"serviceName": "sts", "replicas": 1, "selector": {"matchLabels": {"app": "sts"}},
                  "template": {"metadata": {"labels": {"app": "sts"}}, "spec": {"containers": [
                      {"name": "c", "image": APP_IMAGE, "env": [{"name": "PORT", "value": "8000"}]}]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                      "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
    ]
    for manifest in manifests:
        apply(ns, manifest)
    wait_until("Job complete", lambda: kget(ns, "job", "once")["status"].get("succeeded") == 1)
    wait_until("StatefulSet ready", lambda: kget(ns, "statefulset", "sts")["status"].get("readyReplicas") == 1,
               timeout=180)
    assert kget(ns, "pvc", "data-sts-0")["status"]["phase"] == "Bound"
    assert kget(ns, "cronjob", "nightly")["spec"]["schedule"] == "0 2 * * *"
    assert kget(ns, "ingress", "app")["spec"]["ingressClassName"] == "nginx"


LOCAL_KUBECONFIG = os.path.join(REPO, ".cluster", "kubeconfig")


@pytest.mark.skipif(
    os.path.realpath(os.environ.get("KUBECONFIG", "")) != os.path.realpath(LOCAL_KUBECONFIG) or os.geteuid() != 0,
    reason="needs the local test cluster of this clone (KUBECONFIG=.cluster/kubeconfig) and root",
)
def test_second_cluster_up_changes_nothing(ns):
    """`cluster up` on a running cluster keeps every pod: same container, no restart."""
    apply(ns, deployment("keeper", APP_IMAGE, env=[{"name": "PORT", "value": "8000"}], port=8000))
    pod = wait_until("keeper Ready", lambda: ready_pods(ns, "keeper"), timeout=180)[0]

    def containers():
        status = kget(ns, "pod", pod)["status"]["containerStatuses"]
        return [(c["name"], c["containerID"], c["restartCount"]) for c in status]
    before = containers()
    t0 = time.monotonic()
    proc = subprocess.run([os.path.join(REPO, "tests", "cluster", "cluster"), "up"],
                          capture_output=True, text=True, timeout=900, check=False)
    print(f"second cluster up: {time.monotonic() - t0:.0f}s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "restarting it" not in proc.stderr, proc.stderr[-3000:]
    assert "started " not in proc.stderr, proc.stderr[-3000:]
    time.sleep(5)
    assert containers() == before
    assert ready_pods(ns, "keeper") == [pod]

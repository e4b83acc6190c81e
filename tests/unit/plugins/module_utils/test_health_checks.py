"""Readiness rules of genai.stack.health over recorded object shapes."""
import pytest

from ansible_collections.genai.stack.plugins.module_utils import health_checks as hc

NOW = 1_000_000.0


def meta(name, kind=None, component=None, tier="backend", **extra):
    labels = {"app.kubernetes.io/name": component or name, "app.kubernetes.io/component": tier}
    out = {"name": name, "labels": labels, "generation": 2}
    out.update(extra)
    return out


def deployment(name, want=2, ready=2, updated=2, available=2, observed=2, conditions=(), needs=""):
    m = meta(name)
    if needs:
        m["annotations"] = {hc.NEEDS_ANNOTATION: needs}
    return {"kind": "Deployment", "metadata": m, "spec": {"replicas": want},
            "status": {"observedGeneration": observed, "readyReplicas": ready, "updatedReplicas": updated,
                       "availableReplicas": available, "replicas": want, "conditions": list(conditions)}}


def pod(component, waiting=None, restarts=0, ready=False, running=False, started=NOW - 600, last=None):
    state = {"waiting": waiting} if waiting else ({"running": {}} if running else {})
    cs = {"name": "main", "state": state, "restartCount": restarts, "ready": ready}
    if last:
        cs["lastState"] = {"terminated": last}
    return {"kind": "Pod", "metadata": meta(component + "-abc", component=component),
            "status": {"startTime": started, "containerStatuses": [cs]}}


def service(name, annotations=None):
    m = meta(name)
    m["annotations"] = annotations or {}
    return {"kind": "Service", "metadata": m,
            "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "http", "port": 80}]}}


def slice_for(name, ready=True):
    return {"metadata": {"name": name + "-x", "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {"ready": ready}}]}


def by_name(report):
    return {c["name"]: c for c in report}


def test_rolled_out_deployment_is_ready():
    report = hc.evaluate({"Deployment": [deployment("gateway")]}, {}, NOW)
    assert by_name(report)["gateway"]["ready"] is True
    assert by_name(report)["gateway"]["message"] == ""


@pytest.mark.parametrize("kwargs, reason", [
    ({"ready": 1}, "NotReady"),
    ({"updated": 1}, "NotReady"),
    ({"observed": 1}, "RolloutPending"),
    ({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                      "message": "ReplicaSet has timed out progressing."}]}, "ProgressDeadlineExceeded"),
])
def test_deployment_not_rolled_out(kwargs, reason):
    item = by_name(hc.evaluate({"Deployment": [deployment("gateway", **kwargs)]}, {}, NOW))["gateway"]
    assert item["ready"] is False
    assert reason in item["message"]
    assert item["terminal"] is (reason == "ProgressDeadlineExceeded")


@pytest.mark.parametrize("pod_kwargs, reason, terminal", [
    ({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}, "ImagePullBackOff", True),
    ({"waiting": {"reason": "ErrImageNeverPull"}, "started": NOW - 5}, "ErrImageNeverPull", False),
    ({"waiting": {"reason": "CrashLoopBackOff"}, "restarts": 5, "last": {"exitCode": 1, "reason": "Error"}},
     "CrashLoopBackOff", True),
    ({"waiting": {"reason": "CrashLoopBackOff"}, "restarts": 1}, "CrashLoopBackOff", False),
    ({"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}},
     "CreateContainerConfigError", True),
    ({"running": True}, "ReadinessProbeFailing", False),
])
def test_pod_states_explain_an_unready_workload(pod_kwargs, reason, terminal):
    objects = {"Deployment": [deployment("chat", ready=0, available=0)], "Pod": [pod("chat", **pod_kwargs)]}
    item = by_name(hc.evaluate(objects, {}, NOW, grace=60))["chat"]
    assert item["ready"] is False
    assert item["reason"] == reason
    assert item["terminal"] is terminal


def test_pod_problems_ignored_once_rolled_out():
    objects = {"Deployment": [deployment("chat")], "Pod": [pod("chat", waiting={"reason": "ImagePullBackOff"})]}
    assert by_name(hc.evaluate(objects, {}, NOW))["chat"]["ready"] is True


def test_pvc_pending_and_service_without_endpoints():
    pvc = {"kind": "PersistentVolumeClaim", "metadata": meta("data-mysql-0", component="mysql", tier="datastores"),
           "status": {"phase": "Pending"}}
    objects = {"PersistentVolumeClaim": [pvc], "Service": [service("redis")],
               "EndpointSlice": [slice_for("redis", ready=False)]}
    report = by_name(hc.evaluate(objects, {}, NOW))
    assert report["mysql"]["reason"] == "PVCPending"
    assert report["redis"]["reason"] == "NoEndpoints"


@pytest.mark.parametrize("result, ready", [
    ({"path": "/healthz", "status": 200, "error": None}, True),
    ({"path": "/healthz", "status": 503, "error": "unavailable"}, False),
    ({"path": "/healthz", "status": None, "error": "timeout"}, False),
])
def test_http_health_through_proxy(result, ready):
    objects = {"Service": [service("gateway")], "EndpointSlice": [slice_for("gateway")]}
    item = by_name(hc.evaluate(objects, {"gateway": result}, NOW))["gateway"]
    assert item["ready"] is ready
    assert item["http"] == result
    if not ready:
        assert item["reason"] == "HealthCheckFailing"


def test_ingress_backends_must_exist_and_have_endpoints():
    ingress = {"kind": "Ingress", "metadata": meta("genai", tier="ingress"), "spec": {"rules": [
        {"host": "api.genai.local", "http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "gateway", "port": {"number": 8000}}}}]}},
        {"host": "app.genai.local", "http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "frontend", "port": {"number": 5173}}}}]}},
    ]}}
    objects = {"Ingress": [ingress], "Service": [service("gateway")], "EndpointSlice": [slice_for("gateway")]}
    item = by_name(hc.evaluate(objects, {}, NOW))["genai"]
    assert item["ready"] is False
    assert "app.genai.local/ -> frontend: no such service" in item["message"]
    assert "api.genai.local" not in item["message"]


def test_hpa_needs_an_existing_target_and_warns_without_metrics():
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": meta("gateway"),
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "gateway"}},
           "status": {"conditions": [{"type": "ScalingActive", "status": "False",
                                      "reason": "FailedGetResourceMetric"}]}}
    ok = by_name(hc.evaluate({"Deployment": [deployment("gateway")], "HorizontalPodAutoscaler": [hpa]}, {}, NOW))
    assert ok["gateway"]["ready"] is True
    assert ok["gateway"]["warnings"] == ["HPA gateway: FailedGetResourceMetric"]
    missing = by_name(hc.evaluate({"HorizontalPodAutoscaler": [hpa]}, {}, NOW))
    assert missing["gateway"]["reason"] == "MissingScaleTarget"


def test_report_lists_dependencies_first_and_summarises():
    objects = {"Deployment": [deployment("gateway", needs="chat"), deployment("chat", needs="mysql", ready=0),
                              deployment("mysql")]}
    report = hc.evaluate(objects, {}, NOW)
    assert [c["name"] for c in report] == ["mysql", "chat", "gateway"]
    assert report[1]["needs"] == ["mysql"]
    summary, failing = hc.summarise(report)
    assert summary.startswith("2/3 components ready; waiting on chat: NotReady")
    assert failing == ["chat: NotReady (0/2 ready, 2 updated)"]

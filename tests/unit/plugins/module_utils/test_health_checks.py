"""Readiness rules of genai.stack.health (module_utils/health_checks.py).

Most cases run on namespaces recorded from the local test cluster
(tests/unit/fixtures/health/*.yaml: the API's own JSON), the rest on small objects written
in the API's shape for states a single-node test cluster does not produce on demand.
"""
import copy
import json
import os

import pytest
import yaml

from ansible_collections.genai.stack.plugins.module_utils import health_checks as hc

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "health")


def load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    objects = {k: v for k, v in data.items() if not k.startswith("_") and k != "Event"}
    return objects, data.get("Event", []), data.get("_http", {}), hc.parse_time(data["_recorded_at"])


MIXED = load("namespace_mixed.yaml")
PROBES = load("namespace_probes.yaml")


def by_name(report):
    return {c["name"]: c for c in report["components"]}


def mixed_report(**options):
    objects, events, dummy, now = MIXED
    opts = {"pull_grace_period": 30, "crash_loop_restarts": 3}
    opts.update(options)
    return hc.evaluate(copy.deepcopy(objects), options.pop("now", now), events=events, options=opts)


# --------------------------------------------------------------------------------------------
# recorded namespace: every failure the module promises to name

MIXED_EXPECTED = [
    # component, kind, ready, terminal, reason, words of the message
    ("web", "Deployment", True, False, "", ""),
    ("db", "StatefulSet", True, False, "", ""),
    ("migrate", "Job", True, False, "", ""),
    ("site", "Ingress", False, False, "no ingress controller", "no controller of class nginx gave Ingress site an address"),
    ("nightly", "CronJob", True, False, "", ""),
    ("report", "CronJob", True, False, "", ""),
    ("probefail", "Deployment", True, False, "", ""),  # the stand-in answers any path
    ("badname", "Deployment", False, True, "InvalidImageName", "must be lowercase"),
    ("never", "Deployment", False, True, "ErrImageNeverPull", 'image "localhost/genai-stack-test/absent:1.0.0" is not present'),
    ("stalled", "Deployment", False, True, "ErrImageNeverPull", "absent:2.0.0"),
    ("crash", "Deployment", False, True, "CrashLoopBackOff", "restarted 3 times, last exit code 3"),
    ("nokey", "Deployment", False, True, "CreateContainerConfigError", "couldn't find key absent in Secret demo/creds"),
    ("fails", "Job", False, True, "Job failed", "BackoffLimitExceeded: Job has reached the specified backoff limit"),
    ("hungry", "Deployment", False, True, "Unschedulable", "Insufficient cpu"),
    ("stuck", "PersistentVolumeClaim", False, True, "ProvisioningFailed", 'ProvisioningFailed: storageclass.storage.k8s.io "no-such-class" not found'),
    ("lonely", "Service", False, False, "no endpoints", "Service lonely has no ready endpoints"),
    ("broken", "Ingress", False, False, "backend missing", "nothere:http: no such Service"),
    ("orphan", "HorizontalPodAutoscaler", False, False, "scale target missing", "Deployment/ghost does not exist"),
]


@pytest.mark.parametrize("name, kind, ready, terminal, reason, words", MIXED_EXPECTED, ids=[e[0] for e in MIXED_EXPECTED])
def test_recorded_namespace_component(name, kind, ready, terminal, reason, words):
    comp = by_name(mixed_report())[name]
    assert comp["kind"] == kind
    assert comp["ready"] is ready
    assert comp["terminal"] is terminal
    assert comp["reason"] == reason
    assert words in comp["message"]
    assert comp["problems"] == [] if ready else comp["problems"]


def test_recorded_namespace_report_fails_naming_every_broken_component():
    report = mixed_report()
    assert report["healthy"] is False and report["terminal"] is True
    failing = {line.split(":")[0] for line in report["failing"]}
    assert failing == {e[0] for e in MIXED_EXPECTED if not e[2]}
    assert "crash: CrashLoopBackOff (pod crash-" in " ".join(report["failing"])
    assert report["summary"].startswith("6/18 components ready; failed ")


def test_progress_deadline_is_reported_on_the_deployment_object():
    stalled = by_name(mixed_report())["stalled"]
    deployment = [o for o in stalled["objects"] if o["kind"] == "Deployment"][0]
    assert deployment["reason"] == "ProgressDeadlineExceeded" and not deployment["ready"]
    assert any(p.startswith("ProgressDeadlineExceeded") for p in stalled["problems"])


def test_config_errors_wait_out_the_grace_period_but_invalid_names_and_never_pull_do_not():
    report = by_name(mixed_report(pull_grace_period=3600, stuck_grace_period=3600))
    assert report["never"]["reason"] == "ErrImageNeverPull" and report["never"]["terminal"] is True
    assert report["nokey"]["terminal"] is False
    assert report["badname"]["terminal"] is True
    assert report["hungry"]["terminal"] is False
    # the Job failure and the crash loop do not depend on the grace period
    assert report["fails"]["terminal"] is True and report["crash"]["terminal"] is True


@pytest.mark.parametrize("restarts, terminal", [(3, True), (4, False), (10, False)])
def test_crash_loop_is_terminal_after_the_configured_restarts(restarts, terminal):
    assert by_name(mixed_report(crash_loop_restarts=restarts))["crash"]["terminal"] is terminal


def test_warnings_do_not_make_components_unready():
    report = by_name(mixed_report())
    assert any("ScalingActive False" in w and "metrics-server" in w for w in report["web"]["warnings"])
    assert report["nightly"]["warnings"] == ["CronJob suspended (CronJob nightly is suspended)"]
    assert any(w.startswith("last Job failed (Job report-manual") for w in report["report"]["warnings"])


def test_needs_give_the_dependency_order():
    report = mixed_report()
    assert by_name(report)["web"]["needs"] == ["migrate"]
    assert report["order"].index("migrate") < report["order"].index("web")
    assert report["levels"][-1] == ["web"]
    assert [c["name"] for c in report["components"]] == report["order"]


def test_components_filter_and_not_found():
    report = mixed_report(components=["web", "crash", "ghost"])
    comps = by_name(report)
    assert set(comps) == {"web", "crash", "ghost"}
    assert comps["ghost"]["reason"] == "not found" and comps["ghost"]["kind"] is None
    assert not report["healthy"]


def test_no_value_from_env_or_secrets_reaches_the_report():
    objects, events, dummy, now = MIXED
    objects = copy.deepcopy(objects)
    for pod in objects["Pod"]:
        pod["spec"]["containers"][0]["env"] = [{"name": "DB_PASSWORD", "value": "hunter2-very-secret"}]
    report = hc.evaluate(objects, now, events=events)
    assert "hunter2-very-secret" not in json.dumps(report)


def test_without_events_the_pvc_and_pods_still_fail_with_their_own_reasons():
    objects, dummy, dummy2, now = MIXED
    comps = by_name(hc.evaluate(copy.deepcopy(objects), now))
    assert comps["stuck"]["reason"] == "PVC Pending" and comps["stuck"]["message"] == "claim stuck-data is Pending"
    assert comps["hungry"]["reason"] == "Unschedulable"


# --------------------------------------------------------------------------------------------
# recorded namespace: probes and HTTP health through the service proxy


def probes_report(with_http=True):
    objects, events, http, now = PROBES
    return hc.evaluate(copy.deepcopy(objects), now, http_results=http if with_http else None, events=events)


def test_readiness_probe_failing_carries_the_kubelet_event_message():
    comp = by_name(probes_report())["probefail"]
    assert comp["reason"] == "readiness probe failing"
    assert "Readiness probe failed: HTTP probe failed with statuscode: 503" in comp["message"]
    assert comp["terminal"] is False


def test_http_health_path_answers_through_the_proxy():
    comps = by_name(probes_report())
    assert comps["httpok"]["ready"] and comps["httpok"]["http"]["status"] == 200
    assert comps["httpfail"]["http"]["status"] == 503
    assert comps["httpfail"]["reason"] == "HTTP health check failing"
    assert "GET /healthz on httpfail:http -> HTTP 503" in comps["httpfail"]["message"]


def test_blocked_by_names_the_failing_dependency():
    report = probes_report()
    comp = by_name(report)["probefail"]
    assert comp["needs"] == ["httpfail"] and comp["blocked_by"] == ["httpfail"]
    assert any(line.startswith("probefail:") and line.endswith("[needs httpfail, not ready]") for line in report["failing"])


def test_http_targets_only_for_components_otherwise_ready():
    objects, dummy, dummy2, now = PROBES
    first = hc.evaluate(copy.deepcopy(objects), now)
    targets = hc.http_targets(objects, "demo", first)
    assert sorted(t[1] for t in targets) == ["httpfail", "httpok"]
    assert ("httpok", "httpok", "http", "/healthz", "/api/v1/namespaces/demo/services/httpok:http/proxy/healthz") in targets
    assert sorted(t[1] for t in hc.http_targets(objects, "demo")) == ["httpfail", "httpok", "probefail"]


def test_http_not_checked_yet_is_reported_as_such():
    comp = by_name(probes_report(with_http=False))["probefail"]
    assert comp["http"] == {"path": "/healthz", "port": "http", "status": None, "message": "not checked"}


# --------------------------------------------------------------------------------------------
# lookups outside the selection


def test_lookups_needed_for_ingress_backends_and_hpa_targets_outside_the_selection():
    objects, dummy, dummy2, now = MIXED
    only_ingress = {"Ingress": [i for i in objects["Ingress"] if i["metadata"]["name"] == "site"]}
    assert hc.lookups_needed(only_ingress) == ["EndpointSlice", "Service"]
    only_hpa = {"HorizontalPodAutoscaler": [h for h in objects["HorizontalPodAutoscaler"] if h["metadata"]["name"] == "web"]}
    assert hc.lookups_needed(only_hpa) == ["Deployment"]
    assert hc.lookups_needed(objects) == ["Deployment", "EndpointSlice", "Service"]  # nothere, ghost


def test_ingress_resolves_backends_through_lookups():
    objects, dummy, dummy2, now = MIXED
    only_ingress = {"Ingress": [i for i in objects["Ingress"] if i["metadata"]["name"] == "site"]}
    missing = by_name(hc.evaluate(only_ingress, now))["site"]
    assert missing["reason"] == "backend missing"
    resolved = hc.evaluate(only_ingress, now, lookups={"Service": objects["Service"], "EndpointSlice": objects["EndpointSlice"]})
    assert by_name(resolved)["site"]["problems"] == [
        "no ingress controller (no controller of class nginx gave Ingress site an address in 60s)"]


# --------------------------------------------------------------------------------------------
# rules on hand-written objects in the API's shape


def deployment(replicas=2, generation=3, observed=3, updated=2, ready=2, available=2, total=2, conditions=(), paused=False):
    return {"kind": "Deployment", "metadata": {"name": "gateway", "generation": generation},
            "spec": {"replicas": replicas, "paused": paused},
            "status": {"observedGeneration": observed, "replicas": total, "updatedReplicas": updated,
                       "readyReplicas": ready, "availableReplicas": available, "conditions": list(conditions)}}


@pytest.mark.parametrize("kwargs, reason, terminal", [
    ({}, None, False),
    ({"observed": 2}, "rollout pending", False),
    ({"updated": 1}, "rollout in progress", False),
    ({"ready": 1, "available": 1}, "not ready", False),
    ({"total": 3}, "rollout in progress", False),
    ({"paused": True}, "paused", False),
    ({"replicas": 0, "updated": 0, "ready": 0, "available": 0, "total": 0}, None, False),
    ({"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]},
     "ProgressDeadlineExceeded", True),
    # the Deployment's own ReplicaFailure may come from an old ReplicaSet: only the current one's counts
    ({"ready": 0, "available": 0, "conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                                  "message": 'pods "gateway-x" is forbidden: exceeded quota'}]}, "not ready", False),
])
def test_deployment_rules(kwargs, reason, terminal):
    findings = hc.deployment_findings(deployment(**kwargs))
    if reason is None:
        assert findings == []
    else:
        assert findings[0].reason == reason and findings[0].terminal is terminal


def statefulset(replicas=3, ready=3, updated=3, current=3, partition=None, strategy="RollingUpdate", same_revision=True):
    rolling = {"partition": partition} if partition is not None else {}
    return {"kind": "StatefulSet", "metadata": {"name": "mysql", "generation": 1},
            "spec": {"replicas": replicas, "updateStrategy": {"type": strategy, "rollingUpdate": rolling}},
            "status": {"observedGeneration": 1, "readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": updated,
                       "currentReplicas": current, "currentRevision": "mysql-1",
                       "updateRevision": "mysql-1" if same_revision else "mysql-2"}}


@pytest.mark.parametrize("kwargs, ready", [
    ({}, True),
    ({"ready": 2}, False),
    ({"updated": 1, "same_revision": False}, False),
    ({"updated": 1, "partition": 2, "same_revision": False}, True),
    ({"updated": 0, "strategy": "OnDelete", "same_revision": False}, True),
    # after a completed rollout the controller may report updatedReplicas 0 with equal revisions
    ({"updated": 0, "current": 3}, True),
])
def test_statefulset_rules(kwargs, ready):
    assert (hc.statefulset_findings(statefulset(**kwargs)) == []) is ready


@pytest.mark.parametrize("status, ready", [
    ({"desiredNumberScheduled": 1, "numberReady": 1, "updatedNumberScheduled": 1, "numberAvailable": 1}, True),
    ({"desiredNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}, False),
])
def test_daemonset_rules(status, ready):
    ds = {"kind": "DaemonSet", "metadata": {"name": "agent", "generation": 1}, "status": dict(status, observedGeneration=1)}
    assert (hc.daemonset_findings(ds) == []) is ready


@pytest.mark.parametrize("conditions, reason, terminal", [
    ([{"type": "Complete", "status": "True"}], None, False),
    ([{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}],
     "Job failed", True),
    ([{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"}], "Job failed", True),
    ([{"type": "Suspended", "status": "True"}], "Job suspended", False),
    ([], "Job running", False),
])
def test_job_rules(conditions, reason, terminal):
    job = {"kind": "Job", "metadata": {"name": "migrate"}, "spec": {"completions": 1},
           "status": {"active": 1, "conditions": conditions}}
    findings = hc.job_findings(job)
    if reason is None:
        assert findings == []
    else:
        assert findings[0].reason == reason and findings[0].terminal is terminal


@pytest.mark.parametrize("phase, reason, terminal", [("Bound", None, False), ("Pending", "PVC Pending", False), ("Lost", "PVC Lost", True)])
def test_pvc_rules(phase, reason, terminal):
    findings = hc.pvc_findings({"metadata": {"name": "data"}, "status": {"phase": phase}})
    assert (findings[0].reason, findings[0].terminal) == (reason, terminal) if reason else findings == []


@pytest.mark.parametrize("spec, endpoints, ready", [
    ({"type": "ExternalName", "externalName": "db.example.com"}, [], True),
    ({"type": "ClusterIP"}, [], True),  # no selector: endpoints are managed by hand
    ({"selector": {"a": "b"}}, [], False),
    ({"selector": {"a": "b"}}, [{"addresses": ["10.244.0.5"], "conditions": {"ready": False}}], False),
    ({"selector": {"a": "b"}}, [{"addresses": ["10.244.0.5"], "conditions": {}}], True),  # nil ready = ready
    ({"selector": {"a": "b"}}, [{"addresses": ["10.244.0.5"], "conditions": {"ready": True}}], True),
])
def test_service_endpoint_rules(spec, endpoints, ready):
    svc = {"metadata": {"name": "redis"}, "spec": spec}
    slices = [{"metadata": {"name": "redis-x", "labels": {hc.SERVICE_NAME_LABEL: "redis"}}, "endpoints": endpoints},
              {"metadata": {"name": "other-x", "labels": {hc.SERVICE_NAME_LABEL: "other"}},
               "endpoints": [{"addresses": ["10.244.0.9"], "conditions": {"ready": True}}]}]
    assert (hc.service_findings(svc, slices) == []) is ready


def test_ingress_backend_port_must_exist():
    svc = {"metadata": {"name": "gateway"}, "spec": {"selector": {"a": "b"}, "ports": [{"name": "http", "port": 8000}]}}
    slices = [{"metadata": {"name": "g", "labels": {hc.SERVICE_NAME_LABEL: "gateway"}}, "endpoints": [{"addresses": ["10.0.0.1"]}]}]
    ing = {"metadata": {"name": "genai"}, "spec": {"rules": [{"host": "api.genai.local", "http": {"paths": [
        {"path": "/", "backend": {"service": {"name": "gateway", "port": {"number": 8000}}}},
        {"path": "/x", "backend": {"service": {"name": "gateway", "port": {"name": "grpc"}}}}]}}]}}
    ing["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}
    findings = hc.ingress_findings(ing, [svc], slices)
    assert [f.reason for f in findings] == ["backend port missing"]
    assert "api.genai.local/x -> gateway:grpc" in findings[0].message


@pytest.mark.parametrize("conditions, reason, warned", [
    ([], None, False),
    ([{"type": "AbleToScale", "status": "False", "reason": "FailedGetScale", "message": 'deployments/scale.apps "gateway" not found'}],
     "HPA cannot scale", False),
    ([{"type": "AbleToScale", "status": "True"},
      {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric", "message": "no metrics"}], None, True),
])
def test_hpa_rules(conditions, reason, warned):
    hpa = {"metadata": {"name": "gateway"}, "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}},
           "status": {"conditions": conditions}}
    findings, warnings = hc.hpa_findings(hpa, {("Deployment", "gateway")})
    assert (findings[0].reason if findings else None) == reason
    assert bool(warnings) is warned


def test_dependency_levels_tolerate_unknown_needs_and_cycles():
    comps = {n: {"needs": needs} for n, needs in {
        "gateway": ["chat", "auth"], "chat": ["mysql", "qdrant", "elsewhere"], "mysql": [], "qdrant": [],
        "a": ["b"], "b": ["a"]}.items()}
    comps["auth"] = {"needs": []}
    levels = hc.dependency_levels(comps)
    assert levels[0] == ["auth", "mysql", "qdrant"]
    assert levels[1] == ["chat"] and levels[2] == ["gateway"]
    assert levels[3] == ["a", "b"]


@pytest.mark.parametrize("value, expected", [
    ("2026-11-22T11:03:05Z", 1795345385.0),
    ("2026-11-22T11:03:05.123456Z", 1795345385.0),
    (None, None),
    ("garbage", None),
])
def test_parse_time(value, expected):
    assert hc.parse_time(value) == expected


def test_empty_selection_report():
    report = hc.evaluate({}, 0)
    assert report["components"] == [] and report["healthy"] is True and report["summary"] == "no objects matched"

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fail-fast rules of genai.stack.health on objects and events written in the API's shape.

Each case is a state the recorded namespaces do not hold: pods refused at creation, stale
conditions and events, restarts caused outside the container, an Ingress without a
controller, HPA metrics. The states and event words are those the local test cluster
produces (tests/integration/test_faults.py provokes the same on the real cluster).
"""

import pytest

from ansible_collections.genai.stack.plugins.module_utils import health_checks as hc

NOW = 1_800_000_000.0
OPTS = dict(hc.DEFAULT_OPTIONS)


def stamp(seconds_ago):
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


def event(kind, name, reason, message, first=5, last=None, uid=None, type_="Warning"):
    involved = {"kind": kind, "name": name}
    if uid:
        involved["uid"] = uid
    return {"metadata": {"name": "{0}.{1}".format(name, reason)}, "involvedObject": involved, "reason": reason,
            "message": message, "type": type_, "firstTimestamp": stamp(first),
            "lastTimestamp": stamp(first if last is None else last)}


def labels(component):
    return {hc.NAME_LABEL: component, hc.TIER_LABEL: "backend"}


# --------------------------------------------------------------------------------------------
# Deployments: stale ProgressDeadlineExceeded, FailedCreate of the current ReplicaSet only


def deployment(generation=2, observed=2, revision="2", ready=0, conditions=()):
    return {"kind": "Deployment",
            "metadata": {"name": "api", "uid": "d-1", "generation": generation, "labels": labels("api"),
                         "annotations": {hc.REVISION_ANNOTATION: revision}, "creationTimestamp": stamp(600)},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": observed, "replicas": 1, "updatedReplicas": ready,
                       "readyReplicas": ready, "availableReplicas": ready, "conditions": list(conditions)}}


def replicaset(revision, failure=None):
    rs = {"kind": "ReplicaSet",
          "metadata": {"name": "api-r{0}".format(revision), "labels": labels("api"),
                       "annotations": {hc.REVISION_ANNOTATION: revision},
                       "ownerReferences": [{"kind": "Deployment", "name": "api", "uid": "d-1"}]},
          "spec": {"replicas": 1}, "status": {"replicas": 0, "conditions": []}}
    if failure:
        rs["status"]["conditions"].append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                           "message": failure, "lastTransitionTime": stamp(3)})
    return rs


PDE = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
       "message": 'ReplicaSet "api-r1" has timed out progressing.'}
PSS = 'pods "api-r2-x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true'


def test_stale_progress_deadline_of_a_previous_generation_does_not_end_the_wait():
    stale = hc.deployment_findings(deployment(generation=3, observed=2, conditions=[PDE]), [], NOW, OPTS)
    assert [(f.reason, f.terminal) for f in stale] == [(hc.ROLLOUT_PENDING, False)]
    current = hc.deployment_findings(deployment(conditions=[PDE]), [], NOW, OPTS)
    assert [(f.reason, f.terminal) for f in current] == [(hc.PROGRESS_DEADLINE_EXCEEDED, True)]


def test_failed_create_of_the_current_replicaset_is_terminal():
    findings = hc.deployment_findings(deployment(), [replicaset("1"), replicaset("2", PSS)], NOW, OPTS)
    assert (findings[0].reason, findings[0].terminal) == (hc.FAILED_CREATE, True)
    assert "api-r2" in findings[0].message and "violates PodSecurity" in findings[0].message


def test_stale_failed_create_of_an_old_replicaset_does_not_trip():
    dep = deployment(conditions=[{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": PSS}])
    findings = hc.deployment_findings(dep, [replicaset("1", PSS), replicaset("2")], NOW, OPTS)
    assert [f.reason for f in findings] == [hc.NOT_READY] and not findings[0].terminal


@pytest.mark.parametrize("message, since, terminal", [
    ('pods "x" is forbidden: exceeded quota: q, requested: cpu=2', 5, False),
    ('pods "x" is forbidden: exceeded quota: q, requested: cpu=2', 45, True),
    ('Internal error occurred: failed calling webhook "pods.example.com": connection refused', 300, False),
    (PSS, 0, True),
])
def test_failed_create_grace(message, since, terminal):
    assert hc.failed_create_finding("StatefulSet", "redis", message, NOW - since, NOW, OPTS).terminal is terminal


def statefulset(replicas=0, created=60):
    return {"kind": "StatefulSet",
            "metadata": {"name": "redis", "uid": "s-1", "generation": 1, "labels": labels("redis"),
                         "creationTimestamp": stamp(created)},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": 0}}


STS_PSS = 'create Pod redis-0 in StatefulSet redis failed error: pods "redis-0" is forbidden: violates PodSecurity "restricted:latest"'


def test_statefulset_failed_create_event_is_terminal():
    report = hc.evaluate({"StatefulSet": [statefulset()]}, NOW,
                         events=[event("StatefulSet", "redis", "FailedCreate", STS_PSS, first=20, last=2)], options=OPTS)
    comp = report["components"][0]
    assert (comp["reason"], comp["terminal"]) == (hc.FAILED_CREATE, True)
    assert "violates PodSecurity" in comp["message"] and report["terminal"] is True


@pytest.mark.parametrize("sts, first, last", [
    (statefulset(created=60), 3600, 3000),  # an event of an earlier StatefulSet of that name
    (statefulset(replicas=1), 20, 2),       # its pod exists now: the event is history
])
def test_statefulset_failed_create_that_is_history_is_ignored(sts, first, last):
    report = hc.evaluate({"StatefulSet": [sts]}, NOW,
                         events=[event("StatefulSet", "redis", "FailedCreate", STS_PSS, first=first, last=last)], options=OPTS)
    assert report["components"][0]["reason"] == hc.NOT_READY and report["terminal"] is False


def test_job_failed_create_event():
    job = {"kind": "Job", "metadata": {"name": "migrate", "labels": labels("migrate"), "creationTimestamp": stamp(30)},
           "spec": {"completions": 1}, "status": {}}
    refused = 'Error creating: pods "m" is forbidden: violates PodSecurity "restricted:latest"'
    findings = hc.job_findings(job, [event("Job", "migrate", "FailedCreate", refused, first=10)], NOW, OPTS)
    assert (findings[0].reason, findings[0].terminal) == (hc.FAILED_CREATE, True)


# --------------------------------------------------------------------------------------------
# pods


def pod(waiting=None, ready=False, restarts=0, last=None, scheduled=None, created=100, uid="p-1", running=False):
    cs = {"name": "app", "ready": ready, "restartCount": restarts, "state": {}}
    if waiting:
        cs["state"]["waiting"] = dict(waiting)
    elif running or ready:
        cs["state"]["running"] = {"startedAt": stamp(5)}
    if last:
        cs["lastState"] = {"terminated": last}
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    if scheduled:
        conditions.append(scheduled)
    return {"kind": "Pod",
            "metadata": {"name": "api-0", "uid": uid, "labels": labels("api"), "creationTimestamp": stamp(created)},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Pending" if waiting or scheduled else "Running", "conditions": conditions,
                       "containerStatuses": [] if scheduled else [cs]}}


def one(pod_obj, events=(), **options):
    opts = dict(OPTS, **options)
    findings = hc.pod_findings(pod_obj, NOW, opts, list(events))
    assert len(findings) == 1, [f.text() for f in findings]
    return findings[0]


@pytest.mark.parametrize("seconds, message, terminal", [
    (10, "0/1 nodes are available: 1 Insufficient cpu.", False),
    (45, "0/1 nodes are available: 1 Insufficient cpu.", True),
    (300, "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.", False),
])
def test_unschedulable_is_terminal_past_the_grace_unless_a_claim_holds_it(seconds, message, terminal):
    cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastTransitionTime": stamp(seconds)}
    finding = one(pod(scheduled=cond, created=seconds))
    assert (finding.reason, finding.terminal) == (hc.UNSCHEDULABLE, terminal)
    assert finding.message == message


MOUNT = 'MountVolume.SetUp failed for volume "creds" : secret "api-creds" not found'


@pytest.mark.parametrize("created, uid, reason, terminal", [
    (10, "p-1", hc.FAILED_MOUNT, False),
    (45, "p-1", hc.FAILED_MOUNT, True),
    (45, "p-0", hc.CONTAINER_CREATING, False),  # the event is about an earlier pod of that name
])
def test_container_creating_names_the_mount_failure(created, uid, reason, terminal):
    events = [event("Pod", "api-0", "FailedMount", MOUNT, first=8, last=2, uid="p-1")]
    finding = one(pod(waiting={"reason": "ContainerCreating"}, created=created, uid=uid), events)
    assert (finding.reason, finding.terminal) == (reason, terminal)
    if reason == hc.FAILED_MOUNT:
        assert 'secret "api-creds" not found' in finding.message


def test_sandbox_failure_is_named():
    events = [event("Pod", "api-0", "FailedCreatePodSandBox", "Failed to create pod sandbox: plugin type=bridge failed", uid="p-1")]
    finding = one(pod(waiting={"reason": "ContainerCreating"}, created=60), events)
    assert (finding.reason, finding.terminal) == (hc.FAILED_CREATE_POD_SANDBOX, True)


NOT_FOUND = ('Failed to pull image "localhost/genai-stack-test/redis:9.9.9": rpc error: code = NotFound desc = failed to '
             'pull and unpack image "localhost/genai-stack-test/redis:9.9.9": not found')
REFUSED = ('Failed to pull image "registry.example:5000/app:1": failed to do request: Head "https://registry.example:5000/v2/": '
           'dial tcp 10.0.0.1:5000: connect: connection refused')


@pytest.mark.parametrize("waiting, pulls, terminal", [
    ({"reason": "ErrImagePull", "message": NOT_FOUND}, [], True),  # definitive: at once
    ({"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}, [(4, NOT_FOUND)], True),
    ({"reason": "ErrImagePull", "message": REFUSED}, [(10, REFUSED)], False),
    ({"reason": "ImagePullBackOff", "message": 'Back-off pulling image "x"'}, [(70, "Error: ErrImagePull")], True),
])
def test_image_pull_errors(waiting, pulls, terminal):
    events = [event("Pod", "api-0", "Failed", text, first=ago, uid="p-1", type_="Warning") for ago, text in pulls]
    finding = one(pod(waiting=waiting, created=600), events)
    assert finding.terminal is terminal
    if pulls:
        assert finding.message.endswith(pulls[-1][1][:200])


def test_a_pull_refused_for_want_of_its_pull_secret_names_the_secret():
    denied = ('Failed to pull image "registry.example:5000/app:1": failed to authorize: failed to fetch anonymous token: '
              'unexpected status from GET request to https://registry.example:5000/token: 401 Unauthorized')
    events = [event("Pod", "api-0", "FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets "
                    "(regcred); attempting to pull the image may not succeed.", first=6, uid="p-1"),
              event("Pod", "api-0", "Failed", denied, first=5, uid="p-1")]
    finding = one(pod(waiting={"reason": "ErrImagePull", "message": denied}, created=600), events)
    assert finding.terminal is True and "Unable to retrieve some image pull secrets (regcred)" in finding.message


def test_a_second_failed_pull_is_terminal():
    """The kubelet retries about 10 s after the first failure; failing again ends the wait."""
    retried = event("Pod", "api-0", "Failed", REFUSED, first=12, last=1, uid="p-1")
    retried["count"] = 2
    assert one(pod(waiting={"reason": "ErrImagePull", "message": REFUSED}, created=600), [retried]).terminal is True


def test_image_pull_grace_counts_from_the_first_failed_pull_not_the_pod_age():
    """A 10-minute pull of a large image that then fails once is not terminal at once."""
    events = [event("Pod", "api-0", "Failed", REFUSED, first=3, uid="p-1")]
    assert one(pod(waiting={"reason": "ErrImagePull", "message": REFUSED}, created=600), events).terminal is False


@pytest.mark.parametrize("reason, terminal", [
    ("ErrImageNeverPull", True), ("InvalidImageName", True), ("PreStartHookError", True),
    ("CreateContainerConfigError", False),  # within the grace period (pod 10 s old)
])
def test_waiting_reasons_ending_the_wait(reason, terminal):
    finding = one(pod(waiting={"reason": reason, "message": "details"}, created=10))
    assert finding.terminal is terminal
    assert finding.reason in hc.REASONS
    if reason == "PreStartHookError":
        assert finding.reason == hc.CONTAINER_ERROR and "PreStartHookError" in finding.message


CRASHED = {"exitCode": 1, "reason": "Error", "finishedAt": stamp(20)}


def test_crash_loop_the_container_caused_is_terminal():
    finding = one(pod(waiting={"reason": "CrashLoopBackOff"}, restarts=3, last=CRASHED))
    assert (finding.reason, finding.terminal) == (hc.CRASH_LOOP_BACKOFF, True)


def test_restarts_from_a_node_or_sandbox_restart_are_not_a_crash_loop():
    unknown = {"exitCode": 255, "reason": "Unknown", "finishedAt": stamp(20)}
    finding = one(pod(waiting={"reason": "CrashLoopBackOff"}, restarts=5, last=unknown))
    assert finding.terminal is False and "sandbox" in finding.message
    sandbox = [event("Pod", "api-0", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.", first=25,
                     uid="p-1", type_="Normal")]
    assert one(pod(waiting={"reason": "CrashLoopBackOff"}, restarts=5, last=CRASHED), sandbox).terminal is False


def test_liveness_kills_are_named_and_not_a_crash_loop():
    events = [event("Pod", "api-0", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", uid="p-1"),
              event("Pod", "api-0", "Killing", "Container app failed liveness probe, will be restarted", first=22,
                    uid="p-1", type_="Normal")]
    killed = {"exitCode": 137, "reason": "Error", "finishedAt": stamp(20)}
    finding = one(pod(waiting={"reason": "CrashLoopBackOff"}, restarts=4, last=killed), events)
    assert (finding.reason, finding.terminal) == (hc.LIVENESS_PROBE_FAILING, False)
    assert "statuscode: 500" in finding.message


@pytest.mark.parametrize("started, ready", [(10, False), (120, True)])
def test_a_pod_that_became_ready_then_crashed_is_not_healthy_yet(started, ready):
    last = {"exitCode": 1, "reason": "Error", "finishedAt": stamp(started + 40)}  # after a 40 s back-off
    restarted = pod(ready=True, restarts=3, last=last)
    restarted["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = stamp(started)
    findings = hc.pod_findings(restarted, NOW, OPTS, [])
    assert (findings == []) is ready
    if not ready:
        assert findings[0].reason == hc.RESTARTED_RECENTLY


# --------------------------------------------------------------------------------------------
# claims, deletion, missing components


def pvc(created=60, deleting=None):
    obj = {"kind": "PersistentVolumeClaim",
           "metadata": {"name": "data-redis-0", "uid": "c-1", "labels": labels("redis"), "creationTimestamp": stamp(created)},
           "status": {"phase": "Pending"}}
    if deleting is not None:
        obj["metadata"]["deletionTimestamp"] = stamp(deleting)
        obj["metadata"]["finalizers"] = ["kubernetes.io/pvc-protection"]
        obj["status"]["phase"] = "Bound"
    return obj


def test_missing_storage_class_is_terminal_at_once():
    events = [event("PersistentVolumeClaim", "data-redis-0", "ProvisioningFailed",
                    'storageclass.storage.k8s.io "does-not-exist" not found', first=2, uid="c-1")]
    finding = hc.pvc_findings(pvc(created=3), events, NOW, OPTS)[0]
    assert (finding.reason, finding.terminal) == (hc.PROVISIONING_FAILED, True)
    assert '"does-not-exist" not found' in finding.message


@pytest.mark.parametrize("created, terminal", [(10, False), (60, True)])
def test_no_storage_class_at_all_is_terminal_past_the_grace(created, terminal):
    events = [event("PersistentVolumeClaim", "data-redis-0", "FailedBinding",
                    "no persistent volumes available for this claim and no storage class is set", uid="c-1", type_="Normal")]
    finding = hc.pvc_findings(pvc(created=created), events, NOW, OPTS)[0]
    assert (finding.reason, finding.terminal) == (hc.PVC_PENDING, terminal)


@pytest.mark.parametrize("deleting, terminal", [(5, False), (60, True)])
def test_an_object_being_deleted_is_named(deleting, terminal):
    sts = statefulset(replicas=1)
    sts["status"].update(readyReplicas=1, availableReplicas=1, updatedReplicas=1, currentReplicas=1)
    report = hc.evaluate({"StatefulSet": [sts], "PersistentVolumeClaim": [pvc(deleting=deleting)]}, NOW, options=OPTS)
    comp = report["components"][0]
    assert (comp["reason"], comp["terminal"]) == (hc.OBJECT_DELETING, terminal)
    assert "pvc-protection" in comp["message"]


def test_a_component_going_away_as_a_whole_is_not_reported():
    report = hc.evaluate({"PersistentVolumeClaim": [pvc(deleting=60)]}, NOW, options=OPTS)
    assert report["components"] == []


def test_a_named_component_with_no_object_is_terminal():
    report = hc.evaluate({"StatefulSet": [statefulset(replicas=1)]}, NOW, options=dict(OPTS, components=["redis", "qdrant"]))
    comps = {c["name"]: c for c in report["components"]}
    assert (comps["qdrant"]["reason"], comps["qdrant"]["terminal"]) == (hc.COMPONENT_NOT_FOUND, True)


# --------------------------------------------------------------------------------------------
# Ingress: an address from a controller, TLS Secrets


def ingress(created=10, address=False, tls=False):
    obj = {"kind": "Ingress",
           "metadata": {"name": "genai", "labels": labels("genai"), "creationTimestamp": stamp(created)},
           "spec": {"ingressClassName": "nginx", "rules": []}, "status": {"loadBalancer": {}}}
    if address:
        obj["status"]["loadBalancer"]["ingress"] = [{"ip": "10.0.0.9"}]
    if tls:
        obj["spec"]["tls"] = [{"hosts": ["api.genai.local"], "secretName": "genai-tls"}]
    return obj


@pytest.mark.parametrize("created, reason", [(10, hc.INGRESS_ADDRESS_PENDING), (90, hc.NO_INGRESS_CONTROLLER)])
def test_ingress_without_an_address(created, reason):
    findings = hc.ingress_findings(ingress(created=created), [], [], NOW, OPTS)
    assert [(f.reason, f.terminal) for f in findings] == [(reason, False)]
    assert "class nginx" in findings[0].message


NOT_READY_CERT = {"metadata": {"name": "genai-tls"}, "status": {"conditions": [
    {"type": "Ready", "status": "False", "reason": "Issuing", "message": "Issuing certificate as Secret does not exist"}]}}


@pytest.mark.parametrize("certificate, words", [
    (NOT_READY_CERT, "Certificate genai-tls: Ready=False Issuing: Issuing certificate as Secret does not exist"),
    (None, "no cert-manager Certificate of that name"),
    ("unverified", "Certificate unverified"),
])
def test_missing_tls_secret_names_the_secret_and_the_certificate(certificate, words):
    tls = {"genai-tls": {"exists": False, "certificate": certificate}}
    findings = hc.ingress_findings(ingress(address=True, tls=True), [], [], NOW, OPTS, tls)
    assert [f.reason for f in findings] == [hc.TLS_SECRET_MISSING]
    assert "TLS Secret genai-tls does not exist" in findings[0].message and words in findings[0].message


@pytest.mark.parametrize("exists", [True, None])  # present, or not readable (403): never a failure
def test_tls_secret_present_or_unknown_is_not_a_finding(exists):
    tls = {"genai-tls": {"exists": exists, "certificate": None}}
    assert hc.ingress_findings(ingress(address=True, tls=True), [], [], NOW, OPTS, tls) == []


# --------------------------------------------------------------------------------------------
# HPA metrics


def hpa(current=None, created=300, active=None):
    obj = {"kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "api", "labels": labels("api"), "creationTimestamp": stamp(created)},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "api"},
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 80}}}]},
           "status": {"conditions": [active] if active else []}}
    if current is not None:
        obj["status"]["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": current, "averageValue": "12m"}}}]
    return obj


def test_hpa_report_shows_current_metric_against_target():
    assert hc.hpa_metric_texts(hpa(current=12)) == ["cpu 12% (target 80%)"]
    report = hc.evaluate({"HorizontalPodAutoscaler": [hpa(current=12)], "Deployment": [dict(
        deployment(ready=1), status={"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1,
                                     "availableReplicas": 1})]}, NOW, options=OPTS)
    comp = report["components"][0]
    assert comp["ready"] and comp["metrics"] == ["api: cpu 12% (target 80%)"]
    assert [o["message"] for o in comp["objects"] if o["kind"] == "HorizontalPodAutoscaler"] == ["cpu 12% (target 80%)"]


INACTIVE = {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
            "message": "unable to get metrics for resource cpu", "lastTransitionTime": stamp(200)}


@pytest.mark.parametrize("metrics_api, created, unready", [
    (True, 300, True),    # metrics-server is there and the HPA has had no metric for 200 s
    (True, 30, False),    # within the grace period
    (False, 300, False),  # no metrics-server: a warning only
])
def test_hpa_without_metrics(metrics_api, created, unready):
    findings, warnings = hc.hpa_findings(hpa(created=created, active=INACTIVE), {("Deployment", "api")}, NOW, OPTS, metrics_api)
    assert bool(findings) is unready
    texts = [f.reason for f in findings + warnings]
    assert hc.METRICS_UNAVAILABLE in texts


# --------------------------------------------------------------------------------------------
# progress and the wait


def test_progress_line_names_ready_and_waiting_components_with_reason_and_duration():
    ready_api = deployment(ready=1)
    ready_api["status"].update(updatedReplicas=1, readyReplicas=1, availableReplicas=1)
    waiting = pod(waiting={"reason": "ContainerCreating"}, created=12)
    waiting["metadata"]["labels"] = labels("ai")
    waiting["metadata"]["name"] = "ai-0"
    ai = statefulset()
    ai["metadata"]["name"] = "ai"
    ai["metadata"]["labels"] = labels("ai")
    report = hc.evaluate({"Deployment": [ready_api], "StatefulSet": [ai], "Pod": [waiting]}, NOW, options=OPTS)
    assert hc.progress_line(report) == "[backend] ready: api | not ready: ai (ContainerCreating 12s)"
    assert hc.progress_line(report, "datastores").startswith("[datastores] ready: api")


class FakeApi(object):
    def __init__(self, objects_by_poll):
        self.objects_by_poll = objects_by_poll
        self.polls = 0

    def list_items(self, path, label_selector=None, missing_ok=True):
        if path.endswith("/deployments"):
            self.polls += 1
        kind = {p.split("{namespace}")[1]: k for k, p in hc.LIST_PATHS}.get("/" + path.rsplit("/", 1)[1])
        objects = self.objects_by_poll[min(self.polls, len(self.objects_by_poll)) - 1]
        return objects.get(kind, []) if kind else []

    def request(self, path, query=None, timeout=None):
        return 404, b""


class Clock(object):
    def __init__(self):
        self.now = NOW
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_one_wait_prints_progress_every_interval_until_healthy():
    starting = deployment(ready=0)
    done = deployment(ready=1)
    done["status"].update(updatedReplicas=1, readyReplicas=1, availableReplicas=1)
    api = FakeApi([{"Deployment": [starting]}] * 12 + [{"Deployment": [done]}])
    clock, lines = Clock(), []
    params = {"namespace": "demo", "label_selectors": [], "wait": True, "wait_timeout": 600, "wait_sleep": 2,
              "progress_interval": 10, "http": True, "allow_empty": False, "components": []}
    result = hc.wait(api, params, progress=lines.append, clock=clock.time, sleep=clock.sleep)
    assert result["healthy"] is True and api.polls == 13
    assert lines == ["[backend] ready: none | not ready: api (not ready)"] * 2


def test_a_restarted_pod_keeps_its_component_unready_although_the_workload_counts_it_ready():
    dep = deployment(ready=1)
    dep["status"].update(updatedReplicas=1, readyReplicas=1, availableReplicas=1)
    restarted = pod(ready=True, restarts=2, last={"exitCode": 1, "reason": "Error", "finishedAt": stamp(30)})
    restarted["status"]["containerStatuses"][0]["state"]["running"]["startedAt"] = stamp(5)
    report = hc.evaluate({"Deployment": [dep], "Pod": [restarted]}, NOW, options=OPTS)
    assert report["healthy"] is False
    assert report["components"][0]["reason"] == hc.RESTARTED_RECENTLY

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness rules of genai.stack.health, as plain functions over API object dicts, and the wait.

The rules (``evaluate()`` and the per-kind functions) never talk to the cluster: the objects
are the API's JSON (camelCase, as ``kubectl get -o json`` prints them), so they are unit-tested
on recorded object shapes. ``poll()`` and ``wait()`` at the end list each kind once per poll
(``LIST_PATHS``) through an ``api`` object handed in (``k8s_client.K8sApi`` or a test fake) and
hand the lists to ``evaluate()``; the module and its action plugin both call ``wait()``.

The report has one entry per component (objects grouped by the ``app.kubernetes.io/name``
label), dependencies first. Every ``reason`` it holds is one of ``REASONS`` (the README lists
them; a unit test keeps the two equal). A failure that waiting cannot fix is ``terminal`` and
ends the wait at once; the rules and grace periods, and the anchors they follow (kstatus,
Argo CD health, kapp), are described with each function.

Nothing from a pod's env, a ConfigMap or a Secret is ever copied into the report; a TLS
Secret is only asked whether it exists (the HTTP status of a GET, never its body).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import time
from collections import OrderedDict

NAME_LABEL = "app.kubernetes.io/name"
TIER_LABEL = "app.kubernetes.io/component"
NEEDS_ANNOTATION = "genai.stack/needs"
HEALTH_PATH_ANNOTATION = "genai.stack/health-path"
HEALTH_PORT_ANNOTATION = "genai.stack/health-port"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

# kind -> list path (namespace filled in); listed once per poll with the label selector.
LIST_PATHS = (
    ("Deployment", "/apis/apps/v1/namespaces/{namespace}/deployments"),
    ("ReplicaSet", "/apis/apps/v1/namespaces/{namespace}/replicasets"),
    ("StatefulSet", "/apis/apps/v1/namespaces/{namespace}/statefulsets"),
    ("DaemonSet", "/apis/apps/v1/namespaces/{namespace}/daemonsets"),
    ("Job", "/apis/batch/v1/namespaces/{namespace}/jobs"),
    ("CronJob", "/apis/batch/v1/namespaces/{namespace}/cronjobs"),
    ("Pod", "/api/v1/namespaces/{namespace}/pods"),
    ("PersistentVolumeClaim", "/api/v1/namespaces/{namespace}/persistentvolumeclaims"),
    ("Service", "/api/v1/namespaces/{namespace}/services"),
    ("EndpointSlice", "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices"),
    ("Ingress", "/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses"),
    ("HorizontalPodAutoscaler", "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"),
)
LIST_PATH = dict(LIST_PATHS)
EVENTS_PATH = "/api/v1/namespaces/{namespace}/events"
SECRET_PATH = "/api/v1/namespaces/{namespace}/secrets/{name}"
CERTIFICATE_PATH = "/apis/cert-manager.io/v1/namespaces/{namespace}/certificates/{name}"
METRICS_APISERVICE_PATH = "/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job")
# The kind a component is reported as: its first workload kind, else the first object kind.
PRIMARY_ORDER = WORKLOAD_KINDS + ("Ingress", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "Pod")
# Which finding explains a component best when several objects fail (terminal ones first).
EXPLAIN_ORDER = ("Component", "PersistentVolumeClaim", "Pod", "Job", "Deployment", "StatefulSet", "DaemonSet",
                 "CronJob", "Service", "HTTP", "Ingress", "HorizontalPodAutoscaler")

# --------------------------------------------------------------------------------------------
# reasons: every value a finding's `reason` can take (Kubernetes' own word where it has one)

OBJECT_DELETING = "being deleted"
COMPONENT_NOT_FOUND = "not found"
ROLLOUT_PENDING = "rollout pending"
ROLLOUT_IN_PROGRESS = "rollout in progress"
NOT_READY = "not ready"
PAUSED = "paused"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
FAILED_CREATE = "FailedCreate"
JOB_FAILED = "Job failed"
JOB_RUNNING = "Job running"
JOB_SUSPENDED = "Job suspended"
CRONJOB_SUSPENDED = "CronJob suspended"
CRONJOB_LAST_RUN_FAILED = "last Job failed"
CRONJOB_SCHEDULED_RUN_FAILED = "scheduled run failed"
POD_FAILED = "pod failed"
UNSCHEDULABLE = "Unschedulable"
IMAGE_PULL_BACKOFF = "ImagePullBackOff"
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
REGISTRY_UNAVAILABLE = "RegistryUnavailable"
SIGNATURE_VALIDATION_FAILED = "SignatureValidationFailed"
INVALID_IMAGE_NAME = "InvalidImageName"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"
CONTAINER_ERROR = "container error"
CRASH_LOOP_BACKOFF = "CrashLoopBackOff"
RESTARTED_RECENTLY = "restarted recently"
LIVENESS_PROBE_FAILING = "liveness probe failing"
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
FAILED_MOUNT = "FailedMount"
FAILED_ATTACH_VOLUME = "FailedAttachVolume"
FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"
CONTAINER_WAITING = "container waiting"
CONTAINER_EXITED = "container exited"
INITIALIZING = "initializing"
STARTUP_PROBE_PENDING = "startup probe pending"
READINESS_PROBE_FAILING = "readiness probe failing"
RESTARTS = "restarts"
PVC_PENDING = "PVC Pending"
PVC_LOST = "PVC Lost"
PROVISIONING_FAILED = "ProvisioningFailed"
NO_ENDPOINTS = "no endpoints"
HTTP_FAILING = "HTTP health check failing"
BACKEND_MISSING = "backend missing"
BACKEND_PORT_MISSING = "backend port missing"
BACKEND_NO_ENDPOINTS = "backend has no endpoints"
INGRESS_ADDRESS_PENDING = "waiting for ingress controller"
NO_INGRESS_CONTROLLER = "no ingress controller"
TLS_SECRET_MISSING = "TLS Secret missing"
HPA_TARGET_MISSING = "scale target missing"
HPA_CANNOT_SCALE = "HPA cannot scale"
METRICS_UNAVAILABLE = "metrics unavailable"
SCALING_INACTIVE = "ScalingActive False"

# reason -> (when it ends the wait, what it means). The README's table of health reasons is
# generated from this (tests/unit/plugins/test_health_reasons.py keeps them equal).
REASONS = OrderedDict((
    (COMPONENT_NOT_FOUND, ("at once", "a component named in `components` has no selected object")),
    (OBJECT_DELETING, ("after `stuck_grace_period`", "an object of a component that still has live objects carries a deletionTimestamp (finalizers hold it)")),
    (ROLLOUT_PENDING, ("never", "the controller has not observed the latest generation yet")),
    (ROLLOUT_IN_PROGRESS, ("never", "new replicas are ready, old ones are still being replaced")),
    (NOT_READY, ("never", "fewer replicas/pods ready than wanted, or a running pod not ready, with no better explanation")),
    (PAUSED, ("never", "the Deployment's rollout is paused")),
    (PROGRESS_DEADLINE_EXCEEDED, ("at once", "Deployment condition Progressing=False of the observed generation "
                                             "(a stale one from a previous generation is ignored)")),
    (FAILED_CREATE, ("at once for PodSecurity, else after `stuck_grace_period`",
                     "the controller cannot create pods (StatefulSet/Job events, current ReplicaSet's ReplicaFailure): "
                     "PodSecurity, quota, admission; a webhook outage only waits")),
    (JOB_FAILED, ("at once", "Job condition Failed or FailureTarget (BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy)")),
    (JOB_RUNNING, ("never", "the Job has not completed yet")),
    (JOB_SUSPENDED, ("never", "the Job is suspended")),
    (CRONJOB_SUSPENDED, ("warning only", "the CronJob is suspended")),
    (CRONJOB_LAST_RUN_FAILED, ("warning only", "the newest Job of the CronJob failed")),
    (CRONJOB_SCHEDULED_RUN_FAILED, ("warning only", "a pod of a scheduled run has a terminal failure")),
    (POD_FAILED, ("never", "pod phase Failed (Evicted, node shutdown); its controller replaces it")),
    (UNSCHEDULABLE, ("after `stuck_grace_period`", "PodScheduled=False (insufficient resources, taints, affinity); not when only an unbound PVC holds it")),
    (IMAGE_PULL_BACKOFF, ("at once when the registry says the image does not exist or access is denied, else when "
                          "the kubelet's retry failed too or after `pull_grace_period` from the first failed pull",
                          "the image cannot be pulled")),
    (ERR_IMAGE_PULL, ("as ImagePullBackOff", "the image cannot be pulled")),
    (ERR_IMAGE_NEVER_PULL, ("at once", "imagePullPolicy Never and the image is not on the node")),
    (REGISTRY_UNAVAILABLE, ("as ImagePullBackOff, never at once", "the registry does not answer")),
    (SIGNATURE_VALIDATION_FAILED, ("at once", "the image signature is refused")),
    (INVALID_IMAGE_NAME, ("at once", "the image reference is not valid")),
    (CREATE_CONTAINER_CONFIG_ERROR, ("after `stuck_grace_period`", "a Secret/ConfigMap key the container needs is missing")),
    (CREATE_CONTAINER_ERROR, ("after `stuck_grace_period`", "the runtime cannot create the container")),
    (RUN_CONTAINER_ERROR, ("after `stuck_grace_period`", "the runtime cannot start the container (command not found...)")),
    (CONTAINER_ERROR, ("at once", "any other waiting reason ending in `Error` (PreStartHookError, ImageInspectError...), named in the message")),
    (CRASH_LOOP_BACKOFF, ("after `crash_loop_restarts` restarts the container caused itself", "the container keeps exiting")),
    (RESTARTED_RECENTLY, ("never", "ready, but restarted after an error less than 30 s ago (a pod that becomes ready then crashes is not healthy)")),
    (LIVENESS_PROBE_FAILING, ("never", "restarted by its liveness probe (not counted as a crash loop)")),
    (CONTAINER_CREATING, ("never", "the container is being created")),
    (POD_INITIALIZING, ("never", "init containers are running")),
    (FAILED_MOUNT, ("after `stuck_grace_period`", "ContainerCreating: a volume cannot be mounted (a missing Secret or ConfigMap)")),
    (FAILED_ATTACH_VOLUME, ("after `stuck_grace_period`", "ContainerCreating: a volume cannot be attached")),
    (FAILED_CREATE_POD_SANDBOX, ("after `stuck_grace_period`", "ContainerCreating: the pod sandbox (network) cannot be created")),
    (CONTAINER_WAITING, ("never", "any other waiting reason, named in the message")),
    (CONTAINER_EXITED, ("never", "the container exited and was not restarted")),
    (INITIALIZING, ("never", "an init container is still running (waiting for its dependencies?)")),
    (STARTUP_PROBE_PENDING, ("never", "the startup probe has not passed yet")),
    (READINESS_PROBE_FAILING, ("never", "the readiness probe fails (the kubelet's message)")),
    (RESTARTS, ("warning only", "a ready container restarted at least `crash_loop_restarts` times")),
    (PVC_PENDING, ("after `stuck_grace_period` when no StorageClass is set and none is default", "the claim is not bound (the latest provisioning event)")),
    (PVC_LOST, ("at once", "the claim lost its volume")),
    (PROVISIONING_FAILED, ("at once", "the claim's StorageClass does not exist")),
    (NO_ENDPOINTS, ("never", "a Service with a selector has no ready endpoint")),
    (HTTP_FAILING, ("never", "the health path answers non-2xx through the API server's service proxy")),
    (BACKEND_MISSING, ("never", "an Ingress backend names a Service that does not exist")),
    (BACKEND_PORT_MISSING, ("never", "an Ingress backend names a port its Service does not have")),
    (BACKEND_NO_ENDPOINTS, ("never", "an Ingress backend Service has no ready endpoint")),
    (INGRESS_ADDRESS_PENDING, ("never", "no controller has given the Ingress an address yet (within `ingress_grace_period`)")),
    (NO_INGRESS_CONTROLLER, ("never", "no controller admitted the Ingress after `ingress_grace_period` (names the class)")),
    (TLS_SECRET_MISSING, ("never", "a Secret named in spec.tls does not exist (names the Secret and the cert-manager Certificate's Ready condition)")),
    (HPA_TARGET_MISSING, ("never", "the HPA's scaleTargetRef does not exist")),
    (HPA_CANNOT_SCALE, ("never", "HPA condition AbleToScale=False (FailedGetScale, FailedUpdateScale)")),
    (METRICS_UNAVAILABLE, ("never", "no current metric after `metrics_grace_period` while metrics-server's APIService "
                                    "exists (a warning without metrics-server)")),
    (SCALING_INACTIVE, ("warning only", "HPA condition ScalingActive=False")),
))

PULL_ERRORS = (IMAGE_PULL_BACKOFF, ERR_IMAGE_PULL, REGISTRY_UNAVAILABLE)
CONFIG_ERRORS = (CREATE_CONTAINER_CONFIG_ERROR, CREATE_CONTAINER_ERROR, RUN_CONTAINER_ERROR)
IMMEDIATE_TERMINAL = (INVALID_IMAGE_NAME, ERR_IMAGE_NEVER_PULL, SIGNATURE_VALIDATION_FAILED)
STARTING = (CONTAINER_CREATING, POD_INITIALIZING)
STUCK_CREATING_EVENTS = (FAILED_MOUNT, FAILED_ATTACH_VOLUME, FAILED_CREATE_POD_SANDBOX)
# Words of a registry's answer that say waiting will not help (the image or tag does not exist,
# or access is refused), as containerd and CRI-O report them.
DEFINITIVE_PULL_WORDS = ("not found", "manifest unknown", "does not exist", "unauthorized", "denied",
                         "no such host", "invalid reference format", "name unknown")
PULL_ATTEMPTS = 2  # failed pulls of one pod (the first and the kubelet's retry after back-off)
RECENT_CRASH_SECONDS = 30

DEFAULT_OPTIONS = {
    "components": [],             # report only these component names (missing ones fail as "not found")
    "pull_grace_period": 60,      # seconds image pull errors may last before terminal
    "stuck_grace_period": 30,     # seconds Unschedulable, FailedCreate, FailedMount, ... may last
    "crash_loop_restarts": 3,     # CrashLoopBackOff with at least this many restarts is terminal
    "ingress_grace_period": 60,   # seconds an Ingress may wait for an address before "no ingress controller"
    "metrics_grace_period": 120,  # seconds an HPA may lack metrics before "metrics unavailable"
}


# --------------------------------------------------------------------------------------------
# small helpers


def meta(obj):
    return obj.get("metadata") or {}


def name_of(obj):
    return meta(obj).get("name", "")


def labels_of(obj):
    return meta(obj).get("labels") or {}


def annotations_of(obj):
    return meta(obj).get("annotations") or {}


def component_of(obj):
    """The component an object belongs to: its name label, else its own name."""
    return labels_of(obj).get(NAME_LABEL) or name_of(obj)


def needs_of(obj):
    raw = annotations_of(obj).get(NEEDS_ANNOTATION) or ""
    return [n.strip() for n in raw.split(",") if n.strip()]


def conditions_of(obj):
    return {c.get("type"): c for c in ((obj.get("status") or {}).get("conditions") or [])}


def condition_true(obj, kind):
    return (conditions_of(obj).get(kind) or {}).get("status") == "True"


def parse_time(value):
    """RFC 3339 API timestamp -> epoch seconds (None when absent or unreadable)."""
    if not value:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("Z", "").split(".", maxsplit=1)[0].split("+", maxsplit=1)[0]
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def created_at(obj):
    return parse_time(meta(obj).get("creationTimestamp"))


def owners(obj, kind=None):
    refs = meta(obj).get("ownerReferences") or []
    return [r for r in refs if kind is None or r.get("kind") == kind]


def short(text, limit=300):
    return (text or "")[:limit]


class Finding(object):
    """Why one object is not ready (or a warning about it).

    ``reason`` is one of ``REASONS``; ``since`` (epoch seconds or None) is when the state began,
    for progress lines ("ContainerCreating 12s").
    """

    __slots__ = ("kind", "name", "reason", "message", "terminal", "since")

    def __init__(self, kind, name, reason, message="", terminal=False, since=None):
        self.kind = kind
        self.name = name
        self.reason = reason
        self.message = message
        self.terminal = terminal
        self.since = since

    def text(self):
        return "{0} ({1})".format(self.reason, self.message) if self.message else self.reason

    def rank(self):
        order = EXPLAIN_ORDER.index(self.kind) if self.kind in EXPLAIN_ORDER else len(EXPLAIN_ORDER)
        return (not self.terminal, order)


# --------------------------------------------------------------------------------------------
# events


def event_first(event):
    return parse_time(event.get("firstTimestamp") or event.get("eventTime") or meta(event).get("creationTimestamp"))


def event_last(event):
    series = event.get("series") or {}
    return parse_time(event.get("lastTimestamp") or series.get("lastObservedTime") or event.get("eventTime")
                      or meta(event).get("creationTimestamp"))


def events_of(events, kind, obj, reasons=None):
    """The events about ``obj`` (matched by kind, name and, when both carry it, uid), oldest first."""
    name, uid = name_of(obj), meta(obj).get("uid")
    found = []
    for event in events or []:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") != kind or involved.get("name") != name:
            continue
        if uid and involved.get("uid") and involved.get("uid") != uid:
            continue  # an earlier object of the same name (a StatefulSet pod re-created)
        if reasons is not None and event.get("reason") not in reasons:
            continue
        found.append(event)
    return sorted(found, key=lambda e: event_last(e) or 0)


def latest_event(events, kind, obj_or_name, reasons):
    obj = obj_or_name if isinstance(obj_or_name, dict) else {"metadata": {"name": obj_or_name}}
    found = events_of(events, kind, obj, reasons)
    return found[-1] if found else None


# --------------------------------------------------------------------------------------------
# per-kind rules; each returns a list of Findings (empty = ready)


def desired_replicas(obj):
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def deleting_finding(kind, obj, now, options):
    """An object with a deletionTimestamp: not ready, terminal once it outlasts the grace period."""
    stamp = meta(obj).get("deletionTimestamp")
    if not stamp:
        return None
    since = parse_time(stamp)
    finalizers = meta(obj).get("finalizers") or []
    message = "{0} {1} is being deleted{2}".format(
        kind, name_of(obj), " (finalizers: {0})".format(", ".join(finalizers)) if finalizers else "")
    terminal = since is not None and now - since >= options["stuck_grace_period"]
    return Finding(kind, name_of(obj), OBJECT_DELETING, message, terminal=terminal, since=since)


def failed_create_finding(kind, name, message, since, now, options):
    """Pods refused at creation: PodSecurity at once, webhook outages never, the rest after grace."""
    text = short(message)
    if "violates PodSecurity" in text:
        terminal = True
    elif "failed calling webhook" in text:
        terminal = False
    else:
        terminal = since is not None and now - since >= options["stuck_grace_period"]
    return Finding(kind, name, FAILED_CREATE, text, terminal=terminal, since=since)


def current_replicaset(deployment, replicasets):
    """The ReplicaSet of the Deployment's current revision (None when not listed)."""
    revision = annotations_of(deployment).get(REVISION_ANNOTATION)
    uid = meta(deployment).get("uid")
    for rs in replicasets or []:
        refs = owners(rs, "Deployment")
        if not any(r.get("name") == name_of(deployment) and (not uid or not r.get("uid") or r.get("uid") == uid)
                   for r in refs):
            continue
        if revision is not None and annotations_of(rs).get(REVISION_ANNOTATION) == revision:
            return rs
    return None


def deployment_findings(obj, replicasets=None, now=None, options=None):
    """Rollout of a Deployment.

    The generation is checked first: a ProgressDeadlineExceeded condition left from the previous
    generation (observedGeneration < generation) must not end the wait of a corrective apply
    (kubectl rollout status, Argo CD and kstatus gate it the same way). Pods refused at creation
    are read from the ReplicaSet of the current revision only: the Deployment's own ReplicaFailure
    condition also carries failures of old ReplicaSets.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    name, want = name_of(obj), desired_replicas(obj)
    generation = meta(obj).get("generation") or 0
    if (status.get("observedGeneration") or 0) < generation:
        return [Finding("Deployment", name, ROLLOUT_PENDING, "generation {0} not observed yet".format(generation))]
    cond = conditions_of(obj)
    progressing = cond.get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return [Finding("Deployment", name, PROGRESS_DEADLINE_EXCEEDED, progressing.get("message", ""), terminal=True)]
    findings = []
    current = current_replicaset(obj, replicasets)
    if current is not None:
        failure = conditions_of(current).get("ReplicaFailure") or {}
        if failure.get("status") == "True":
            findings.append(failed_create_finding(
                "Deployment", name, "ReplicaSet {0}: {1}".format(name_of(current), failure.get("message", "")),
                parse_time(failure.get("lastTransitionTime")), now, opts))
    if spec.get("paused"):
        findings.append(Finding("Deployment", name, PAUSED, "the rollout is paused"))
    findings.extend(_replica_findings("Deployment", obj, want, [
        ("updated", status.get("updatedReplicas")),
        ("ready", status.get("readyReplicas")),
        ("available", status.get("availableReplicas")),
    ]))
    total = status.get("replicas") or 0
    if not findings and total > want:
        findings.append(Finding("Deployment", name, ROLLOUT_IN_PROGRESS,
                                "{0} old replicas still terminating".format(total - want)))
    return findings


def statefulset_findings(obj, events=None, now=None, options=None):
    """Rollout of a StatefulSet; pods it cannot create show only as FailedCreate Events on it."""
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = desired_replicas(obj)
    strategy = spec.get("updateStrategy") or {}
    counts = [("ready", status.get("readyReplicas")), ("available", status.get("availableReplicas", status.get("readyReplicas")))]
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = ((strategy.get("rollingUpdate") or {}).get("partition")) or 0
        updated = status.get("updatedReplicas") or 0
        if status.get("updateRevision") and status.get("updateRevision") == status.get("currentRevision"):
            updated = max(updated, status.get("currentReplicas") or 0)
        counts.insert(0, ("updated", updated + min(partition, want)))
    findings = _replica_findings("StatefulSet", obj, want, counts)
    if findings and (status.get("replicas") or 0) < want:
        finding = _controller_failed_create("StatefulSet", obj, events, now, opts)
        if finding:
            findings.insert(0, finding)
    return findings


def _controller_failed_create(kind, obj, events, now, options):
    """A recent FailedCreate Event on a controller (newer than the object and than 10 minutes)."""
    event = latest_event(events, kind, obj, ("FailedCreate",))
    if event is None:
        return None
    last, created = event_last(event) or 0, created_at(obj) or 0
    if last < created or now - last > 600:
        return None
    return failed_create_finding(kind, name_of(obj), event.get("message", ""), event_first(event), now, options)


def daemonset_findings(obj):
    status = obj.get("status") or {}
    want = status.get("desiredNumberScheduled") or 0
    return _replica_findings("DaemonSet", obj, want, [
        ("updated", status.get("updatedNumberScheduled")),
        ("ready", status.get("numberReady")),
        ("available", status.get("numberAvailable")),
    ], what="pods")


def _replica_findings(kind, obj, want, counts, what="replicas"):
    status = obj.get("status") or {}
    name = name_of(obj)
    generation = meta(obj).get("generation") or 0
    if (status.get("observedGeneration") or 0) < generation:
        return [Finding(kind, name, ROLLOUT_PENDING, "generation {0} not observed yet".format(generation))]
    missing = [(label, value or 0) for label, value in counts if (value or 0) < want]
    if not missing:
        return []
    ready = {label: value or 0 for label, value in counts}.get("ready", 0)
    detail = ", ".join("{0} {1}".format(value or 0, label) for label, value in counts)
    reason = ROLLOUT_IN_PROGRESS if missing[0][0] == "updated" and ready >= want else NOT_READY
    return [Finding(kind, name, reason, "{0}/{1} {2} ready ({3})".format(ready, want, what, detail))]


def job_findings(obj, events=None, now=None, options=None):
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    name = name_of(obj)
    cond = conditions_of(obj)
    status = obj.get("status") or {}
    for failed in ("Failed", "FailureTarget"):
        if (cond.get(failed) or {}).get("status") == "True":
            reason = cond[failed].get("reason") or "Failed"
            return [Finding("Job", name, JOB_FAILED, "{0}: {1}".format(reason, cond[failed].get("message", "")).rstrip(": "),
                            terminal=True)]
    if condition_true(obj, "Complete"):
        return []
    if condition_true(obj, "Suspended"):
        return [Finding("Job", name, JOB_SUSPENDED)]
    findings = []
    if not status.get("active"):
        finding = _controller_failed_create("Job", obj, events, now, opts)
        if finding:
            findings.append(finding)
    completions = (obj.get("spec") or {}).get("completions") or 1
    findings.append(Finding("Job", name, JOB_RUNNING, "{0}/{1} succeeded, {2} active, {3} failed".format(
        status.get("succeeded") or 0, completions, status.get("active") or 0, status.get("failed") or 0)))
    return findings


def cronjob_warnings(obj, jobs):
    """A CronJob is ready once it exists; suspension and a failed last run are warnings."""
    name = name_of(obj)
    warnings = []
    if (obj.get("spec") or {}).get("suspend"):
        warnings.append(Finding("CronJob", name, CRONJOB_SUSPENDED, "CronJob {0} is suspended".format(name)))
    own = [j for j in jobs if any(r.get("name") == name for r in owners(j, "CronJob"))]
    if own:
        last = max(own, key=lambda j: created_at(j) or 0)
        for finding in job_findings(last):
            if finding.terminal:
                warnings.append(Finding("CronJob", name, CRONJOB_LAST_RUN_FAILED,
                                        "Job {0}: {1}".format(name_of(last), finding.message)))
    return warnings


def pod_findings(pod, now, options, events=None):
    """Why a pod is not ready: container waiting states, crash loops, scheduling, probes.

    ``events`` are the namespace's Events; those of this pod (matched by uid) name what the
    pod's status does not say: the mount or sandbox failure behind ContainerCreating, the
    registry's answer behind ImagePullBackOff, the probe message, a liveness kill.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    if meta(pod).get("deletionTimestamp"):
        return []
    status = pod.get("status") or {}
    name = name_of(pod)
    phase = status.get("phase")
    if phase == "Succeeded":
        return []
    if phase == "Failed":
        return [Finding("Pod", name, POD_FAILED, "pod {0}: {1} {2}".format(
            name, status.get("reason") or "Failed", short(status.get("message"))).strip())]
    pod_events = events_of(events, "Pod", pod)
    created = created_at(pod) or parse_time(status.get("startTime"))
    probes = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    findings = []
    scheduled = conditions_of(pod).get("PodScheduled") or {}
    if scheduled.get("status") == "False":
        findings.append(_unschedulable(pod, scheduled, pod_events, created, now, opts))
    init_statuses = status.get("initContainerStatuses") or []
    for init, statuses in ((True, init_statuses), (False, status.get("containerStatuses") or [])):
        for cs in statuses:
            finding = _container_finding(pod, cs, init, now, opts, probes.get(cs.get("name")) or {}, pod_events, created)
            if finding:
                findings.append(finding)
    if not findings and phase == "Running" and not condition_true(pod, "Ready"):
        findings.append(Finding("Pod", name, NOT_READY, "pod conditions: " + ", ".join(
            "{0}={1}".format(t, c.get("status")) for t, c in sorted(conditions_of(pod).items()))))
    for finding in findings:
        if finding.reason in (READINESS_PROBE_FAILING, STARTUP_PROBE_PENDING, NOT_READY):
            event = _last(pod_events, ("Unhealthy",))
            if event:
                finding.message = short(event.get("message"))
    return findings


def _last(pod_events, reasons, words=()):
    for event in reversed(pod_events):
        text = event.get("message") or ""
        if event.get("reason") in reasons and all(w in text for w in words):
            return event
    return None


def _unschedulable(pod, scheduled, pod_events, created, now, options):
    """Unschedulable past the grace period is terminal (kstatus fails it after 15 s), except when
    only an unbound PersistentVolumeClaim holds the pod: the claim's own finding explains that."""
    message = scheduled.get("message") or ""
    event = _last(pod_events, ("FailedScheduling",))
    if event and event.get("message"):
        message = event["message"]
    since = parse_time(scheduled.get("lastTransitionTime")) or created
    waits_for_claim = "PersistentVolumeClaim" in message
    terminal = not waits_for_claim and since is not None and now - since >= options["stuck_grace_period"]
    return Finding("Pod", name_of(pod), UNSCHEDULABLE, short(message), terminal=terminal, since=since)


def _restarted_outside(pod_events, cname, terminated):
    """Whether the last restart of a container was caused outside it: a node or sandbox restart
    (terminated reason Unknown, a SandboxChanged event) or a kill by its liveness probe.
    Returns "", "sandbox" or "liveness"."""
    finished = parse_time(terminated.get("finishedAt")) or 0
    if terminated.get("reason") == "Unknown":
        return "sandbox"
    for event in reversed(pod_events):
        when = event_last(event) or 0
        if when < finished - 120:
            break
        text = event.get("message") or ""
        if event.get("reason") == "SandboxChanged":
            return "sandbox"
        if event.get("reason") == "Killing" and "liveness probe" in text and cname in text:
            return "liveness"
    return ""


def _crash_finding(pod, cs, where, terminated, pod_events, options):
    """A container that keeps exiting. Restart counts alone never make a crash loop: restarts
    caused outside the container (node or sandbox restart, liveness kill) are named apart and
    never end the wait."""
    pod_name, cname = name_of(pod), cs.get("name")
    restarts = cs.get("restartCount") or 0
    cause = _restarted_outside(pod_events, cname, terminated)
    if cause == "liveness":
        event = _last(pod_events, ("Unhealthy",), ("Liveness",))
        return Finding("Pod", pod_name, LIVENESS_PROBE_FAILING, "pod {0} {1} restarted {2} times by its liveness probe{3}".format(
            pod_name, where, restarts, ": " + short(event.get("message")) if event else ""))
    detail = "pod {0} {1} restarted {2} times, last exit code {3}{4}".format(
        pod_name, where, restarts, terminated.get("exitCode", "?"),
        " " + terminated["reason"] if terminated.get("reason") else "")
    if cause == "sandbox":
        return Finding("Pod", pod_name, CRASH_LOOP_BACKOFF, detail + " (restarted by a node or sandbox restart)")
    return Finding("Pod", pod_name, CRASH_LOOP_BACKOFF, detail, terminal=restarts >= options["crash_loop_restarts"])


def _pull_finding(pod, where, reason, message, pod_events, created, now, options):
    """Image pull errors: terminal at once when the registry's answer is definitive (no such
    image or tag, access denied); else once the kubelet's retry after its back-off failed too
    (PULL_ATTEMPTS failed pulls, about 10 s apart), or once failed pulls last
    ``pull_grace_period``, counted from the first failed pull (not from the pod's creation: a
    slow first pull of a large image must not make a transient error terminal at once)."""
    pod_name = name_of(pod)
    pulls = [e for e in pod_events if e.get("reason") == "Failed" and "pull" in (e.get("message") or "").lower()]
    words = (message + " " + " ".join(e.get("message") or "" for e in pulls[-3:])).lower()
    since = min([event_first(e) or now for e in pulls]) if pulls else created
    definitive = reason != REGISTRY_UNAVAILABLE and any(w in words for w in DEFINITIVE_PULL_WORDS)
    attempts = sum(int(e.get("count") or (e.get("series") or {}).get("count") or 1) for e in pulls
                   if (e.get("message") or "").startswith("Failed to pull image"))
    terminal = (definitive or attempts >= PULL_ATTEMPTS
                or (since is not None and now - since >= options["pull_grace_period"]))
    text = short(message)
    answers = [e for e in pulls if (e.get("message") or "").startswith("Failed to pull image")] or pulls
    if answers and (not message.strip() or "Back-off" in message):
        text = short(answers[-1].get("message"))  # the registry's answer, not "Back-off pulling image"
    missing = _last(pod_events, ("FailedToRetrieveImagePullSecret",))
    if missing is not None:
        # an imagePullSecret that does not exist explains a registry's "unauthorized"
        text += " ({0})".format(short(missing.get("message")))
    return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, text), terminal=terminal, since=since)


def _container_finding(pod, cs, init, now, options, container_spec, pod_events=(), created=None):
    pod_name = name_of(pod)
    cname = cs.get("name")
    where = "{0} container {1}".format("init" if init else "", cname).strip()
    state = cs.get("state") or {}
    age_ok = created is not None and now - created >= options["stuck_grace_period"]
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason") or "Waiting"
        message = short(waiting.get("message"))
        if reason == CRASH_LOOP_BACKOFF:
            last = (cs.get("lastState") or {}).get("terminated") or {}
            return _crash_finding(pod, cs, where, last, pod_events, options)
        if reason in IMMEDIATE_TERMINAL:
            return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, message), terminal=True)
        if reason in PULL_ERRORS:
            return _pull_finding(pod, where, reason, message, pod_events, created, now, options)
        if reason in CONFIG_ERRORS:
            return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, message),
                           terminal=age_ok, since=created)
        if reason.endswith("Error"):
            return Finding("Pod", pod_name, CONTAINER_ERROR, "pod {0} {1}: {2}: {3}".format(pod_name, where, reason, message),
                           terminal=True)
        if reason in STARTING:
            stuck = _last(pod_events, STUCK_CREATING_EVENTS)
            if stuck is not None and now - (event_last(stuck) or 0) <= 180:
                return Finding("Pod", pod_name, stuck.get("reason"), "pod {0}: {1}".format(pod_name, short(stuck.get("message"))),
                               terminal=age_ok, since=created)
            return Finding("Pod", pod_name, reason, "pod {0} {1}".format(pod_name, where), since=created)
        return Finding("Pod", pod_name, CONTAINER_WAITING, "pod {0} {1}: {2} {3}".format(pod_name, where, reason, message).strip())
    terminated = state.get("terminated")
    if terminated is not None:
        if init and terminated.get("exitCode") == 0:
            return None
        if not init and terminated.get("reason") == "Completed":
            return None
        if (cs.get("restartCount") or 0) > 0:
            # between two restarts of a crash loop the state is `terminated`, not `waiting`
            return _crash_finding(pod, cs, where, terminated, pod_events, options)
        return Finding("Pod", pod_name, CONTAINER_EXITED, "pod {0} {1} exited with code {2} {3}".format(
            pod_name, where, terminated.get("exitCode", "?"), terminated.get("reason") or "").strip())
    if "running" in state:
        if init:
            if cs.get("started") is False or not cs.get("ready"):
                return Finding("Pod", pod_name, INITIALIZING,
                               "pod {0} {1} is still running (waiting for its dependencies?)".format(pod_name, where))
            return None
        if cs.get("ready"):
            return _recent_crash(pod, cs, where, now, pod_events)
        if cs.get("started") is False:
            return Finding("Pod", pod_name, STARTUP_PROBE_PENDING, "pod {0} {1} has not passed its startup probe".format(pod_name, where))
        if container_spec.get("readinessProbe") is not None:
            return Finding("Pod", pod_name, READINESS_PROBE_FAILING, "pod {0} {1}".format(pod_name, where))
        return Finding("Pod", pod_name, NOT_READY, "pod {0} {1}".format(pod_name, where))
    return None


def _recent_crash(pod, cs, where, now, pod_events):
    """A ready container restarted after exiting with an error is not healthy until it has run
    RECENT_CRASH_SECONDS: a pod that becomes ready and then crashes must not pass one lucky poll
    between two crashes (the kubelet's back-off makes the gaps longer, not the runs)."""
    last = (cs.get("lastState") or {}).get("terminated") or {}
    started = parse_time(((cs.get("state") or {}).get("running") or {}).get("startedAt"))
    if not last or started is None or last.get("exitCode") in (0, None) or now - started >= RECENT_CRASH_SECONDS:
        return None
    if _restarted_outside(pod_events, cs.get("name"), last) == "sandbox":
        return None
    return Finding("Pod", name_of(pod), RESTARTED_RECENTLY, "pod {0} {1} runs for {2}s after exiting with code {3} ({4} restarts)".format(
        name_of(pod), where, int(now - started), last.get("exitCode"), cs.get("restartCount") or 0), since=started)


def pod_restart_warnings(pod, options):
    warnings = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        restarts = cs.get("restartCount") or 0
        if restarts >= options["crash_loop_restarts"] and cs.get("ready"):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            warnings.append(Finding("Pod", name_of(pod), RESTARTS, "pod {0} container {1} restarted {2} times{3}".format(
                name_of(pod), cs.get("name"), restarts, ", last " + last["reason"] if last.get("reason") else "")))
    return warnings


def pvc_findings(pvc, events=None, now=None, options=None):
    """A claim must be Bound. ProvisioningFailed naming a StorageClass that does not exist is
    terminal at once (case F of issue 9: it was named only after the whole wait); a claim with
    no StorageClass and no default one is terminal after the grace period."""
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    name = name_of(pvc)
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase == "Bound":
        return []
    if phase == "Lost":
        return [Finding("PersistentVolumeClaim", name, PVC_LOST, "claim {0} is Lost".format(name), terminal=True)]
    message = "claim {0} is {1}".format(name, phase)
    event = latest_event(events or [], "PersistentVolumeClaim", pvc,
                         ("ProvisioningFailed", "FailedBinding", "WaitForFirstConsumer", "ExternalProvisioning", "Provisioning"))
    created = created_at(pvc)
    if event is None:
        return [Finding("PersistentVolumeClaim", name, PVC_PENDING, message, since=created)]
    text = short(event.get("message"))
    message += ": {0}: {1}".format(event.get("reason"), text)
    if event.get("reason") == "ProvisioningFailed" and "storageclass" in text.lower() and "not found" in text:
        return [Finding("PersistentVolumeClaim", name, PROVISIONING_FAILED, message, terminal=True, since=event_first(event))]
    no_class = event.get("reason") == "FailedBinding" and "no storage class is set" in text
    terminal = no_class and created is not None and now - created >= opts["stuck_grace_period"]
    return [Finding("PersistentVolumeClaim", name, PVC_PENDING, message, terminal=terminal, since=created)]


def ready_endpoints(service_name, slices):
    count = 0
    for s in slices:
        if labels_of(s).get(SERVICE_NAME_LABEL) != service_name:
            continue
        for ep in s.get("endpoints") or []:
            # nil `ready` means unknown and is to be read as ready (discovery.k8s.io/v1)
            if (ep.get("conditions") or {}).get("ready", True) is not False:
                count += len(ep.get("addresses") or [])
    return count


def service_findings(svc, slices):
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName" or not spec.get("selector"):
        return []
    if ready_endpoints(name_of(svc), slices) == 0:
        return [Finding("Service", name_of(svc), NO_ENDPOINTS, "Service {0} has no ready endpoints".format(name_of(svc)))]
    return []


def _service_port(svc, port):
    for entry in (svc.get("spec") or {}).get("ports") or []:
        if port in (entry.get("name"), entry.get("port")) or str(port) in (str(entry.get("name")), str(entry.get("port"))):
            return entry
    return None


def ingress_backends(ingress):
    spec = ingress.get("spec") or {}
    backends = []
    if (spec.get("defaultBackend") or {}).get("service"):
        backends.append(("*", "(default)", spec["defaultBackend"]["service"]))
    for rule in spec.get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths")) or []:
            service = (path.get("backend") or {}).get("service")
            if service:
                backends.append((rule.get("host") or "*", path.get("path") or "/", service))
    return backends


def ingress_class(ingress):
    return ((ingress.get("spec") or {}).get("ingressClassName") or annotations_of(ingress).get(INGRESS_CLASS_ANNOTATION)
            or "")


def tls_secret_names(ingress):
    names = []
    for entry in (ingress.get("spec") or {}).get("tls") or []:
        if entry.get("secretName") and entry["secretName"] not in names:
            names.append(entry["secretName"])
    return names


def certificate_ready_text(certificate):
    """The Ready condition of a cert-manager Certificate, in words."""
    if certificate is None:
        return "no cert-manager Certificate of that name"
    if certificate == "unverified":
        return "Certificate unverified (cert-manager's Certificates cannot be read)"
    ready = conditions_of(certificate).get("Ready")
    if not ready:
        return "Certificate {0}: no Ready condition yet".format(name_of(certificate))
    return "Certificate {0}: Ready={1} {2}: {3}".format(
        name_of(certificate), ready.get("status"), ready.get("reason") or "", short(ready.get("message"), 200))


def ingress_findings(ingress, services, slices, now=None, options=None, tls=None):
    """Every backend an existing Service port with ready endpoints (looked up outside the
    selection when needed); an address from a controller (status.loadBalancer.ingress, as
    Argo CD requires) within ``ingress_grace_period``; every TLS Secret present.

    ``tls``: Secret name -> {"exists": True/False/None (unknown), "certificate": the cert-manager
    Certificate of that name, None or "unverified"}; None skips the TLS check.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    findings = []
    name = name_of(ingress)
    by_name = {name_of(s): s for s in services}
    for host, path, backend in ingress_backends(ingress):
        port = (backend.get("port") or {}).get("name") or (backend.get("port") or {}).get("number")
        where = "{0}{1} -> {2}:{3}".format(host, path if path.startswith("/") else " " + path, backend.get("name"), port)
        svc = by_name.get(backend.get("name"))
        if svc is None:
            findings.append(Finding("Ingress", name, BACKEND_MISSING, where + ": no such Service"))
        elif port is not None and _service_port(svc, port) is None:
            findings.append(Finding("Ingress", name, BACKEND_PORT_MISSING, where + ": the Service has no such port"))
        elif service_findings(svc, slices):
            findings.append(Finding("Ingress", name, BACKEND_NO_ENDPOINTS, where + ": no ready endpoints"))
    for secret in tls_secret_names(ingress):
        state = (tls or {}).get(secret) or {}
        if state.get("exists") is False:
            findings.append(Finding("Ingress", name, TLS_SECRET_MISSING, "TLS Secret {0} does not exist ({1})".format(
                secret, certificate_ready_text(state.get("certificate")))))
    addresses = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if not addresses:
        created = created_at(ingress)
        klass = ingress_class(ingress)
        what = "class {0}".format(klass) if klass else "the default class"
        if created is not None and now - created >= opts["ingress_grace_period"]:
            findings.append(Finding("Ingress", name, NO_INGRESS_CONTROLLER,
                                    "no controller of {0} gave Ingress {1} an address in {2}s".format(
                                        what, name, opts["ingress_grace_period"]), since=created))
        else:
            findings.append(Finding("Ingress", name, INGRESS_ADDRESS_PENDING,
                                    "Ingress {0} ({1}) has no address yet".format(name, what), since=created))
    return findings


def hpa_metric_texts(hpa):
    """["cpu 12% (target 80%)", ...] from status.currentMetrics against spec.metrics."""
    targets = {}
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        if metric.get("type") == "Resource":
            resource = metric.get("resource") or {}
            target = resource.get("target") or {}
            if target.get("averageUtilization") is not None:
                targets[resource.get("name")] = "{0}%".format(target["averageUtilization"])
            elif target.get("averageValue") is not None:
                targets[resource.get("name")] = str(target["averageValue"])
    texts = []
    for metric in (hpa.get("status") or {}).get("currentMetrics") or []:
        if metric.get("type") != "Resource":
            continue
        resource = metric.get("resource") or {}
        current = resource.get("current") or {}
        if current.get("averageUtilization") is not None:
            value = "{0}%".format(current["averageUtilization"])
        elif current.get("averageValue") is not None:
            value = str(current["averageValue"])
        else:
            continue
        rname = resource.get("name")
        texts.append("{0} {1}{2}".format(rname, value, " (target {0})".format(targets[rname]) if rname in targets else ""))
    return texts


def hpa_findings(hpa, workloads, now=None, options=None, metrics_api=None):
    """(findings, warnings). The scale target must exist and be scalable. Without current
    metrics the HPA is not ready only after ``metrics_grace_period`` and only when metrics-server's
    APIService exists (``metrics_api`` True); otherwise missing metrics are a warning."""
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    now = time.time() if now is None else now
    name = name_of(hpa)
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    target = "{0}/{1}".format(ref.get("kind"), ref.get("name"))
    cond = conditions_of(hpa)
    able = cond.get("AbleToScale") or {}
    if (ref.get("kind"), ref.get("name")) not in workloads:
        return [Finding("HorizontalPodAutoscaler", name, HPA_TARGET_MISSING, "{0} does not exist".format(target))], []
    if able.get("status") == "False" and able.get("reason") in ("FailedGetScale", "FailedUpdateScale"):
        return [Finding("HorizontalPodAutoscaler", name, HPA_CANNOT_SCALE, "{0}: {1}".format(
            able.get("reason"), short(able.get("message"))))], []
    warnings = []
    active = cond.get("ScalingActive") or {}
    if active.get("status") == "False":
        hint = "" if metrics_api else " (is metrics-server installed?)"
        warnings.append(Finding("HorizontalPodAutoscaler", name, SCALING_INACTIVE,
                                short("{0}: {1}{2}".format(active.get("reason"), active.get("message", ""), hint))))
    if hpa_metric_texts(hpa) or not (hpa.get("spec") or {}).get("metrics"):
        return [], warnings
    since = parse_time(active.get("lastTransitionTime")) if active.get("status") == "False" else None
    since = max(since or 0, created_at(hpa) or 0) or None
    detail = " ({0})".format(short(active.get("message"), 200)) if active.get("message") else ""
    message = "HPA {0} has no current metric{1}".format(name, detail)
    if metrics_api and since is not None and now - since >= opts["metrics_grace_period"]:
        return [Finding("HorizontalPodAutoscaler", name, METRICS_UNAVAILABLE, message, since=since)], warnings
    return [], warnings + [Finding("HorizontalPodAutoscaler", name, METRICS_UNAVAILABLE, message, since=since)]


# --------------------------------------------------------------------------------------------
# HTTP checks through the API server's service proxy


def proxy_path(namespace, svc, port):
    """/api/v1/namespaces/{ns}/services/[https:]{name}:{port}/proxy (append the health path)."""
    scheme = "https:" if str(port).startswith("https") else ""
    return "/api/v1/namespaces/{0}/services/{1}{2}:{3}/proxy".format(namespace, scheme, name_of(svc), port)


def http_targets(objects, namespace, report=None):
    """[(component, service name, port, path, proxy url path)] of annotated Services.

    With ``report`` (a report computed without HTTP results), only components whose other
    checks are all ready are returned: asking a component that has no ready pod is pointless.
    """
    ready = None
    if report is not None:
        ready = {c["name"] for c in report["components"] if c["ready"]}
    targets = []
    for svc in objects.get("Service") or []:
        path = annotations_of(svc).get(HEALTH_PATH_ANNOTATION)
        if not path:
            continue
        component = component_of(svc)
        if ready is not None and component not in ready:
            continue
        ports = (svc.get("spec") or {}).get("ports") or []
        port = annotations_of(svc).get(HEALTH_PORT_ANNOTATION) or (
            (ports[0].get("name") or ports[0].get("port")) if ports else "")
        if not path.startswith("/"):
            path = "/" + path
        targets.append((component, name_of(svc), port, path, proxy_path(namespace, svc, port) + path))
    return targets


# --------------------------------------------------------------------------------------------
# lookups outside the selection


def lookups_needed(objects):
    """Kinds to list once more without the label selector, to resolve references that point
    outside the selection (Ingress backends of another tier, HPA targets)."""
    kinds = set()
    services = {name_of(s) for s in objects.get("Service") or []}
    for ingress in objects.get("Ingress") or []:
        if any(b[2].get("name") not in services for b in ingress_backends(ingress)):
            kinds.update(("Service", "EndpointSlice"))
    for hpa in objects.get("HorizontalPodAutoscaler") or []:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") in LIST_PATH and ref.get("name") not in {name_of(o) for o in objects.get(ref["kind"]) or []}:
            kinds.add(ref["kind"])
    return sorted(kinds)


# --------------------------------------------------------------------------------------------
# the report


def evaluate(objects, now, http_results=None, events=None, lookups=None, options=None, facts=None):
    """The health report of one poll.

    ``objects``: kind -> list of object dicts listed with the label selector.
    ``http_results``: service name -> {"path", "port", "status", "message"}.
    ``events``: the namespace's core/v1 Events (FailedCreate, probe, scheduling, mount, pull, PVC).
    ``lookups``: kind -> objects listed without the selector (see ``lookups_needed``).
    ``facts``: {"tls": see ``ingress_findings``, "metrics_api": bool} read by ``poll()``.
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    http_results = http_results or {}
    events = events or []
    lookups = lookups or {}
    facts = facts or {}
    comps = {}

    def entry(name, obj=None):
        item = comps.get(name)
        if item is None:
            item = comps[name] = {"name": name, "kinds": [], "tier": "", "needs": [], "objects": [],
                                  "findings": [], "warnings": [], "http": None, "metrics": [], "deleting": 0}
        if obj is not None:
            if not item["tier"]:
                item["tier"] = labels_of(obj).get(TIER_LABEL, "")
            for need in needs_of(obj):
                if need not in item["needs"]:
                    item["needs"].append(need)
        return item

    def add(obj, kind, findings, warnings=(), message=""):
        item = entry(component_of(obj), obj)
        if kind not in item["kinds"]:
            item["kinds"].append(kind)
        item["findings"].extend(findings)
        item["warnings"].extend(warnings)
        item["objects"].append({"kind": kind, "name": name_of(obj), "ready": not findings,
                                "reason": findings[0].reason if findings else "",
                                "message": findings[0].message if findings else message})
        return item

    def judge(obj, kind, rule):
        deleting = deleting_finding(kind, obj, now, opts)
        if deleting is not None:
            entry(component_of(obj), obj)["deleting"] += 1
            return add(obj, kind, [deleting])
        return add(obj, kind, rule())

    jobs = objects.get("Job") or []
    cronjob_component = {name_of(c): component_of(c) for c in objects.get("CronJob") or []}
    scheduled_jobs = {}
    for job in jobs:
        for ref in owners(job, "CronJob"):
            scheduled_jobs[name_of(job)] = cronjob_component.get(ref.get("name"), component_of(job))

    replicasets = objects.get("ReplicaSet") or []
    for obj in objects.get("Deployment") or []:
        judge(obj, "Deployment", lambda o=obj: deployment_findings(o, replicasets, now, opts))
    for obj in objects.get("StatefulSet") or []:
        judge(obj, "StatefulSet", lambda o=obj: statefulset_findings(o, events, now, opts))
    for obj in objects.get("DaemonSet") or []:
        judge(obj, "DaemonSet", lambda o=obj: daemonset_findings(o))
    for job in jobs:
        if name_of(job) not in scheduled_jobs:
            judge(job, "Job", lambda o=job: job_findings(o, events, now, opts))
    for cron in objects.get("CronJob") or []:
        if meta(cron).get("deletionTimestamp"):
            judge(cron, "CronJob", list)
        else:
            add(cron, "CronJob", [], cronjob_warnings(cron, jobs))

    for pvc in objects.get("PersistentVolumeClaim") or []:
        judge(pvc, "PersistentVolumeClaim", lambda o=pvc: pvc_findings(o, events, now, opts))

    selected_slices = objects.get("EndpointSlice") or []
    all_slices = selected_slices + [s for s in lookups.get("EndpointSlice") or []
                                    if name_of(s) not in {name_of(x) for x in selected_slices}]
    for svc in objects.get("Service") or []:
        item = judge(svc, "Service", lambda o=svc: service_findings(o, all_slices))
        result = http_results.get(name_of(svc))
        if result is not None:
            item["http"] = dict(result)
            status = result.get("status") or 0
            if not 200 <= status <= 299:
                item["findings"].append(Finding("HTTP", name_of(svc), HTTP_FAILING, "GET {0} on {1}:{2} -> {3}".format(
                    result.get("path"), name_of(svc), result.get("port"), result.get("message") or status)))
        elif annotations_of(svc).get(HEALTH_PATH_ANNOTATION) and item["http"] is None:
            item["http"] = {"path": annotations_of(svc)[HEALTH_PATH_ANNOTATION],
                            "port": annotations_of(svc).get(HEALTH_PORT_ANNOTATION), "status": None, "message": "not checked"}

    all_services = list(objects.get("Service") or []) + [
        s for s in lookups.get("Service") or [] if name_of(s) not in {name_of(x) for x in objects.get("Service") or []}]
    for ingress in objects.get("Ingress") or []:
        judge(ingress, "Ingress", lambda o=ingress: ingress_findings(o, all_services, all_slices, now, opts, facts.get("tls")))

    workloads = set()
    for kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        for obj in (objects.get(kind) or []) + (lookups.get(kind) or []):
            workloads.add((kind, name_of(obj)))
    for hpa in objects.get("HorizontalPodAutoscaler") or []:
        deleting = deleting_finding("HorizontalPodAutoscaler", hpa, now, opts)
        if deleting is not None:
            entry(component_of(hpa), hpa)["deleting"] += 1
            add(hpa, "HorizontalPodAutoscaler", [deleting])
            continue
        findings, warnings = hpa_findings(hpa, workloads, now, opts, facts.get("metrics_api"))
        texts = hpa_metric_texts(hpa)
        item = add(hpa, "HorizontalPodAutoscaler", findings, warnings,
                   message="; ".join(texts) or ("metrics unavailable" if (hpa.get("spec") or {}).get("metrics") else ""))
        item["metrics"].extend("{0}: {1}".format(name_of(hpa), t) for t in texts)

    # pods explain why their component is not ready; a scheduled Job's pods only warn
    for pod in objects.get("Pod") or []:
        job_refs = owners(pod, "Job")
        scheduled = [scheduled_jobs[r.get("name")] for r in job_refs if r.get("name") in scheduled_jobs]
        component = scheduled[0] if scheduled else component_of(pod)
        findings = pod_findings(pod, now, opts, events)
        if component not in comps:
            if not findings or (job_refs and not scheduled):
                continue  # a bare pod (or a pod of an unselected Job) joins no component by itself
            item = entry(component, pod)
        else:
            item = comps[component]
        if scheduled:
            item["warnings"].extend(Finding("CronJob", f.name, CRONJOB_SCHEDULED_RUN_FAILED, f.text())
                                    for f in findings if f.terminal)
            continue
        if findings and not item["findings"] and item["kinds"]:
            # the workload is rolled out: pods of an old ReplicaSet going away do not matter, but a
            # ready pod that has just restarted after a crash counts as ready in the workload's status
            findings = [f for f in findings if f.reason == RESTARTED_RECENTLY]
            if not findings:
                continue
        if not item["kinds"]:
            item["kinds"].append("Pod")
        item["findings"].extend(findings)
        item["warnings"].extend(pod_restart_warnings(pod, opts))

    wanted = opts["components"]
    for name in list(comps):
        item = comps[name]
        gone = item["objects"] and item["deleting"] == len(item["objects"])
        if (wanted and name not in wanted) or (gone and name not in wanted):
            del comps[name]  # not asked for, or a component going away as a whole (pruned)
    for name in wanted:
        if name not in comps:
            entry(name)["findings"].append(Finding(
                "Component", name, COMPONENT_NOT_FOUND, "no object labelled {0}={1} is selected".format(NAME_LABEL, name),
                terminal=True))
    return build_report(comps, now)


def dependency_levels(comps):
    """Waves of component names: each wave needs only components of earlier waves.

    Needs on components that are not in the report are ignored; a cycle ends up in one wave.
    """
    names = sorted(comps)
    pending = {n: {x for x in comps[n]["needs"] if x in comps and x != n} for n in names}
    levels, done = [], set()
    while pending:
        wave = sorted(n for n, needs in pending.items() if needs <= done)
        if not wave:
            wave = sorted(pending)  # a cycle: report the rest together
        levels.append(wave)
        done.update(wave)
        for n in wave:
            del pending[n]
    return levels


def build_report(comps, now=None):
    levels = dependency_levels(comps)
    order = [n for wave in levels for n in wave]
    components = []
    for name in order:
        item = comps[name]
        findings = sorted(item["findings"], key=Finding.rank)
        kinds = item["kinds"]
        primary = next((k for k in PRIMARY_ORDER if k in kinds), kinds[0] if kinds else None)
        since = findings[0].since if findings else None
        components.append({
            "name": name,
            "kind": primary,
            "kinds": kinds,
            "tier": item["tier"],
            "ready": not findings,
            "terminal": any(f.terminal for f in findings),
            "reason": findings[0].reason if findings else "",
            "message": findings[0].message if findings else "",
            "for_seconds": int(max(0, now - since)) if since is not None and now is not None else None,
            "problems": _unique([f.text() for f in findings]),
            "warnings": _unique([f.text() for f in item["warnings"]]),
            "metrics": item["metrics"],
            "needs": item["needs"],
            "blocked_by": [],
            "http": item["http"],
            "objects": item["objects"],
        })
    ready = {c["name"] for c in components if c["ready"]}
    for c in components:
        if not c["ready"]:
            c["blocked_by"] = [n for n in c["needs"] if n in comps and n not in ready]
    failing = []
    for c in components:
        if not c["ready"]:
            text = "{0}: {1}".format(c["name"], c["reason"])
            if c["message"]:
                text += " ({0})".format(c["message"])
            if c["blocked_by"]:
                text += " [needs {0}, not ready]".format(", ".join(c["blocked_by"]))
            failing.append(text)
    healthy = not failing
    terminal = any(c["terminal"] for c in components)
    return {
        "healthy": healthy,
        "terminal": terminal and not healthy,
        "components": components,
        "failing": failing,
        "order": order,
        "levels": levels,
        "summary": summarise(components, failing, terminal),
    }


def summarise(components, failing, terminal):
    if not components:
        return "no objects matched"
    text = "{0}/{1} components ready".format(sum(1 for c in components if c["ready"]), len(components))
    if failing:
        text += "; {0} ".format("failed" if terminal else "waiting on") + "; ".join(
            "{0}: {1}".format(c["name"], c["reason"]) for c in components if not c["ready"])
    return text


def progress_line(report, label=""):
    """One line for people while waiting:
    ``[backend] ready: api, chat | not ready: ai (ContainerCreating 12s)``."""
    ready = [c["name"] for c in report["components"] if c["ready"]]
    waiting = []
    for c in report["components"]:
        if c["ready"]:
            continue
        detail = c["reason"]
        if c.get("for_seconds") is not None:
            detail += " {0}s".format(c["for_seconds"])
        if c["blocked_by"]:
            detail += ", needs " + ", ".join(c["blocked_by"])
        waiting.append("{0} ({1})".format(c["name"], detail))
    if not label:
        label = ",".join(_unique([c["tier"] for c in report["components"] if c["tier"]])) or "health"
    text = "[{0}] ready: {1}".format(label, ", ".join(ready) or "none")
    if waiting:
        text += " | not ready: " + ", ".join(waiting)
    return text


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


# --------------------------------------------------------------------------------------------
# the wait: talks to the cluster through ``api`` (k8s_client.K8sApi: list_items(path, selector),
# request(path, timeout=...) -> (status, body bytes)); used by the module and its action plugin

HTTP_TIMEOUT = 10
WAIT_OPTIONS = ("components", "pull_grace_period", "stuck_grace_period", "crash_loop_restarts",
                "ingress_grace_period", "metrics_grace_period")


def _quote(segment):
    from ansible.module_utils.six.moves.urllib.parse import quote

    return quote(str(segment), safe=":")


def _status_message(status, body):
    from ansible_collections.genai.stack.plugins.module_utils.k8s_client import status_message

    return status_message(status, body)


def _exists(api, path):
    """True/False from the HTTP status of a GET (the body is never read); None when not allowed."""
    status, _body = api.request(path, timeout=HTTP_TIMEOUT)
    if 200 <= status <= 299:
        return True
    if status == 404:
        return False
    return None


def _tls_facts(api, namespace, ingresses):
    tls = {}
    for ingress in ingresses:
        for secret in tls_secret_names(ingress):
            if secret in tls:
                continue
            exists = _exists(api, SECRET_PATH.format(namespace=namespace, name=_quote(secret)))
            certificate = None
            if exists is False:
                status, body = api.request(CERTIFICATE_PATH.format(namespace=namespace, name=_quote(secret)),
                                           timeout=HTTP_TIMEOUT)
                if 200 <= status <= 299:
                    import json

                    try:
                        certificate = json.loads(body.decode("utf-8"))
                    except ValueError:
                        certificate = "unverified"
                elif status != 404:
                    certificate = "unverified"  # 403 (no RBAC) or cert-manager absent in odd ways
            tls[secret] = {"exists": exists, "certificate": certificate}
    return tls


def poll(api, params, now=None, state=None):
    """List each kind once, read what the rules need, ask health paths; return the report.

    ``state`` (a dict kept across the polls of one wait) caches whether metrics-server's
    APIService exists.
    """
    state = {} if state is None else state
    namespace = _quote(params["namespace"])
    selector = ",".join(s for s in params.get("label_selectors") or [] if s) or None
    objects = {}
    for kind, path in LIST_PATHS:
        objects[kind] = api.list_items(path.format(namespace=namespace), selector)
    lookups = {}
    for kind in lookups_needed(objects) if selector else []:
        lookups[kind] = api.list_items(LIST_PATH[kind].format(namespace=namespace))
    options = {key: params[key] for key in WAIT_OPTIONS if params.get(key) is not None}
    now = time.time() if now is None else now
    facts = {}
    if any(not hpa_metric_texts(h) for h in objects.get("HorizontalPodAutoscaler") or []):
        if "metrics_api" not in state:
            state["metrics_api"] = bool(_exists(api, METRICS_APISERVICE_PATH))
        facts["metrics_api"] = state["metrics_api"]
    if any(tls_secret_names(i) for i in objects.get("Ingress") or []):
        facts["tls"] = _tls_facts(api, namespace, objects["Ingress"])
    report = evaluate(objects, now, lookups=lookups, options=options, facts=facts)
    events = []
    if not report["healthy"]:
        events = api.list_items(EVENTS_PATH.format(namespace=namespace))
    http_results = {}
    if params.get("http", True):
        for _dummy, service, port, path, url in http_targets(objects, namespace, report):
            status, body = api.request(url, timeout=HTTP_TIMEOUT)
            ok = 200 <= status <= 299
            # only the status, never the body: a health page may echo configuration
            http_results[service] = {
                "path": path, "port": port, "status": status, "message": "" if ok else _status_message(status, body)}
    if events or http_results:
        report = evaluate(objects, now, http_results=http_results, events=events, lookups=lookups,
                          options=options, facts=facts)
    if not report["components"] and params.get("allow_empty"):
        report.update(healthy=True, summary="no objects matched (allowed)")
    elif not report["components"]:
        report["failing"] = ["no object in namespace {0} matches {1}".format(
            params["namespace"], selector or "(no selector)")]
        report["healthy"] = False
    return report


def wait(api, params, check_mode=False, progress=None, clock=None, sleep=None):
    """Poll until healthy, terminal or ``wait_timeout``; returns the module result (a dict).

    ``progress(line)`` is called every ``progress_interval`` seconds while waiting (the action
    plugin prints it). Raises GenaiStackError (with the result as details) when not healthy,
    except in check mode.
    """
    from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

    for name in ("wait_timeout", "wait_sleep", "pull_grace_period", "stuck_grace_period", "crash_loop_restarts",
                 "ingress_grace_period", "metrics_grace_period", "progress_interval"):
        if (params.get(name) or 0) < 0:
            raise GenaiStackError("{0} must not be negative, got {1}".format(name, params[name]))
    clock = clock or time.time
    sleep = sleep or time.sleep
    start = clock()
    deadline = start + (params.get("wait_timeout") or 0)
    waiting = params.get("wait", True) and not check_mode
    interval = params.get("progress_interval") or 0
    last_progress = start
    state = {}
    while True:
        report = poll(api, params, clock(), state)
        if report["healthy"] or report["terminal"] or not waiting:
            break
        remaining = deadline - clock()
        if remaining <= 0:
            break
        if progress is not None and interval and clock() - last_progress >= interval:
            progress(progress_line(report))
            last_progress = clock()
        sleep(min(max(params.get("wait_sleep") or 1, 1), remaining))
    elapsed = round(clock() - start, 1)
    result = dict(changed=False, namespace=params["namespace"], elapsed=elapsed, **report)
    if report["healthy"] or check_mode:
        return result
    if report["terminal"]:
        what = "has failed"
    elif waiting:
        what = "is not healthy after {0}s".format(params.get("wait_timeout"))
    else:
        what = "is not healthy"
    raise GenaiStackError("Namespace {0} {1}: {2}".format(params["namespace"], what, "; ".join(report["failing"])), **result)

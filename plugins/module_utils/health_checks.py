# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness rules of genai.stack.health, as plain functions over API object dicts.

Nothing here talks to the cluster. The module lists each kind once per poll (``LIST_PATHS``)
and hands the lists to ``evaluate()``, which returns the report: one entry per component
(objects grouped by the ``app.kubernetes.io/name`` label), dependencies first. The objects are
the API's JSON (camelCase, as ``kubectl get -o json`` prints them), so the rules are
unit-tested on recorded object shapes.

Nothing from a pod's env, a ConfigMap or a Secret is ever copied into the report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import time

NAME_LABEL = "app.kubernetes.io/name"
TIER_LABEL = "app.kubernetes.io/component"
NEEDS_ANNOTATION = "genai.stack/needs"
HEALTH_PATH_ANNOTATION = "genai.stack/health-path"
HEALTH_PORT_ANNOTATION = "genai.stack/health-port"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# kind -> list path (namespace filled in); listed once per poll with the label selector.
LIST_PATHS = (
    ("Deployment", "/apis/apps/v1/namespaces/{namespace}/deployments"),
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

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Job")
# The kind a component is reported as: its first workload kind, else the first object kind.
PRIMARY_ORDER = WORKLOAD_KINDS + ("Ingress", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "Pod")
# Which finding explains a component best when several objects fail (terminal ones first).
EXPLAIN_ORDER = ("PersistentVolumeClaim", "Pod", "Job", "Deployment", "StatefulSet", "DaemonSet", "CronJob",
                 "Service", "HTTP", "Ingress", "HorizontalPodAutoscaler", "Component")

PULL_ERRORS = ("ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "RegistryUnavailable", "SignatureValidationFailed")
CONFIG_ERRORS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")
IMMEDIATE_TERMINAL = ("InvalidImageName",)
STARTING = ("ContainerCreating", "PodInitializing")

DEFAULT_OPTIONS = {
    "components": [],            # report only these component names (missing ones fail as "not found")
    "pull_grace_period": 60,     # seconds image pull / container config errors may last before terminal
    "crash_loop_restarts": 3,    # CrashLoopBackOff with at least this many restarts is terminal
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


def owners(obj, kind=None):
    refs = meta(obj).get("ownerReferences") or []
    return [r for r in refs if kind is None or r.get("kind") == kind]


class Finding(object):
    """Why one object is not ready (or a warning about it)."""

    __slots__ = ("kind", "name", "reason", "message", "terminal")

    def __init__(self, kind, name, reason, message="", terminal=False):
        self.kind = kind
        self.name = name
        self.reason = reason
        self.message = message
        self.terminal = terminal

    def text(self):
        return "{0} ({1})".format(self.reason, self.message) if self.message else self.reason

    def rank(self):
        order = EXPLAIN_ORDER.index(self.kind) if self.kind in EXPLAIN_ORDER else len(EXPLAIN_ORDER)
        return (not self.terminal, order)


# --------------------------------------------------------------------------------------------
# per-kind rules; each returns a list of Findings (empty = ready)


def desired_replicas(obj):
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def deployment_findings(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    name, want = name_of(obj), desired_replicas(obj)
    cond = conditions_of(obj)
    progressing = cond.get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return [Finding("Deployment", name, "ProgressDeadlineExceeded", progressing.get("message", ""), terminal=True)]
    findings = []
    failure = cond.get("ReplicaFailure") or {}
    if failure.get("status") == "True":
        findings.append(Finding("Deployment", name, failure.get("reason") or "ReplicaFailure", failure.get("message", "")))
    if spec.get("paused"):
        findings.append(Finding("Deployment", name, "paused", "the rollout is paused"))
    findings.extend(_replica_findings("Deployment", obj, want, [
        ("updated", status.get("updatedReplicas")),
        ("ready", status.get("readyReplicas")),
        ("available", status.get("availableReplicas")),
    ]))
    total = status.get("replicas") or 0
    if not findings and total > want:
        findings.append(Finding("Deployment", name, "rollout in progress",
                                "{0} old replicas still terminating".format(total - want)))
    return findings


def statefulset_findings(obj):
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
    return _replica_findings("StatefulSet", obj, want, counts)


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
        return [Finding(kind, name, "rollout pending", "generation {0} not observed yet".format(generation))]
    short = [(label, value or 0) for label, value in counts if (value or 0) < want]
    if not short:
        return []
    ready = {label: value or 0 for label, value in counts}.get("ready", 0)
    detail = ", ".join("{0} {1}".format(value or 0, label) for label, value in counts)
    reason = "rollout in progress" if short[0][0] == "updated" and ready >= want else "not ready"
    return [Finding(kind, name, reason, "{0}/{1} {2} ready ({3})".format(ready, want, what, detail))]


def job_findings(obj):
    name = name_of(obj)
    cond = conditions_of(obj)
    status = obj.get("status") or {}
    for failed in ("Failed", "FailureTarget"):
        if (cond.get(failed) or {}).get("status") == "True":
            reason = cond[failed].get("reason") or "Failed"
            return [Finding("Job", name, "Job failed: " + reason, cond[failed].get("message", ""), terminal=True)]
    if condition_true(obj, "Complete"):
        return []
    if condition_true(obj, "Suspended"):
        return [Finding("Job", name, "Job suspended")]
    completions = (obj.get("spec") or {}).get("completions") or 1
    return [Finding("Job", name, "Job running", "{0}/{1} succeeded, {2} active, {3} failed".format(
        status.get("succeeded") or 0, completions, status.get("active") or 0, status.get("failed") or 0))]


def cronjob_warnings(obj, jobs):
    """A CronJob is ready once it exists; suspension and a failed last run are warnings."""
    name = name_of(obj)
    warnings = []
    if (obj.get("spec") or {}).get("suspend"):
        warnings.append(Finding("CronJob", name, "suspended", "CronJob {0} is suspended".format(name)))
    own = [j for j in jobs if any(r.get("name") == name for r in owners(j, "CronJob"))]
    if own:
        last = max(own, key=lambda j: parse_time(meta(j).get("creationTimestamp")) or 0)
        for finding in job_findings(last):
            if finding.terminal:
                warnings.append(Finding("CronJob", name, "last Job failed",
                                        "Job {0}: {1}".format(name_of(last), finding.text())))
    return warnings


def pod_findings(pod, now, options, events=None):
    """Why a pod is not ready: container waiting states, crash loops, scheduling, probes."""
    if meta(pod).get("deletionTimestamp"):
        return []
    status = pod.get("status") or {}
    name = name_of(pod)
    phase = status.get("phase")
    if phase == "Succeeded":
        return []
    if phase == "Failed":
        return [Finding("Pod", name, status.get("reason") or "Failed", status.get("message", "")[:300])]
    created = parse_time(meta(pod).get("creationTimestamp")) or parse_time(status.get("startTime"))
    age = (now - created) if created is not None else None
    grace = options["pull_grace_period"]
    past_grace = age is not None and age >= grace
    probes = {c.get("name"): c for c in (pod.get("spec") or {}).get("containers") or []}
    findings = []
    scheduled = conditions_of(pod).get("PodScheduled") or {}
    if scheduled.get("status") == "False":
        findings.append(Finding("Pod", name, scheduled.get("reason") or "Unschedulable",
                                scheduled.get("message", "")[:300]))
    init_statuses = status.get("initContainerStatuses") or []
    for init, statuses in ((True, init_statuses), (False, status.get("containerStatuses") or [])):
        for cs in statuses:
            finding = _container_finding(name, cs, init, past_grace, options, probes.get(cs.get("name")) or {})
            if finding:
                findings.append(finding)
    if not findings and phase == "Running" and not condition_true(pod, "Ready"):
        findings.append(Finding("Pod", name, "not ready", "pod conditions: " + ", ".join(
            "{0}={1}".format(t, c.get("status")) for t, c in sorted(conditions_of(pod).items()))))
    if events:
        for finding in findings:
            if finding.reason in ("readiness probe failing", "startup probe pending", "not ready", "Unschedulable"):
                event = latest_event(events, "Pod", name, ("Unhealthy", "FailedScheduling"))
                if event:
                    finding.message = (event.get("message") or "")[:300]
    return findings


def _container_finding(pod_name, cs, init, past_grace, options, container_spec):
    cname = cs.get("name")
    where = "{0} container {1}".format("init" if init else "", cname).strip()
    state = cs.get("state") or {}
    restarts = cs.get("restartCount") or 0
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason") or "Waiting"
        message = (waiting.get("message") or "")[:300]
        if reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            detail = "pod {0} {1} restarted {2} times, last exit code {3}{4}".format(
                pod_name, where, restarts, last.get("exitCode", "?"),
                " " + last["reason"] if last.get("reason") else "")
            return Finding("Pod", pod_name, "CrashLoopBackOff", detail, terminal=restarts >= options["crash_loop_restarts"])
        if reason in IMMEDIATE_TERMINAL:
            return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, message), terminal=True)
        if reason in PULL_ERRORS or reason in CONFIG_ERRORS:
            return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, message), terminal=past_grace)
        if reason in STARTING:
            return Finding("Pod", pod_name, reason, "pod {0} {1}".format(pod_name, where))
        return Finding("Pod", pod_name, reason, "pod {0} {1}: {2}".format(pod_name, where, message).rstrip(": "))
    terminated = state.get("terminated")
    if terminated is not None:
        if init and terminated.get("exitCode") == 0:
            return None
        if not init and terminated.get("reason") == "Completed":
            return None
        if restarts > 0:
            # between two restarts of a crash loop the state is `terminated`, not `waiting`
            detail = "pod {0} {1} restarted {2} times, last exit code {3}{4}".format(
                pod_name, where, restarts, terminated.get("exitCode", "?"),
                " " + terminated["reason"] if terminated.get("reason") else "")
            return Finding("Pod", pod_name, "CrashLoopBackOff", detail, terminal=restarts >= options["crash_loop_restarts"])
        return Finding("Pod", pod_name, "container exited", "pod {0} {1} exited with code {2} {3} after {4} restarts".format(
            pod_name, where, terminated.get("exitCode", "?"), terminated.get("reason") or "", restarts))
    if "running" in state:
        if init:
            if cs.get("started") is False or not cs.get("ready"):
                return Finding("Pod", pod_name, "initializing",
                               "pod {0} {1} is still running (waiting for its dependencies?)".format(pod_name, where))
            return None
        if cs.get("ready"):
            return None
        if cs.get("started") is False:
            return Finding("Pod", pod_name, "startup probe pending", "pod {0} {1} has not passed its startup probe".format(pod_name, where))
        if container_spec.get("readinessProbe") is not None:
            return Finding("Pod", pod_name, "readiness probe failing", "pod {0} {1}".format(pod_name, where))
        return Finding("Pod", pod_name, "not ready", "pod {0} {1}".format(pod_name, where))
    return None


def pod_restart_warnings(pod, options):
    warnings = []
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        restarts = cs.get("restartCount") or 0
        if restarts >= options["crash_loop_restarts"] and cs.get("ready"):
            last = (cs.get("lastState") or {}).get("terminated") or {}
            warnings.append(Finding("Pod", name_of(pod), "restarts", "pod {0} container {1} restarted {2} times{3}".format(
                name_of(pod), cs.get("name"), restarts, ", last " + last["reason"] if last.get("reason") else "")))
    return warnings


def pvc_findings(pvc, events=None):
    name = name_of(pvc)
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    if phase == "Bound":
        return []
    message = "claim {0} is {1}".format(name, phase)
    event = latest_event(events or [], "PersistentVolumeClaim", name,
                         ("ProvisioningFailed", "FailedBinding", "WaitForFirstConsumer", "ExternalProvisioning", "Provisioning"))
    if event:
        message += ": {0}: {1}".format(event.get("reason"), (event.get("message") or "")[:300])
    return [Finding("PersistentVolumeClaim", name, "PVC " + phase, message, terminal=phase == "Lost")]


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
        return [Finding("Service", name_of(svc), "no endpoints", "Service {0} has no ready endpoints".format(name_of(svc)))]
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


def ingress_findings(ingress, services, slices):
    findings = []
    name = name_of(ingress)
    by_name = {name_of(s): s for s in services}
    for host, path, backend in ingress_backends(ingress):
        port = (backend.get("port") or {}).get("name") or (backend.get("port") or {}).get("number")
        where = "{0}{1} -> {2}:{3}".format(host, path if path.startswith("/") else " " + path, backend.get("name"), port)
        svc = by_name.get(backend.get("name"))
        if svc is None:
            findings.append(Finding("Ingress", name, "backend missing", where + ": no such Service"))
        elif port is not None and _service_port(svc, port) is None:
            findings.append(Finding("Ingress", name, "backend port missing", where + ": the Service has no such port"))
        elif service_findings(svc, slices):
            findings.append(Finding("Ingress", name, "backend has no endpoints", where + ": no ready endpoints"))
    return findings


def hpa_findings(hpa, workloads):
    """(findings, warnings): the scale target must exist; missing metrics are only a warning."""
    name = name_of(hpa)
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    target = "{0}/{1}".format(ref.get("kind"), ref.get("name"))
    cond = conditions_of(hpa)
    able = cond.get("AbleToScale") or {}
    if (ref.get("kind"), ref.get("name")) not in workloads:
        return [Finding("HorizontalPodAutoscaler", name, "scale target missing", "{0} does not exist".format(target))], []
    if able.get("status") == "False" and able.get("reason") in ("FailedGetScale", "FailedUpdateScale"):
        return [Finding("HorizontalPodAutoscaler", name, able.get("reason"), able.get("message", ""))], []
    warnings = []
    active = cond.get("ScalingActive") or {}
    if active.get("status") == "False":
        warnings.append(Finding("HorizontalPodAutoscaler", name, "ScalingActive False",
                                "{0}: {1} (is metrics-server installed?)".format(active.get("reason"), active.get("message", ""))[:300]))
    return [], warnings


def latest_event(events, kind, name, reasons):
    best = None
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") != kind or involved.get("name") != name or event.get("reason") not in reasons:
            continue
        stamp = parse_time(event.get("lastTimestamp") or event.get("eventTime") or meta(event).get("creationTimestamp")) or 0
        if best is None or stamp >= best[0]:
            best = (stamp, event)
    return best[1] if best else None


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


def evaluate(objects, now, http_results=None, events=None, lookups=None, options=None):
    """The health report of one poll.

    ``objects``: kind -> list of object dicts listed with the label selector.
    ``http_results``: service name -> {"path", "port", "status", "message"}.
    ``events``: the namespace's core/v1 Events (for probe, scheduling and PVC messages).
    ``lookups``: kind -> objects listed without the selector (see ``lookups_needed``).
    """
    opts = dict(DEFAULT_OPTIONS)
    opts.update(options or {})
    http_results = http_results or {}
    events = events or []
    lookups = lookups or {}
    comps = {}

    def entry(name, obj=None):
        item = comps.get(name)
        if item is None:
            item = comps[name] = {"name": name, "kinds": [], "tier": "", "needs": [], "objects": [],
                                  "findings": [], "warnings": [], "http": None}
        if obj is not None:
            if not item["tier"]:
                item["tier"] = labels_of(obj).get(TIER_LABEL, "")
            for need in needs_of(obj):
                if need not in item["needs"]:
                    item["needs"].append(need)
        return item

    def add(obj, kind, findings, warnings=()):
        item = entry(component_of(obj), obj)
        if kind not in item["kinds"]:
            item["kinds"].append(kind)
        item["findings"].extend(findings)
        item["warnings"].extend(warnings)
        item["objects"].append({"kind": kind, "name": name_of(obj), "ready": not findings,
                                "reason": findings[0].reason if findings else "",
                                "message": findings[0].message if findings else ""})
        return item

    jobs = objects.get("Job") or []
    cronjob_component = {name_of(c): component_of(c) for c in objects.get("CronJob") or []}
    scheduled_jobs = {}
    for job in jobs:
        for ref in owners(job, "CronJob"):
            scheduled_jobs[name_of(job)] = cronjob_component.get(ref.get("name"), component_of(job))

    rules = (("Deployment", deployment_findings), ("StatefulSet", statefulset_findings),
             ("DaemonSet", daemonset_findings))
    for kind, rule in rules:
        for obj in objects.get(kind) or []:
            add(obj, kind, rule(obj))
    for job in jobs:
        if name_of(job) not in scheduled_jobs:
            add(job, "Job", job_findings(job))
    for cron in objects.get("CronJob") or []:
        add(cron, "CronJob", [], cronjob_warnings(cron, jobs))

    for pvc in objects.get("PersistentVolumeClaim") or []:
        add(pvc, "PersistentVolumeClaim", pvc_findings(pvc, events))

    selected_slices = objects.get("EndpointSlice") or []
    all_slices = selected_slices + [s for s in lookups.get("EndpointSlice") or []
                                    if name_of(s) not in {name_of(x) for x in selected_slices}]
    for svc in objects.get("Service") or []:
        item = add(svc, "Service", service_findings(svc, all_slices))
        result = http_results.get(name_of(svc))
        if result is not None:
            item["http"] = dict(result)
            status = result.get("status") or 0
            if not 200 <= status <= 299:
                item["findings"].append(Finding("HTTP", name_of(svc), "HTTP health check failing", "GET {0} on {1}:{2} -> {3}".format(
                    result.get("path"), name_of(svc), result.get("port"), result.get("message") or status)))
        elif annotations_of(svc).get(HEALTH_PATH_ANNOTATION) and item["http"] is None:
            item["http"] = {"path": annotations_of(svc)[HEALTH_PATH_ANNOTATION],
                            "port": annotations_of(svc).get(HEALTH_PORT_ANNOTATION), "status": None, "message": "not checked"}

    all_services = list(objects.get("Service") or []) + [
        s for s in lookups.get("Service") or [] if name_of(s) not in {name_of(x) for x in objects.get("Service") or []}]
    for ingress in objects.get("Ingress") or []:
        add(ingress, "Ingress", ingress_findings(ingress, all_services, all_slices))

    workloads = set()
    for kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        for obj in (objects.get(kind) or []) + (lookups.get(kind) or []):
            workloads.add((kind, name_of(obj)))
    for hpa in objects.get("HorizontalPodAutoscaler") or []:
        findings, warnings = hpa_findings(hpa, workloads)
        add(hpa, "HorizontalPodAutoscaler", findings, warnings)

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
            item["warnings"].extend(Finding("CronJob", f.name, "scheduled run: " + f.reason, f.message)
                                    for f in findings if f.terminal)
            continue
        if findings and not item["findings"] and item["kinds"]:
            continue  # the workload is rolled out: pods of an old ReplicaSet going away do not matter
        if not item["kinds"]:
            item["kinds"].append("Pod")
        item["findings"].extend(findings)
        item["warnings"].extend(pod_restart_warnings(pod, opts))

    wanted = opts["components"]
    if wanted:
        for name in list(comps):
            if name not in wanted:
                del comps[name]
        for name in wanted:
            if name not in comps:
                entry(name)["findings"].append(Finding("Component", name, "not found",
                                                       "no object labelled {0}={1} is selected".format(NAME_LABEL, name)))
    return build_report(comps)


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


def build_report(comps):
    levels = dependency_levels(comps)
    order = [n for wave in levels for n in wave]
    components = []
    for name in order:
        item = comps[name]
        findings = sorted(item["findings"], key=Finding.rank)
        kinds = item["kinds"]
        primary = next((k for k in PRIMARY_ORDER if k in kinds), kinds[0] if kinds else None)
        components.append({
            "name": name,
            "kind": primary,
            "kinds": kinds,
            "tier": item["tier"],
            "ready": not findings,
            "terminal": any(f.terminal for f in findings),
            "reason": findings[0].reason if findings else "",
            "message": findings[0].message if findings else "",
            "problems": _unique([f.text() for f in findings]),
            "warnings": _unique([f.text() for f in item["warnings"]]),
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


def _unique(items):
    out = []
    for item in items:
        if item not in out:
            out.append(item)
    return out

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes manifests of a genai.stack system, one function per kind.

Every function takes a validated ``System`` (module_utils/system.py) and returns plain dicts
with a stable shape and key order, so that a server-side apply of the same system twice
changes nothing. Empty fields are never emitted. Pure standard library.
"""

import base64
import hashlib
import json
import re

from ansible_collections.genai.stack.plugins.module_utils.system import (
    COMPONENT_TIERS,
    MONITORING_SECRETS,
    SystemDefinitionError,
    camelize,
    deep_merge,
    port_of,
)

MANAGED_BY = "genai-stack"
ANNOTATION_NEEDS = "genai.stack/needs"
ANNOTATION_HEALTH_PATH = "genai.stack/health-path"
ANNOTATION_HEALTH_PORT = "genai.stack/health-port"
ANNOTATION_CHECKSUM = "checksum/config"
ANNOTATION_CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
ANNOTATION_ISSUER = "cert-manager.io/issuer"
# The order in which tiers are rendered, applied and waited for (teardown: reversed). The one
# source of the tier order: roles, playbooks and teardown read it through the stack filters.
TIERS = ("foundation",) + COMPONENT_TIERS + ("ingress", "monitoring")
RENDER_TIERS = TIERS

READINESS_DEFAULTS = {"periodSeconds": 5}
LIVENESS_DEFAULTS = {"initialDelaySeconds": 15, "periodSeconds": 10}
WAIT_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}}
CONTAINER_SECURITY_KEYS = (
    "allow_privilege_escalation", "capabilities", "privileged", "read_only_root_filesystem",
    "proc_mount",
)
LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


# --------------------------------------------------------------------------------------------
# labels and images


def label_value(text):
    """A string made valid as a label value (at most 63 characters, alphanumeric at both ends)."""
    text = LABEL_VALUE.sub("-", str(text))[:63]
    return text.strip("-_.")


def selector_labels(name, system_name):
    """The labels that select the pods of a component; they never change (no version)."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": system_name,
    }


def labels(name, tier, system_name, version=""):
    """The standard labels of every object genai.stack renders (see the collection spec)."""
    result = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": system_name,
        "app.kubernetes.io/component": tier,
        "app.kubernetes.io/part-of": system_name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    version = label_value(version) if version else ""
    if version:
        result["app.kubernetes.io/version"] = version
    return result


def has_registry(repository):
    """True when the first path element of a repository names a registry (docker's rule)."""
    if "/" not in repository:
        return False
    first = repository.split("/", 1)[0]
    return "." in first or ":" in first or first == "localhost"


def image_ref(image, settings):
    """registry/repository:tag or registry/repository@digest."""
    repository = image["repository"]
    registry = image["registry"]
    if not registry and not has_registry(repository):
        registry = settings["image_registry"]
    ref = f"{registry}/{repository}" if registry else repository
    if image["digest"]:
        return "{}@{}".format(ref, image["digest"])
    return "{}:{}".format(ref, image["tag"])


def image_pull_policy(image, settings):
    """The component's own pull policy, else the collection's; IfNotPresent of a :latest image
    becomes Always, which is what Kubernetes itself does for :latest (a moving tag)."""
    if image["pull_policy"]:
        return image["pull_policy"]
    policy = settings["image_pull_policy"]
    if policy == "IfNotPresent" and image["tag"] == "latest" and not image["digest"]:
        return "Always"
    return policy


def image_version(image):
    """The version label: the tag, or the first 12 hex digits of the digest."""
    if image["digest"]:
        return image["digest"].split(":", 1)[-1][:12]
    return image["tag"]


def _meta(system, name, tier, kind_name=None, version="", annotations=None):
    meta = {
        "name": kind_name or name,
        "namespace": system.settings["namespace"],
        "labels": labels(name, tier, system.settings["system"], version),
    }
    if annotations:
        meta["annotations"] = dict(sorted(annotations.items()))
    return meta


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def config_checksum(system, comp, secret_values):
    """sha256 over the component's ConfigMap and Secret data (changes roll the pods)."""
    data = {"config": system.config_data(comp["name"])}
    if system.has_secret(comp["name"]):
        data["secret"] = system.secret_data(comp["name"], secret_values)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# foundation kinds


def namespace(system):
    settings = system.settings
    level = settings["pod_security_level"]
    meta_labels = labels(settings["namespace"], "foundation", settings["system"])
    meta_labels.update({
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": level,
    })
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": settings["namespace"], "labels": dict(sorted(meta_labels.items()))},
    }


def service_account(system, comp):
    sa = comp["service_account"]
    if not sa or not sa["create"]:
        return []
    manifests = [{
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(system, comp["name"], "foundation", sa["name"]),
        "automountServiceAccountToken": sa["automount_token"],
    }]
    if sa["rules"]:
        manifests.append(role(system, comp))
        manifests.append(rolebinding(system, comp))
    return manifests


def role(system, comp):
    sa = comp["service_account"]
    rules = []
    for rule in sa["rules"]:
        entry = {"apiGroups": rule.get("api_groups", [])}
        entry["resources"] = rule["resources"]
        if rule.get("resource_names"):
            entry["resourceNames"] = rule["resource_names"]
        entry["verbs"] = rule["verbs"]
        rules.append(entry)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(system, comp["name"], "foundation", sa["name"]),
        "rules": rules,
    }


def rolebinding(system, comp):
    sa = comp["service_account"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(system, comp["name"], "foundation", sa["name"]),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa["name"]},
        "subjects": [{"kind": "ServiceAccount", "name": sa["name"], "namespace": system.settings["namespace"]}],
    }


def configmap(system, comp):
    data = system.config_data(comp["name"])
    if not data:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(system, comp["name"], "foundation", system.config_name(comp["name"])),
        "data": data,
    }


def secret(system, comp, secret_values):
    if not system.has_secret(comp["name"]):
        return None
    data = system.secret_data(comp["name"], secret_values)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(system, comp["name"], "foundation", system.secret_name(comp["name"])),
        "type": "Opaque",
        "data": {key: _b64(value) for key, value in sorted(data.items())},
    }


def _policy_ports(ports):
    return [{"protocol": p["protocol"], "port": p["port"]} for p in ports]


def networkpolicy(system, comp):
    """Admit ingress to a component from the components that need it, from the ingress
    controller when it is exposed and from monitoring when it has metrics; None when nothing
    may reach it (the default deny then applies)."""
    settings = system.settings
    name = comp["name"]
    rules = []
    needers = sorted(system.needed_by[name])
    if needers and comp["ports"]:
        rules.append({
            "from": [{"podSelector": {"matchLabels": selector_labels(n, settings["system"])}} for n in needers],
            "ports": _policy_ports(comp["ports"]),
        })
    if comp["expose"] and comp["ports"]:
        rules.append({
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": settings["ingress"]["controller_namespace"]}}}],
            "ports": _policy_ports(comp["ports"]),
        })
    if comp["metrics"]:
        rules.append({
            "from": [{"podSelector": {"matchLabels": {
                "app.kubernetes.io/component": "monitoring",
                "app.kubernetes.io/part-of": settings["system"],
            }}}],
            "ports": [{"protocol": "TCP", "port": comp["metrics"]["port"]}],
        })
    if comp["health_path"] and settings["network_policy_allow_from"]:
        rules.append({
            "from": settings["network_policy_allow_from"],
            "ports": _policy_ports(comp["ports"][:1]),
        })
    if not rules:
        return None
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(system, name, "foundation", f"{name}-allow"),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(name, settings["system"])},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def default_deny_ingress(system):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(system, "default-deny-ingress", "foundation"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


# --------------------------------------------------------------------------------------------
# pods


def _probe(comp, kind):
    """The probe of a kind: explicit handler and timings over the ones derived from health_path."""
    explicit = comp["probes"].get(kind)
    primary = comp["ports"][0]["name"] if comp["ports"] else None
    handler = None
    if explicit and any(h in explicit for h in ("http_get", "exec", "tcp_socket", "grpc")):
        handler = explicit
    elif comp["health_path"]:
        handler = {"http_get": {"path": comp["health_path"]}}
    elif kind == "readiness" and comp["ports"]:
        handler = {"tcp_socket": {}}
    if handler is None:
        if explicit:
            raise SystemDefinitionError(
                "genai_components.{}.probes.{}".format(comp["name"], kind),
                "no handler (http_get, exec, tcp_socket or grpc) and no health_path to derive one from")
        return None
    if comp["workload"] == "CronJob" and not explicit:
        return None
    if kind == "startup" and not explicit:
        return None
    probe = {}
    if "http_get" in handler:
        http = dict(handler["http_get"])
        http.setdefault("port", primary)
        if http["port"] is None:
            raise SystemDefinitionError("genai_components.{}.probes.{}.http_get.port".format(comp["name"], kind), "required for a component without ports")
        probe["httpGet"] = camelize({k: http[k] for k in sorted(http)})
    elif "tcp_socket" in handler:
        tcp = dict(handler["tcp_socket"])
        tcp.setdefault("port", primary)
        if tcp["port"] is None:
            raise SystemDefinitionError("genai_components.{}.probes.{}.tcp_socket.port".format(comp["name"], kind), "required for a component without ports")
        probe["tcpSocket"] = camelize(tcp)
    elif "grpc" in handler:
        grpc = dict(handler["grpc"])
        grpc.setdefault("port", comp["ports"][0]["port"] if comp["ports"] else None)
        probe["grpc"] = camelize(grpc)
    else:
        probe["exec"] = {"command": handler["exec"]}
    timings = dict(READINESS_DEFAULTS if kind == "readiness" else LIVENESS_DEFAULTS if kind == "liveness" else {})
    for key, value in (explicit or {}).items():
        if key not in ("http_get", "exec", "tcp_socket", "grpc"):
            timings[camelize({key: 0}).popitem()[0]] = value
    for key in sorted(timings):
        probe[key] = timings[key]
    return probe


RESTRICTED_CONTAINER = {"allow_privilege_escalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"seccomp_profile": {"type": "RuntimeDefault"}}


def _security_contexts(comp):
    """(pod securityContext, container securityContext), restricted by default.

    Every pod gets seccomp RuntimeDefault and every container allowPrivilegeEscalation false
    and all capabilities dropped (PodSecurity ``restricted``) unless the record's
    ``security_context`` says otherwise: its fields win, and ``privileged: true`` keeps
    privilege escalation (the API server refuses the combination with false).
    """
    sc = comp["security_context"]
    pod = dict(RESTRICTED_POD)
    container = dict(RESTRICTED_CONTAINER)
    if sc.get("privileged"):
        container.pop("allow_privilege_escalation")
    for key, value in sorted(sc.items()):
        if key in CONTAINER_SECURITY_KEYS:
            container[key] = value
        else:
            pod[key] = value
    return camelize(dict(sorted(pod.items()))), camelize(dict(sorted(container.items())))


def _affinity(system, comp):
    if comp["anti_affinity"] == "none":
        return None
    term = {
        "labelSelector": {"matchLabels": selector_labels(comp["name"], system.settings["system"])},
        "topologyKey": "kubernetes.io/hostname",
    }
    if comp["anti_affinity"] == "required":
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]}}


def wait_containers(system, comp):
    """One init container per ``wait_for`` entry, waiting for the TCP port of its Service."""
    result = []
    for dep in comp["wait_for"]:
        target = system.components[dep]
        host = system.dns(dep)
        port = target["ports"][0]["service_port"]
        container = {
            "name": f"wait-for-{dep}",
            "image": system.settings["wait_image"],
            "imagePullPolicy": system.settings["image_pull_policy"],
            "command": [
                "sh", "-c",
                f"until nc -z -w 2 {host} {port}; do echo waiting for {host}:{port}; sleep 2; done",
            ],
            "resources": WAIT_RESOURCES,
        }
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
        if comp["security_context"].get("run_as_non_root"):
            container["securityContext"].update(
                runAsNonRoot=True, runAsUser=comp["security_context"].get("run_as_user", 65534))
        result.append(container)
    return result


def _lifecycle_handler(comp, handler):
    """A Kubernetes LifecycleHandler from one hook of the record (exactly one handler, checked by the schema)."""
    if "sleep" in handler:
        return {"sleep": {"seconds": int(handler["sleep"]["seconds"])}}
    if "exec" in handler:
        command = handler["exec"]["command"] if isinstance(handler["exec"], dict) else handler["exec"]
        return {"exec": {"command": [str(c) for c in command]}}
    http = {k: v for k, v in handler["http_get"].items() if v not in (None, "")}
    http.setdefault("path", "/")
    http.setdefault("port", comp["ports"][0]["name"] if comp["ports"] else None)
    if isinstance(http["port"], str) and http["port"].isdigit():
        http["port"] = int(http["port"])
    return {"httpGet": camelize(dict(sorted(http.items())))}


def _lifecycle(comp):
    """The container's lifecycle (postStart, preStop) or None."""
    hooks = {camelize({hook: 0}).popitem()[0]: _lifecycle_handler(comp, handler)
             for hook, handler in sorted(comp["lifecycle"].items())}
    return hooks or None


def container(system, comp):
    image = comp["image"]
    name = comp["name"]
    main = {"name": name, "image": image_ref(image, system.settings), "imagePullPolicy": image_pull_policy(image, system.settings)}
    if comp["command"]:
        main["command"] = comp["command"]
    if comp["args"]:
        main["args"] = comp["args"]
    if comp["ports"]:
        main["ports"] = [{"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]} for p in comp["ports"]]
        if "PORT" not in comp["env"] and "PORT" not in comp["secrets"]:
            main["env"] = [{"name": "PORT", "value": str(comp["ports"][0]["port"])}]
    env_from = []
    if system.config_data(name):
        env_from.append({"configMapRef": {"name": system.config_name(name)}})
    if system.has_secret(name):
        env_from.append({"secretRef": {"name": system.secret_name(name)}})
    if env_from:
        main["envFrom"] = env_from
    if comp["resources"]:
        main["resources"] = comp["resources"]
    for kind in ("startup", "readiness", "liveness"):
        probe = _probe(comp, kind)
        if probe:
            main[f"{kind}Probe"] = probe
    mounts = []
    for volume in comp["storage"]:
        mount = {"name": volume["name"], "mountPath": volume["mount"]}
        if volume["sub_path"]:
            mount["subPath"] = volume["sub_path"]
        if volume["read_only"]:
            mount["readOnly"] = True
        mounts.append(mount)
    if mounts:
        main["volumeMounts"] = mounts
    lifecycle = _lifecycle(comp)
    if lifecycle:
        main["lifecycle"] = lifecycle
    _pod_sc, container_sc = _security_contexts(comp)
    if container_sc:
        main["securityContext"] = container_sc
    if comp["container"]:
        main = deep_merge(main, comp["container"])
    return main


def pod_template(system, comp, secret_values):
    settings = system.settings
    name = comp["name"]
    meta_labels = dict(comp["pod_labels"])
    meta_labels.update(labels(name, comp["tier"], settings["system"], image_version(comp["image"])))
    annotations = dict(comp["pod_annotations"])
    annotations[ANNOTATION_CHECKSUM] = config_checksum(system, comp, secret_values)
    if comp["metrics"]:
        annotations["prometheus.io/scrape"] = "true"
        annotations["prometheus.io/port"] = str(comp["metrics"]["port"])
        annotations["prometheus.io/path"] = comp["metrics"]["path"]
        if comp["metrics"]["scheme"]:
            annotations["prometheus.io/scheme"] = comp["metrics"]["scheme"]
    spec = {}
    sa = comp["service_account"]
    if sa:
        spec["serviceAccountName"] = sa["name"]
    else:
        spec["automountServiceAccountToken"] = False
    spec["enableServiceLinks"] = False
    if settings["image_pull_secrets"]:
        spec["imagePullSecrets"] = [{"name": s} for s in settings["image_pull_secrets"]]
    pod_sc, _container_sc = _security_contexts(comp)
    if pod_sc:
        spec["securityContext"] = pod_sc
    affinity = _affinity(system, comp)
    if affinity:
        spec["affinity"] = affinity
    init = wait_containers(system, comp)
    if init:
        spec["initContainers"] = init
    spec["containers"] = [container(system, comp)]
    volumes = []
    for volume in comp["storage"]:
        if volume["type"] == "emptyDir":
            empty = {}
            if volume["medium"]:
                empty["medium"] = volume["medium"]
            if volume["size_limit"]:
                empty["sizeLimit"] = volume["size_limit"]
            volumes.append({"name": volume["name"], "emptyDir": empty})
        elif comp["workload"] == "Deployment":
            volumes.append({"name": volume["name"], "persistentVolumeClaim": {"claimName": pvc_name(comp, volume)}})
    if volumes:
        spec["volumes"] = volumes
    if comp["workload"] == "CronJob":
        spec["restartPolicy"] = comp["restart_policy"]
    if comp["termination_grace_period_seconds"] is not None:
        spec["terminationGracePeriodSeconds"] = comp["termination_grace_period_seconds"]
    if comp["pod_spec"]:
        spec = deep_merge(spec, comp["pod_spec"])
    return {
        "metadata": {"labels": dict(sorted(meta_labels.items())), "annotations": dict(sorted(annotations.items()))},
        "spec": spec,
    }


def _workload_meta(system, comp):
    annotations = {}
    needs = system.needs[comp["name"]]
    if needs:
        annotations[ANNOTATION_NEEDS] = ",".join(needs)
    return _meta(system, comp["name"], comp["tier"], version=image_version(comp["image"]), annotations=annotations)


def _replicas(spec, comp):
    if not comp["autoscaling"]:
        spec["replicas"] = comp["replicas"]


def pvc_name(comp, volume):
    return "{}-{}".format(comp["name"], volume["name"])


def _pvc_spec(volume):
    spec = {"accessModes": volume["access_modes"], "resources": {"requests": {"storage": volume["size"]}}}
    if volume["storage_class"]:
        spec["storageClassName"] = volume["storage_class"]
    return spec


def pvc(system, comp, volume):
    """A PersistentVolumeClaim <component>-<volume> of a Deployment (StatefulSets use templates)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(system, comp["name"], comp["tier"], pvc_name(comp, volume)),
        "spec": _pvc_spec(volume),
    }


def deployment(system, comp, secret_values):
    spec = {}
    _replicas(spec, comp)
    spec["selector"] = {"matchLabels": selector_labels(comp["name"], system.settings["system"])}
    if comp["rolling_update"]:
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": camelize(comp["rolling_update"])}
    elif any(v["type"] == "pvc" and "ReadWriteOnce" in v["access_modes"] for v in comp["storage"]):
        # a second pod cannot mount a ReadWriteOnce volume on another node during a rollout
        spec["strategy"] = {"type": "Recreate"}
    spec["template"] = pod_template(system, comp, secret_values)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _workload_meta(system, comp), "spec": spec}


def statefulset(system, comp, secret_values):
    settings = system.settings
    spec = {}
    _replicas(spec, comp)
    spec["serviceName"] = comp["name"]
    spec["selector"] = {"matchLabels": selector_labels(comp["name"], settings["system"])}
    if comp["rolling_update"]:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": camelize(comp["rolling_update"])}
    spec["template"] = pod_template(system, comp, secret_values)
    templates = []
    for volume in comp["storage"]:
        if volume["type"] == "pvc":
            # volumeClaimTemplates are immutable: stable labels only, never the version
            templates.append({
                "metadata": {"name": volume["name"], "labels": labels(comp["name"], comp["tier"], settings["system"])},
                "spec": _pvc_spec(volume),
            })
    if templates:
        spec["volumeClaimTemplates"] = templates
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _workload_meta(system, comp), "spec": spec}


def cronjob(system, comp, secret_values):
    spec = {"schedule": comp["schedule"]}
    if comp["time_zone"]:
        spec["timeZone"] = comp["time_zone"]
    if comp["suspend"] is not None:
        spec["suspend"] = comp["suspend"]
    if comp["concurrency_policy"]:
        spec["concurrencyPolicy"] = comp["concurrency_policy"]
    if comp["successful_jobs_history_limit"] is not None:
        spec["successfulJobsHistoryLimit"] = comp["successful_jobs_history_limit"]
    if comp["failed_jobs_history_limit"] is not None:
        spec["failedJobsHistoryLimit"] = comp["failed_jobs_history_limit"]
    template = pod_template(system, comp, secret_values)
    job_spec = {}
    if comp["backoff_limit"] is not None:
        job_spec["backoffLimit"] = comp["backoff_limit"]
    job_spec["template"] = template
    spec["jobTemplate"] = {"metadata": {"labels": template["metadata"]["labels"]}, "spec": job_spec}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _workload_meta(system, comp), "spec": spec}


def workload(system, comp, secret_values):
    if comp["workload"] == "StatefulSet":
        return statefulset(system, comp, secret_values)
    if comp["workload"] == "CronJob":
        return cronjob(system, comp, secret_values)
    return deployment(system, comp, secret_values)


def service(system, comp):
    if not comp["service"]:
        return None
    annotations = {}
    if comp["health_path"]:
        annotations[ANNOTATION_HEALTH_PATH] = comp["health_path"]
        annotations[ANNOTATION_HEALTH_PORT] = comp["ports"][0]["name"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(system, comp["name"], comp["tier"], version=image_version(comp["image"]), annotations=annotations),
        "spec": {
            "type": comp["service_type"],
            "selector": selector_labels(comp["name"], system.settings["system"]),
            "ports": [
                {"name": p["name"], "port": p["service_port"], "targetPort": p["name"], "protocol": p["protocol"]}
                for p in comp["ports"]
            ],
        },
    }


def hpa(system, comp):
    auto = comp["autoscaling"]
    if not auto:
        return None
    metrics = []
    for resource in ("cpu", "memory"):
        if auto[resource] is not None:
            metrics.append({
                "type": "Resource",
                "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": auto[resource]}},
            })
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": comp["workload"], "name": comp["name"]},
        "minReplicas": auto["min_replicas"],
        "maxReplicas": auto["max_replicas"],
        "metrics": metrics,
    }
    if auto["behavior"]:
        spec["behavior"] = auto["behavior"]
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(system, comp["name"], comp["tier"]),
        "spec": spec,
    }


def pdb(system, comp):
    """A PodDisruptionBudget (at most one pod down) when the component runs more than one pod."""
    if comp["workload"] == "CronJob":
        return None
    count = comp["autoscaling"]["min_replicas"] if comp["autoscaling"] else comp["replicas"]
    if count <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(system, comp["name"], comp["tier"]),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(comp["name"], system.settings["system"])},
        },
    }


# --------------------------------------------------------------------------------------------
# ingress


def _backend(system, entry):
    target = system.components[entry["component"]]
    port = port_of(target, entry["port"], "genai_ingress")
    return {"service": {"name": target["name"], "port": {"number": port["service_port"]}}}


def ingress_hosts(settings):
    ing = settings["ingress"]
    if ing["mode"] == "single_domain":
        return [ing["domain"]]
    hosts = []
    for entry in ing["hosts"]:
        if entry["host"] not in hosts:
            hosts.append(entry["host"])
    return hosts


def self_signed_issuer_name(settings):
    return "{}-selfsigned".format(settings["ingress"]["name"])


def issuer(system):
    settings = system.settings
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": _meta(system, settings["ingress"]["name"], "ingress", self_signed_issuer_name(settings)),
        "spec": {"selfSigned": {}},
    }


def ingress(system):
    settings = system.settings
    ing = settings["ingress"]
    annotations = dict(ing["annotations"])
    tls = ing["tls"]
    if tls["mode"] == "cert_manager":
        key = ANNOTATION_CLUSTER_ISSUER if tls["issuer_kind"] == "ClusterIssuer" else ANNOTATION_ISSUER
        annotations[key] = tls["issuer"]
    elif tls["mode"] == "self_signed":
        annotations[ANNOTATION_ISSUER] = self_signed_issuer_name(settings)
    rules = []
    if ing["mode"] == "hosts":
        by_host = {}
        for entry in ing["hosts"]:
            if entry["host"] not in by_host:
                by_host[entry["host"]] = {"host": entry["host"], "http": {"paths": []}}
                rules.append(by_host[entry["host"]])
            by_host[entry["host"]]["http"]["paths"].append(
                {"path": entry["path"], "pathType": entry["path_type"], "backend": _backend(system, entry)})
    else:
        rules.append({"host": ing["domain"], "http": {"paths": [
            {"path": entry["path"], "pathType": entry["path_type"], "backend": _backend(system, entry)} for entry in ing["paths"]
        ]}})
    spec = {}
    if ing["class_name"]:
        spec["ingressClassName"] = ing["class_name"]
    if tls["mode"] != "none":
        spec["tls"] = [{"hosts": ingress_hosts(settings), "secretName": tls["secret_name"]}]
    spec["rules"] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(system, ing["name"], "ingress", annotations=annotations),
        "spec": spec,
    }


# --------------------------------------------------------------------------------------------
# tiers


def render_foundation(system):
    manifests = [namespace(system)]
    for comp in [system.components[n] for n in system.order]:
        manifests.extend(service_account(system, comp))
        cm = configmap(system, comp)
        if cm:
            manifests.append(cm)
    if system.settings["network_policies"]:
        # the allow rules go first, so that applying the default deny never cuts live traffic
        for comp in [system.components[n] for n in system.order]:
            policy = networkpolicy(system, comp)
            if policy:
                manifests.append(policy)
        manifests.append(default_deny_ingress(system))
    return manifests


def render_component(system, comp, secret_values):
    """PVCs, workload, Service, HPA and PDB of one component."""
    manifests = []
    if comp["workload"] == "Deployment":
        manifests.extend(pvc(system, comp, v) for v in comp["storage"] if v["type"] == "pvc")
    manifests.append(workload(system, comp, secret_values))
    for item in (service(system, comp), hpa(system, comp), pdb(system, comp)):
        if item:
            manifests.append(item)
    return manifests


def render_ingress(system):
    if not system.settings["ingress"]["enabled"]:
        return []
    manifests = []
    if system.settings["ingress"]["tls"]["mode"] == "self_signed":
        manifests.append(issuer(system))
    manifests.append(ingress(system))
    return manifests


# --------------------------------------------------------------------------------------------
# monitoring: Prometheus scraping the annotated pods of the namespace, Grafana reading it


# What an absent or null settings.monitoring.<key> means: the one source of these defaults.
# The monitoring role's monitoring_<key> are null by default (roles/monitoring/defaults/main.yml
# names these values) and reach settings.monitoring through roles/common/vars/main.yml.
MONITORING_DEFAULTS = {
    "prometheus_image": "docker.io/prom/prometheus:v2.54.1",
    "prometheus_resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                             "limits": {"cpu": "1", "memory": "1Gi"}},
    "scrape_interval": "30s",
    "retention": "2d",
    "grafana_image": "docker.io/grafana/grafana:11.2.0",
    "grafana_resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                          "limits": {"cpu": "500m", "memory": "512Mi"}},
    "image_pull_policy": "",
    "grafana_admin_user": "admin",
}
MONITORING_IMAGE_VERSION = re.compile(r":([^:/@]+)(@.*)?$")
# Scalars PyYAML writes without quotes in the two configuration files below (durations,
# DNS names): anything else is single-quoted, as PyYAML would.
_PLAIN_SCALAR = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}

# The text of prometheus.yml exactly as `to_nice_yaml(indent=2)` writes the configuration
# (sorted keys), so that its checksum annotation does not change with the renderer.
PROMETHEUS_CONFIG = r"""global:
  scrape_interval: {scrape_interval}
scrape_configs:
- job_name: kubernetes-pods
  kubernetes_sd_configs:
  - namespaces:
      names:
      - {namespace}
    role: pod
  relabel_configs:
  - action: keep
    regex: 'true'
    source_labels:
    - __meta_kubernetes_pod_annotation_prometheus_io_scrape
  - action: replace
    regex: (.+)
    source_labels:
    - __meta_kubernetes_pod_annotation_prometheus_io_path
    target_label: __metrics_path__
  - action: replace
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
    source_labels:
    - __address__
    - __meta_kubernetes_pod_annotation_prometheus_io_port
    target_label: __address__
  - action: labelmap
    regex: __meta_kubernetes_pod_label_(.+)
  - source_labels:
    - __meta_kubernetes_namespace
    target_label: namespace
  - source_labels:
    - __meta_kubernetes_pod_name
    target_label: pod
"""
GRAFANA_DATASOURCES = """apiVersion: 1
datasources:
- access: proxy
  isDefault: true
  name: Prometheus
  type: prometheus
  url: {url}
"""
MONITORING_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def _yaml_scalar(value):
    text = str(value)
    if (_PLAIN_SCALAR.fullmatch(text) and text.lower() not in _YAML_WORDS
            and not re.fullmatch(r"[0-9.eE+-]+", text)):
        return text
    return "'{}'".format(text.replace("'", "''"))


def monitoring_settings(settings):
    """settings.monitoring over MONITORING_DEFAULTS; the pull policy defaults to the collection's."""
    result = dict(MONITORING_DEFAULTS)
    result.update({k: v for k, v in (settings.get("monitoring") or {}).items() if v not in (None, "")})
    if not result["image_pull_policy"]:
        result["image_pull_policy"] = settings["image_pull_policy"]
    return result


def _monitoring_version(image):
    match = MONITORING_IMAGE_VERSION.search(image)
    return match.group(1) if match else "unknown"


def _monitoring_meta(system, app, name, version, annotations=None):
    meta = {"name": name, "namespace": system.settings["namespace"],
            "labels": labels(app, "monitoring", system.settings["system"], version)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _monitoring_deployment(system, name, image, version, config_text, pod_security, container, volumes, extra=None):
    mon = monitoring_settings(system.settings)
    spec = {"replicas": 1}
    spec.update(extra or {})
    pod_labels = labels(name, "monitoring", system.settings["system"], version)
    container = dict(container)
    container["image"] = image
    container["imagePullPolicy"] = mon["image_pull_policy"]
    ordered = {k: container[k] for k in ("name", "image", "imagePullPolicy") if k in container}
    ordered.update({k: v for k, v in container.items() if k not in ordered})
    ordered["securityContext"] = MONITORING_CONTAINER_SECURITY
    pod_spec = dict(pod_security.pop("pod", {}))
    pod_spec["securityContext"] = dict(pod_security, seccompProfile={"type": "RuntimeDefault"})
    pod_spec["containers"] = [ordered]
    pod_spec["volumes"] = volumes
    spec["selector"] = {"matchLabels": selector_labels(name, system.settings["system"])}
    spec["template"] = {
        "metadata": {"labels": pod_labels,
                     "annotations": {ANNOTATION_CHECKSUM: hashlib.sha256(config_text.encode("utf-8")).hexdigest()}},
        "spec": pod_spec,
    }
    return spec


def render_monitoring(system):
    """The monitoring tier: Prometheus (ServiceAccount, Role, RoleBinding, ConfigMap,
    Deployment, Service), Grafana (datasource ConfigMap, Deployment, Service) and a
    NetworkPolicy admitting traffic to both; [] unless settings.monitoring_enabled.

    Prometheus keeps samples in an emptyDir; Grafana reads its admin password from the
    Secret grafana-secrets (key GF_SECURITY_ADMIN_PASSWORD), rendered by monitoring_secrets.
    """
    settings = system.settings
    if not settings.get("monitoring_enabled"):
        return []
    mon = monitoring_settings(settings)
    ns, sysname = settings["namespace"], settings["system"]
    prom_version = _monitoring_version(mon["prometheus_image"])
    graf_version = _monitoring_version(mon["grafana_image"])
    prom_text = PROMETHEUS_CONFIG.format(scrape_interval=_yaml_scalar(mon["scrape_interval"]),
                                         namespace=_yaml_scalar(ns))
    url = "http://prometheus.{}.svc.{}:9090".format(ns, settings["cluster_domain"])
    graf_text = GRAFANA_DATASOURCES.format(url=url)

    def prom(name="prometheus", annotations=None):
        return _monitoring_meta(system, "prometheus", name, prom_version, annotations)

    def graf(name="grafana", annotations=None):
        return _monitoring_meta(system, "grafana", name, graf_version, annotations)

    def http_port(port):
        return [{"name": "http", "containerPort": port, "protocol": "TCP"}]

    def probes(ready, healthy):
        return {
            "readinessProbe": {"httpGet": {"path": ready, "port": "http"}, "periodSeconds": 10},
            "livenessProbe": {"httpGet": {"path": healthy, "port": "http"}, "initialDelaySeconds": 30,
                              "periodSeconds": 20},
        }

    prom_container = {"name": "prometheus", "args": [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time={}".format(mon["retention"]),
        "--web.enable-lifecycle",
    ], "ports": http_port(9090)}
    prom_container.update(probes("/-/ready", "/-/healthy"))
    prom_container["resources"] = mon["prometheus_resources"]
    prom_container["volumeMounts"] = [{"name": "config", "mountPath": "/etc/prometheus"},
                                      {"name": "data", "mountPath": "/prometheus"}]
    graf_container = {"name": "grafana", "env": [
        {"name": "GF_SECURITY_ADMIN_USER", "value": str(mon["grafana_admin_user"])},
        {"name": "GF_SECURITY_ADMIN_PASSWORD",
         "valueFrom": {"secretKeyRef": {"name": "grafana-secrets", "key": "GF_SECURITY_ADMIN_PASSWORD"}}},
        {"name": "GF_PATHS_PROVISIONING", "value": "/etc/grafana/provisioning"},
    ], "ports": http_port(3000)}
    graf_container.update(probes("/api/health", "/api/health"))
    graf_container["resources"] = mon["grafana_resources"]
    graf_container["volumeMounts"] = [{"name": "datasources", "mountPath": "/etc/grafana/provisioning/datasources"},
                                      {"name": "data", "mountPath": "/var/lib/grafana"}]

    def user(uid):
        return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid}

    prom_pod = user(65534)
    prom_pod["pod"] = {"serviceAccountName": "prometheus"}
    graf_pod = user(472)
    graf_pod["pod"] = {"automountServiceAccountToken": False}

    def svc(name, metadata, port, ready):
        metadata["annotations"] = {ANNOTATION_HEALTH_PATH: ready, ANNOTATION_HEALTH_PORT: "http"}
        return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {
            "type": "ClusterIP", "selector": selector_labels(name, sysname),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]}}

    policy_labels = {k: v for k, v in labels("monitoring", "monitoring", sysname).items()
                     if k != "app.kubernetes.io/name"}
    policy_labels["app.kubernetes.io/name"] = "monitoring"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": prom()},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": prom(),
         "rules": [{"apiGroups": [""], "resources": ["pods", "services", "endpoints"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": prom(),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "prometheus"},
         "subjects": [{"kind": "ServiceAccount", "name": "prometheus", "namespace": ns}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": prom("prometheus-config"),
         "data": {"prometheus.yml": prom_text}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": prom(),
         "spec": _monitoring_deployment(
             system, "prometheus", mon["prometheus_image"], prom_version, prom_text, prom_pod, prom_container,
             [{"name": "config", "configMap": {"name": "prometheus-config"}}, {"name": "data", "emptyDir": {}}],
             {"strategy": {"type": "Recreate"}})},
        svc("prometheus", prom(), 9090, "/-/ready"),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": graf("grafana-datasources"),
         "data": {"prometheus.yaml": graf_text}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": graf(annotations={ANNOTATION_NEEDS: "prometheus"}),
         "spec": _monitoring_deployment(
             system, "grafana", mon["grafana_image"], graf_version, graf_text, graf_pod, graf_container,
             [{"name": "datasources", "configMap": {"name": "grafana-datasources"}}, {"name": "data", "emptyDir": {}}])},
        svc("grafana", graf(), 3000, "/api/health"),
        # The namespace denies ingress by default: admit anything to Prometheus and Grafana
        # (port-forward and an Ingress the user adds); the components admit Prometheus.
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {
            "name": "monitoring", "namespace": ns, "labels": policy_labels},
         "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/component": "monitoring",
                                                  "app.kubernetes.io/part-of": sysname}},
                  "policyTypes": ["Ingress"], "ingress": [{}]}},
    ]


def render_tier(system, tier, secret_values):
    if tier not in RENDER_TIERS:
        raise SystemDefinitionError("tier", "must be one of {}, got {!r}".format(", ".join(RENDER_TIERS), tier))
    if tier == "foundation":
        return render_foundation(system)
    if tier == "ingress":
        return render_ingress(system)
    if tier == "monitoring":
        return render_monitoring(system)
    manifests = []
    for comp in system.tier_components(tier):
        manifests.extend(render_component(system, comp, secret_values))
    return manifests


def monitoring_secrets(system, secret_values):
    """The generated Secrets of the monitoring tier (grafana-secrets); [] unless monitoring is enabled.

    Their values are resolved with the components' (system.resolve_secrets: kept from the
    cluster, else generated) under the keys of system.MONITORING_SECRETS.
    """
    if not system.settings.get("monitoring_enabled"):
        return []
    manifests = []
    for entry, (secret_name, app, keys) in sorted(MONITORING_SECRETS.items()):
        values = (secret_values or {}).get(entry) or {}
        missing = sorted(k for k in keys if values.get(k) in (None, ""))
        if missing:
            raise SystemDefinitionError("genai_monitoring_enabled", "no value for {} of Secret {} (run resolve_secrets first)".format(
                ", ".join(missing), secret_name))
        manifests.append({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": system.settings["namespace"],
                         "labels": labels(app, "monitoring", system.settings["system"])},
            "type": "Opaque",
            "data": {key: _b64(str(values[key])) for key in sorted(keys)},
        })
    return manifests


def render_secrets(system, secret_values, tier=None):
    """Every generated Secret: one per component with sensitive values (tier foundation), then
    the monitoring tier's. ``tier`` keeps only the Secrets applied with that tier."""
    manifests = []
    if tier in (None, "foundation"):
        for name in system.order:
            item = secret(system, system.components[name], secret_values)
            if item:
                manifests.append(item)
    if tier in (None, "monitoring"):
        manifests.extend(monitoring_secrets(system, secret_values))
    return manifests

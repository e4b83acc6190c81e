# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one schema of a genai.stack system: the component record, ``genai_ingress`` and the
collection-wide ``genai_*`` settings, as JSON Schema (draft 2020-12), plus the checks a schema
cannot express (requests against limits, cron schedules, IANA time zones, values YAML typed
behind the user's back).

``validate(components, settings)`` returns EVERY problem at once, each as
``"<variable path>: <message>"`` (for example
``genai_components.redis.resources: requests.cpu 500m exceeds limits.cpu 200m``). It checks the
record as the user wrote it, before defaults are filled in; the cross-references between
components (refs, needs, ingress backends) are checked by ``system.py`` afterwards.

Where each rule comes from:

- names: a component name is its Service name, a DNS-1035 label (at most 63 characters,
  starting with a letter). A StatefulSet's pods carry the label
  ``controller-revision-hash=<name>-<hash>``; a label value holds at most 63 characters and the
  hash takes up to 11, so a StatefulSet name longer than 52 characters creates no pods
  (kubernetes/kubernetes#64023). Kubernetes validation refuses CronJob names over 52
  characters (its Jobs get an 11-character suffix).
- ports: IANA service names (at most 15 characters, a letter, no ``--``), as the API server
  checks container port names.
- images: the reference grammar of the OCI distribution specification
  (distribution/reference: domain, lowercase path components, tag ``[\\w][\\w.-]{0,127}``,
  digest ``algorithm:hex``).
- Ingress hosts: RFC 1123 DNS names, a leading ``*.`` allowed (Ingress API validation); no
  scheme, port or path.
- cron: the five fields of the standard cron syntax Kubernetes uses (robfig/cron), or one of
  ``@yearly @annually @monthly @weekly @daily @midnight @hourly``; time zones from the IANA
  database (``zoneinfo.available_timezones()``).
- quantities: Kubernetes resource quantities (``250m``, ``0.5``, ``128Mi``, ``1G``, ``1e3``).

``jsonschema`` is imported inside ``validate`` only: filters are loaded in every task worker and
most of them never validate.
"""

import datetime
import re
from decimal import Decimal, InvalidOperation

# --------------------------------------------------------------------------------------------
# patterns (one place; system.py and render.py use them too)

DNS_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
OPTIONAL_DNS_SUBDOMAIN = "^$|" + DNS_SUBDOMAIN
INGRESS_HOST = (r"^(?![0-9]+(\.[0-9]+){3}$)(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
                r"(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$")
PORT_NAME = r"^(?!.*--)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = r"(?:{0}(?:\.{0})*(?::[0-9]+)?)".format(_DOMAIN_COMPONENT)
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
IMAGE_REPOSITORY = r"^(?:{0}/)?{1}(?:/{1})*$".format(_DOMAIN, _PATH_COMPONENT)
IMAGE_REGISTRY = r"^{0}(?:/{1})*$".format(_DOMAIN, _PATH_COMPONENT)
IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
IMAGE_DIGEST = r"^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}|blake3:[a-f0-9]{64})$"
# a whole reference: repository, then :tag and/or @digest (the monitoring role's images)
IMAGE_REFERENCE = "^{0}(?::{1})?(?:@{2})?$".format(IMAGE_REPOSITORY[1:-1], IMAGE_TAG[1:-1], IMAGE_DIGEST[1:-1])
QUANTITY = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|[KMGTPE]i|[numkMGTPE]|)$"
INT_STRING = r"^[0-9]+$"
PERCENT = r"^[0-9]+%$"

STATEFULSET_NAME_MAX = 52
CRONJOB_NAME_MAX = 52
TIERS = ("datastores", "backend", "worker", "frontend")
CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")

# --------------------------------------------------------------------------------------------
# schema building blocks


def _d(description, schema):
    result = dict(schema)
    result["description"] = description
    return result


def _str(description, pattern=None, message=None, **extra):
    schema = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    if message:
        schema["x-message"] = message
    schema.update(extra)
    return _d(description, schema)


def _int(description, minimum=0, maximum=None):
    """An integer, or a string of digits (what a Jinja expression renders)."""
    number = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        number["maximum"] = maximum
    return _d(description, {"anyOf": [number, {"type": "string", "pattern": INT_STRING}],
                            "x-message": "expected an integer{}{}".format(
                                f" >= {minimum}" if minimum is not None else "",
                                f" and <= {maximum}" if maximum is not None else "")})


def _bool(description):
    return _d(description, {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": [
        "true", "false", "True", "False", "yes", "no", "on", "off"]}], "x-message": "expected a boolean"})


def _enum(description, values):
    return _d(description, {"enum": list(values)})


def _list(description, items, **extra):
    return _d(description, dict({"type": ["array", "null"], "items": items}, **extra))


def _dict(description, properties=None, required=(), additional=False, **extra):
    schema = {"type": ["object", "null"]}
    if properties is not None:
        schema["properties"] = properties
        schema["additionalProperties"] = additional
    elif additional is not False:
        schema["additionalProperties"] = additional
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return _d(description, schema)


QUANTITY_SCHEMA = {"x-type": "quantity", "anyOf": [{"type": "number"}, {"type": "string", "pattern": QUANTITY}],
                   "x-message": "expected a Kubernetes quantity such as 250m, 0.5, 128Mi or 1Gi"}
ARG = {"x-type": "str", "anyOf": [{"type": "string"}, {"type": "integer"}],
       "x-message": "expected a string (quote it)"}
PORT_REF = {"x-type": "port name or int",
            "anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535}, {"type": "string", "pattern": PORT_NAME}],
            "description": "A port of the component: its name or its number.",
            "x-message": "expected a port name or a number 1-65535"}
HTTP_PATH = {"type": "string", "pattern": "^/", "x-message": "must start with '/'"}

IMAGE = _dict("The container image. The tag or digest go in their own fields, never in repository.", {
    "repository": _str("Repository, optionally with its registry (registry.example.com/team/app).",
                       IMAGE_REPOSITORY, "not an image repository by the OCI distribution grammar "
                       "(lowercase path components separated by '/', no spaces, no tag)", maxLength=255),
    "tag": _str("Tag (default latest; genai_image_tag replaces it for application tiers).", IMAGE_TAG,
                "not an image tag (at most 128 characters: letters, digits, '_', '.', '-')"),
    "digest": _str("Digest algorithm:hex; wins over the tag.", IMAGE_DIGEST,
                   "expected sha256: and 64 lowercase hex digits (or sha384:/96, sha512:/128), as the container "
                   "runtime checks it"),
    "registry": _str("Registry prefix for this image (default genai_image_registry).", IMAGE_REGISTRY,
                     "not a registry host (name[:port][/path])"),
    "pull_policy": _enum("imagePullPolicy (default genai_image_pull_policy; Always for :latest).",
                         ("", "Always", "IfNotPresent", "Never")),
}, required=("repository",))

PORT = {"x-type": "int or dict", "anyOf": [
    {"type": "integer", "minimum": 1, "maximum": 65535},
    _dict("A port.", {
        "name": _str("IANA service name, at most 15 characters (default port-<port>).", PORT_NAME,
                     "must be an IANA service name (a-z, 0-9, '-', with a letter, no '--')", maxLength=15),
        "port": _int("Container port.", 1, 65535),
        "container_port": _int("Alias of port.", 1, 65535),
        "service_port": _int("Service port (default: port).", 1, 65535),
        "protocol": _enum("Protocol (default TCP).", ("TCP", "UDP", "SCTP")),
    }, anyOf=[{"required": ["port"]}, {"required": ["container_port"]}]),
]}

PROBE_TIMINGS = ("initial_delay_seconds", "period_seconds", "timeout_seconds", "failure_threshold",
                 "success_threshold", "termination_grace_period_seconds")
PROBE = _dict("A probe: at most one handler, and timings. Timings alone keep the handler derived from "
              "health_path (readiness without one: a TCP check of the primary port).", dict({
                  "http_get": _dict("HTTP GET: path (starts with /, default /), port (name or number, "
                                    "default the primary port), scheme, host, http_headers.", {
                                        "path": _d("Path (starts with /).", HTTP_PATH), "port": PORT_REF,
                                        "scheme": _enum("HTTP (default) or HTTPS.", ("HTTP", "HTTPS")),
                                        "host": _str("Host header (default: the pod IP)."),
                                        "http_headers": _list("Headers: [{name, value}].", {"type": "object"})}),
                  "tcp_socket": _dict("TCP connect: port (name or number, default the primary port).",
                                      {"port": PORT_REF, "host": _str("Host (default: the pod IP).")}),
                  "grpc": _dict("gRPC health check: port (a number), service.",
                                {"port": _d("Port number.", {"type": "integer", "minimum": 1, "maximum": 65535}),
                                 "service": _str("gRPC service name.")}),
                  "exec": _d("Command run in the container (a list, or {command: [...]}).",
                             {"anyOf": [{"type": "array", "items": ARG, "minItems": 1},
                                        {"type": "object", "properties": {"command": _d("The command.", {
                                            "type": "array", "items": ARG, "minItems": 1})},
                                         "required": ["command"], "additionalProperties": False}]}),
              }, **{k: _int(k.replace("_", " ").capitalize() + ".") for k in PROBE_TIMINGS}))

ENV_REF = _dict("A reference to another component: its URL, host, port or host:port, derived from its Service.", {
    "ref": _str("The component referred to.", DNS_LABEL, "must name a component"),
    "scheme": _str("URL scheme (default http)."),
    "user": _str("User put in the URL."),
    "password": _dict("A secret of a component put in the URL (the value then goes to the Secret).", {
        "secret": _str("Component owning the secret."), "key": _str("Its secrets key.")}, required=("secret", "key")),
    "path": _str("Path appended to the URL."),
    "port": PORT_REF,
    "part": _enum("url (default), host, port or hostport.", ("url", "host", "port", "hostport")),
    "query": _str("Query string appended to the URL."),
}, required=("ref",))
ENV_SECRET = _dict("A copy of another component's secret (goes to this component's Secret).", {
    "secret": _str("Component owning the secret."), "key": _str("Its secrets key.")}, required=("secret", "key"))
ENV_VALUE = _dict("A literal; sensitive: true puts it in the Secret instead of the ConfigMap.", {
    "value": _str("The value."), "sensitive": _bool("Put the value in the Secret.")}, required=("value",))
ENV = _dict("Environment: NAME -> a quoted string (ConfigMap <name>-config) or a dict with ref, secret or value.",
            propertyNames={"pattern": ENV_NAME},
            additional={"anyOf": [{"type": "string"}, ENV_REF, ENV_SECRET, ENV_VALUE],
                        "x-message": "expected a quoted string or a dict with ref, secret or value"})
SECRET = {"x-type": "str or dict", "anyOf": [
    {"type": ["string", "null"]},
    _dict("A secret value.", {
        "generate": {"anyOf": [{"const": True}, {"type": "integer", "minimum": 8, "maximum": 256}],
                     "description": "length of a value generated once (true: 24)"},
        "value": {"type": "string", "description": "the value (from a vault); always wins"},
    }, **{"not": {"required": ["generate", "value"]}}),
], "x-message": "expected a string, or a dict with generate or value (not both)"}
STORAGE = _dict("A volume: a PersistentVolumeClaim (a volumeClaimTemplate for a StatefulSet) or an emptyDir.", {
    "name": _str("Volume name (a DNS label).", DNS_LABEL, "must be a DNS label", maxLength=63),
    "mount": _str("Mount path in the container.", "^/", "must be an absolute path", minLength=1),
    "type": _enum("pvc (default) or emptyDir.", ("pvc", "emptyDir")),
    "size": _d("PVC size (a quantity).", QUANTITY_SCHEMA),
    "access_modes": _list("PVC access modes (default [ReadWriteOnce]).",
                          {"enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]}),
    "storage_class": _str("StorageClass (default: the cluster's default)."),
    "sub_path": _str("subPath of the mount."),
    "read_only": _bool("Mount read-only."),
    "medium": _str("emptyDir medium (Memory)."),
    "size_limit": _d("emptyDir sizeLimit (a quantity).", QUANTITY_SCHEMA),
}, required=("name", "mount"))
RESOURCES = _dict("Container resources: requests and limits (cpu, memory, ...); requests may not exceed limits.", {
    "requests": _dict("Requests: resource name -> quantity.", additional=QUANTITY_SCHEMA),
    "limits": _dict("Limits: resource name -> quantity.", additional=QUANTITY_SCHEMA),
})
AUTOSCALING = _dict("A HorizontalPodAutoscaler (and a PodDisruptionBudget); the HPA owns spec.replicas.", {
    "enabled": _bool("false: no HPA."),
    "min_replicas": _int("Minimum replicas (default 1).", 1),
    "max_replicas": _int("Maximum replicas.", 1),
    "cpu": _int("Target CPU utilization, percent of requests.cpu.", 1),
    "memory": _int("Target memory utilization, percent of requests.memory.", 1),
    "behavior": _dict("HPA behavior (snake_case or camelCase keys).", additional=True),
})
SECURITY_CONTEXT = _dict("Pod and container securityContext fields in snake_case. Every pod is restricted by "
                         "default (seccomp RuntimeDefault, no privilege escalation, all capabilities dropped); "
                         "fields given here win (e.g. capabilities: {add: [...]}).", {
                             "run_as_non_root": _bool("Refuse to start as root."),
                             "run_as_user": _int("UID."), "run_as_group": _int("GID."), "fs_group": _int("fsGroup."),
                             "fs_group_change_policy": _str("fsGroupChangePolicy."),
                             "supplemental_groups": _list("supplementalGroups.", {"type": "integer"}),
                             "seccomp_profile": _dict("seccompProfile (default RuntimeDefault).", additional=True),
                             "se_linux_options": _dict("seLinuxOptions.", additional=True),
                             "sysctls": _list("sysctls.", {"type": "object"}),
                             "allow_privilege_escalation": _bool("Container: allowPrivilegeEscalation."),
                             "capabilities": _dict("Container: capabilities add/drop.", additional=True),
                             "privileged": _bool("Container: privileged."),
                             "read_only_root_filesystem": _bool("Container: readOnlyRootFilesystem."),
                             "proc_mount": _str("Container: procMount."),
                         })
SERVICE_ACCOUNT = _d("A ServiceAccount (true: create one named as the component), with Role rules.", {"anyOf": [
    {"type": "boolean"},
    _dict("ServiceAccount settings.", {
        "create": _bool("Create it (default true); false uses an existing one."),
        "name": _str("Its name (default: the component).", OPTIONAL_DNS_SUBDOMAIN, "must be a DNS name",
                     maxLength=253),
        "automount_token": _bool("Mount its token (default: when it has rules or is not created here)."),
        "rules": _list("Role rules.", _dict("A rule.", {
            "api_groups": _list("API groups (\"\" is the core group).", {"type": "string"}),
            "resources": _list("Resources.", {"type": "string"}, minItems=1),
            "verbs": _list("Verbs.", {"type": "string"}, minItems=1),
            "resource_names": _list("Object names.", {"type": "string"}),
        }, required=("resources", "verbs"))),
    })]})
METRICS = _d("Prometheus scrape annotations (true: /metrics on the primary port).", {"anyOf": [
    {"type": "boolean"},
    _dict("Scrape settings.", {"path": _d("Path (default /metrics).", HTTP_PATH), "port": _int("Port number.", 1, 65535),
                               "scheme": _str("http or https.")})]})

EXEC_COMMAND = {"anyOf": [{"type": "array", "items": ARG, "minItems": 1},
                          {"type": "object", "properties": {"command": _d("The command.", {
                              "type": "array", "items": ARG, "minItems": 1})},
                           "required": ["command"], "additionalProperties": False}]}
LIFECYCLE_HANDLER = _dict("A Kubernetes LifecycleHandler: exactly one of sleep, exec, http_get.", {
    "sleep": _dict("Sleep this long (the kubelet's own sleep; the image needs no sleep binary).",
                   {"seconds": _int("Seconds to sleep.", 1)}, required=("seconds",)),
    "exec": _d("Command run in the container (a list, or {command: [...]}).", EXEC_COMMAND),
    "http_get": _dict("HTTP GET: path (starts with /, default /), port (name or number, default the primary "
                      "port), scheme, host, http_headers.", {
                          "path": _d("Path (starts with /).", HTTP_PATH), "port": PORT_REF,
                          "scheme": _enum("HTTP (default) or HTTPS.", ("HTTP", "HTTPS")),
                          "host": _str("Host header (default: the pod IP)."),
                          "http_headers": _list("Headers: [{name, value}].", {"type": "object"})}),
})
LIFECYCLE = _dict("Container lifecycle hooks. pre_stop runs before SIGTERM (e.g. sleep: {seconds: 5} so that "
                  "the endpoints and the ingress controller stop sending traffic before the application "
                  "stops); it counts against termination_grace_period_seconds.", {
                      "pre_stop": LIFECYCLE_HANDLER,
                      "post_start": LIFECYCLE_HANDLER,
                  })

COMPONENT_PROPERTIES = {
    "tier": _enum("Required: the tier that applies and waits for it.", TIERS),
    "workload": _enum("Deployment (default), StatefulSet or CronJob.", ("Deployment", "StatefulSet", "CronJob")),
    "image": IMAGE,
    "description": _str("What the component is (documentation only)."),
    "enabled": _bool("false: not deployed, and removed from the cluster on the next run."),
    "command": _list("Container command.", ARG),
    "args": _list("Container args (empty strings are legal).", ARG),
    "ports": _list("Ports; the first is the primary port (PORT env, derived probes, health path).", PORT),
    "service": _bool("Render a Service named as the component (default: when it has ports)."),
    "service_type": _enum("ClusterIP (default), NodePort or LoadBalancer.", ("ClusterIP", "NodePort", "LoadBalancer")),
    "replicas": _int("Replicas (default 1; genai_replicas overrides)."),
    "resources": RESOURCES,
    "health_path": _str("HTTP path for the derived readiness and liveness probes and the health check.",
                        "^/", "must start with '/'"),
    "probes": _dict("Explicit probes: readiness, liveness, startup.",
                    {"readiness": PROBE, "liveness": PROBE, "startup": PROBE}),
    "env": ENV,
    "secrets": _dict("Secret <name>-secrets, injected as env: KEY -> {generate: N} | {value: ...} | {} (must exist).",
                     propertyNames={"pattern": ENV_NAME}, additional=SECRET),
    "needs": _list("Extra dependencies (refs, secret refs and wait_for add theirs).", {"type": "string"}),
    "wait_for": _list("Components waited for by an init container (TCP connect to their Service).", {"type": "string"}),
    "storage": _list("Volumes.", STORAGE),
    "autoscaling": AUTOSCALING,
    "rolling_update": _dict("Update strategy: max_surge, max_unavailable (number or percent), partition.", {
        k: _d(k + ": a number or a percent.", {"anyOf": [
            {"type": "integer", "minimum": 0}, {"type": "string", "pattern": PERCENT + "|" + INT_STRING}]})
        for k in ("max_surge", "max_unavailable", "partition")}),
    "security_context": SECURITY_CONTEXT,
    "lifecycle": LIFECYCLE,
    "termination_grace_period_seconds": _int("Pod: seconds a pod has to stop, pre_stop included, before it is "
                                             "killed (default: Kubernetes' 30)."),
    "anti_affinity": _enum("Spread pods over nodes: none (default), preferred, required.", ("none", "preferred", "required")),
    "schedule": _str("CronJob: the cron schedule (five fields or @hourly ...)."),
    "time_zone": _str("CronJob: an IANA time zone (Europe/Berlin)."),
    "suspend": _bool("CronJob: suspend."),
    "concurrency_policy": _enum("CronJob: Allow, Forbid, Replace.", ("", "Allow", "Forbid", "Replace")),
    "backoff_limit": _int("CronJob: the Job's backoffLimit."),
    "restart_policy": _enum("CronJob: OnFailure (default) or Never.", ("OnFailure", "Never")),
    "successful_jobs_history_limit": _int("CronJob: successful Jobs kept."),
    "failed_jobs_history_limit": _int("CronJob: failed Jobs kept."),
    "metrics": METRICS,
    "service_account": SERVICE_ACCOUNT,
    "expose": _bool("Admit the ingress controller in the NetworkPolicy. Derived: true for every component "
                    "genai_ingress routes to; set it only for an Ingress genai.stack does not render."),
    "pod_annotations": _dict("Extra pod annotations.", additional={"type": "string"}),
    "pod_labels": _dict("Extra pod labels.", additional={"type": "string"}),
    "pod_spec": _dict("Escape hatch deep-merged into the pod spec (camelCase; lists replace).", additional=True),
    "container": _dict("Escape hatch deep-merged into the main container (camelCase; lists replace).", additional=True),
}
COMPONENT = {"type": "object", "properties": COMPONENT_PROPERTIES, "additionalProperties": False,
             "required": ["tier", "image"]}

INGRESS_ENTRY = {
    "component": _str("Backend component (it needs a Service).", DNS_LABEL, "must name a component"),
    "port": PORT_REF,
    "path": _str("Path (default /).", "^/", "must start with '/'"),
    "path_type": _enum("Prefix (default), Exact or ImplementationSpecific.", ("Prefix", "Exact", "ImplementationSpecific")),
}
HOST_MESSAGE = ("must be a DNS name such as api.example.com (RFC 1123, lowercase, a leading '*.' allowed), "
                "without scheme, port or path")
INGRESS = _dict("The Ingress of the system.", {
    "enabled": _bool("Render the Ingress."),
    "name": _str("Ingress name (default: the system name).", OPTIONAL_DNS_SUBDOMAIN, "must be a DNS name"),
    "class_name": _str("ingressClassName (default nginx)."),
    "mode": _enum("hosts (a host per component) or single_domain (one host, a path per component).",
                  ("hosts", "single_domain")),
    "hosts": _list("mode hosts: {host, component, port, path, path_type}.", _dict("A host.", dict(
        {"host": _str("Host name.", INGRESS_HOST, HOST_MESSAGE, maxLength=253)}, **INGRESS_ENTRY),
        required=("host", "component"))),
    "domain": _str("mode single_domain: the host.", "^$|" + INGRESS_HOST, HOST_MESSAGE, maxLength=253),
    "paths": _list("mode single_domain: {path, component, port, path_type}.",
                   _dict("A path.", INGRESS_ENTRY, required=("component",))),
    "annotations": _dict("Ingress annotations.", additional={"type": "string"}),
    "controller_namespace": _str("Namespace of the ingress controller (admitted by NetworkPolicies)."),
    "tls": _dict("TLS.", {
        "mode": _enum("cert_manager, self_signed, secret or none.", ("cert_manager", "self_signed", "secret", "none")),
        "secret_name": _str("TLS Secret name.", OPTIONAL_DNS_SUBDOMAIN, "must be a DNS name"),
        "issuer": _str("cert-manager issuer name (mode cert_manager)."),
        "issuer_kind": _enum("ClusterIssuer (default) or Issuer.", ("ClusterIssuer", "Issuer")),
    }),
})

SETTINGS = {"type": "object", "additionalProperties": True, "properties": {
    "system": _str("genai_system: the system's name (label part-of).", DNS_LABEL, "must be a DNS label", maxLength=63),
    "namespace": _str("genai_namespace.", DNS_LABEL, "must be a DNS label", maxLength=63),
    "cluster_domain": _str("genai_cluster_domain.", r"^\.?[a-z0-9]([-a-z0-9.]*[a-z0-9])?\.?$", "must be a DNS name"),
    "image_registry": _str("genai_image_registry.", "^$|" + IMAGE_REGISTRY, "not a registry host (name[:port][/path])"),
    "image_pull_policy": _enum("genai_image_pull_policy.", ("Always", "IfNotPresent", "Never")),
    "image_pull_secrets": _list("genai_image_pull_secrets.", {"type": "string", "pattern": DNS_SUBDOMAIN}),
    "image_overrides": _dict("genai_image_overrides: component -> image fields.",
                             additional={k: v for k, v in IMAGE.items() if k != "required"}),
    "image_tag": _str("genai_image_tag.", "^$|" + IMAGE_TAG, "not an image tag"),
    "replicas": _dict("genai_replicas: component -> replicas.", additional=_int("Replicas.")),
    "ingress": INGRESS,
    "monitoring_enabled": _bool("genai_monitoring_enabled."),
    "network_policies": _bool("genai_network_policies."),
    "network_policy_allow_from": _list("genai_network_policy_allow_from.", {"type": "object"}),
    "pod_security_level": _enum("genai_pod_security_level.", ("privileged", "baseline", "restricted")),
    "wait_image": _str("genai_wait_image."),
}}

# --------------------------------------------------------------------------------------------
# checks a schema cannot express

_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10) ** 3,
            "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18}


def parse_quantity(value):
    """A Kubernetes quantity (``500m``, ``0.5``, ``128Mi``, ``1G``, ``1e3``, 2) as a Decimal; None if invalid."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    match = re.match(r"^([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][-+]?[0-9]+|[KMGTPE]i|[numkMGTPE]|)$", text)
    if not match:
        return None
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
    except InvalidOperation:
        return None
    if suffix[:1] in ("e", "E"):
        return amount * (Decimal(10) ** int(suffix[1:]))
    if suffix in _BINARY:
        return amount * _BINARY[suffix]
    if suffix in _DECIMAL:
        return amount * _DECIMAL[suffix]
    return None


_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
                ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
                ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")))


def cron_problem(schedule):
    """Why ``schedule`` is not a standard 5-field cron schedule, or None when it is."""
    text = str(schedule).strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "a time zone in the schedule is refused by Kubernetes; set time_zone instead"
    if text.startswith("@"):
        return None if text in CRON_MACROS else "unknown macro {!r} (one of {})".format(text, ", ".join(CRON_MACROS))
    fields = text.split()
    if len(fields) != 5:
        return "expected 5 fields (minute hour day-of-month month day-of-week), got {}".format(len(fields))
    for field, (what, low, high, names) in zip(fields, _CRON_FIELDS):
        for part in field.split(","):
            problem = _cron_part(part, low, high, names, what in ("day of month", "day of week"))
            if problem:
                return "{} field {!r}: {}".format(what, field, problem)
    return None


def _cron_value(text, names, low):
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not re.match(r"^[0-9]+$", text):
        raise ValueError(text)
    return int(text)


def _cron_part(part, low, high, names, question):
    base, _sep, step = part.partition("/")
    if _sep and (not step.isdigit() or int(step) == 0):
        return f"step {step!r} must be a positive number"
    if base in ("*",) or (question and base == "?"):
        return None
    try:
        bounds = [_cron_value(x, names, low) for x in base.split("-")]
    except ValueError as exc:
        return f"{exc.args[0]!r} is not a number or name"
    if len(bounds) > 2:
        return f"{base!r} is not a value or range"
    for value in bounds:
        if value < low or value > high:
            return f"{value} is outside {low}-{high}"
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        return f"range {base!r} runs backwards"
    return None


def time_zones():
    """The IANA time zone names known to this Python (the system's tzdata or the tzdata package)."""
    import zoneinfo  # pylint: disable=import-outside-toplevel
    return zoneinfo.available_timezones()


def yaml_typed_problem(key, value):
    """Why an env value is not what the user wrote, when YAML turned it into a bool, number or null.

    Kubernetes takes env values and ConfigMap data as strings only; the unquoted words, numbers
    and dates of YAML 1.1 (yes, off, 0123, 1.10, ~, 2024-01-01) arrive here already changed, so the message
    says what YAML made of them and asks for the value quoted as written.
    """
    if isinstance(value, bool):
        words = "'yes' (or 'on', 'true')" if value else "'no' (or 'off', 'false')"
        return ("YAML read an unquoted yes/no/on/off/true/false as the boolean {}; quote the word you wrote, "
                "e.g. {}: {}".format(str(value).lower(), key, words))
    if value is None:
        return f"YAML read an empty value or ~ as null; quote what you mean, e.g. {key}: ''"
    if isinstance(value, (datetime.date, datetime.datetime)):
        what = "timestamp" if isinstance(value, datetime.datetime) else "date"
        return (f"YAML read an unquoted date or timestamp as the {what} {value.isoformat()}; "
                f"quote it as you wrote it, e.g. {key}: '{value}'")
    if isinstance(value, float):
        return (f"YAML read an unquoted number as the float {value!r} (1.10 becomes 1.1, 1e3 becomes 1000.0); "
                f"quote it as you wrote it, e.g. {key}: '{value}'")
    if isinstance(value, int):
        return (f"YAML read an unquoted number as the integer {value} (0123 becomes 83, 1_000 becomes 1000); "
                f"quote it as you wrote it, e.g. {key}: '{value}'")
    return None


RESOURCE_NAME = re.compile(r"^(?:[a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def resource_problems(path, resources, quantities=False):
    """What the API server refuses in a container's resources, as (path, message) pairs.

    Quantities are compared by value (0.5 = 500m, 1Gi = 1024Mi); requests may not exceed
    limits; names are cpu, memory, ephemeral-storage, hugepages-<size> or a domain-qualified
    extended resource (nvidia.com/gpu), which cannot be overcommitted: its request equals its
    limit, and it needs a limit.
    """
    problems = []
    if not isinstance(resources, dict):
        return problems
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    if quantities:  # where no schema checked them (the monitoring role's settings)
        for part, values in (("requests", requests), ("limits", limits)):
            for resource, value in values.items():
                if parse_quantity(value) is None or isinstance(value, bool):
                    problems.append((f"{path}.{part}.{resource}", "{}, got {!r}".format(
                        QUANTITY_SCHEMA["x-message"], value)))
    for part, values in (("requests", requests), ("limits", limits)):
        for resource in values:
            text = str(resource)
            if text in STANDARD_RESOURCES or text.startswith("hugepages-"):
                continue
            if "/" not in text or not RESOURCE_NAME.match(text) or text.startswith(("kubernetes.io/", "requests.")):
                problems.append((f"{path}.{part}.{resource}", "not a resource Kubernetes knows: cpu, memory, "
                                 "ephemeral-storage, hugepages-<size> or a domain-qualified extended resource "
                                 "such as nvidia.com/gpu"))
    for resource, request in requests.items():
        low = parse_quantity(request)
        high = parse_quantity(limits[resource]) if resource in limits else None
        extended = "/" in str(resource) or str(resource).startswith("hugepages-")
        if low is not None and high is not None and low > high:
            problems.append((path, "requests.{0} {1} exceeds limits.{0} {2}".format(resource, request, limits[resource])))
        elif extended and high is not None and low is not None and low != high:
            problems.append((path, "requests.{0} {1} must equal limits.{0} {2}: {0} cannot be overcommitted".format(
                resource, request, limits[resource])))
        elif extended and resource not in limits:
            problems.append((f"{path}.limits", "{0} is requested without a limit: {0} cannot be overcommitted, "
                                               "give limits.{0} equal to the request".format(resource)))
    return problems


# What an unquoted yes/no/on/off/true/false or ~ becomes as a mapping key, once Ansible has
# turned every key into a string
YAML_TYPED_NAMES = {"True": "the boolean true", "False": "the boolean false", "None": "null"}


def _yaml_typed_names(path, comp):
    """Variable names YAML read as a boolean or null (``NO: x``, ``ON: x``, ``~: x``): the
    variable would be called True, False or None, or not set at all."""
    problems = []
    for section in ("env", "secrets"):
        mapping = comp.get(section)
        if not isinstance(mapping, dict):
            continue
        for key in mapping:
            if isinstance(key, bool) or key is None:
                what = "null" if key is None else "the boolean " + str(key).lower()
            elif isinstance(key, (int, float)):
                what = "the number {0!r}".format(key)
            elif key in YAML_TYPED_NAMES:
                what = YAML_TYPED_NAMES[key]
            else:
                continue
            problems.append((_path(path, [section, key]), (
                "YAML read an unquoted name (yes, no, on, off, true, false, ~ or a number) as {}; quote the name "
                "you wrote, e.g. 'NO': ...").format(what)))
    return problems


def _component_checks(name, comp):
    """Problems of one raw record that a schema cannot express: (path, message) pairs."""
    path = f"genai_components.{name}"
    problems = []
    workload = comp.get("workload") or "Deployment"
    if workload == "StatefulSet" and len(name) > STATEFULSET_NAME_MAX:
        problems.append((path, f"a StatefulSet name must be at most {STATEFULSET_NAME_MAX} characters (its pods' "
                               f"controller-revision-hash label adds up to 11), got {len(name)}"))
    if workload == "CronJob" and len(name) > CRONJOB_NAME_MAX:
        problems.append((path, f"a CronJob name must be at most {CRONJOB_NAME_MAX} characters (Kubernetes "
                               f"validation: its Jobs add an 11-character suffix), got {len(name)}"))
    env = comp.get("env")
    if isinstance(env, dict):
        for key, value in env.items():
            problem = yaml_typed_problem(key, value)
            if problem:
                problems.append((f"{path}.env.{key}", problem))
            elif isinstance(value, dict) and "value" in value and not isinstance(value["value"], str):
                problem = yaml_typed_problem(key, value["value"])
                if problem:
                    problems.append((f"{path}.env.{key}.value", problem))
    problems.extend(_yaml_typed_names(path, comp))
    problems.extend(resource_problems(path + ".resources", comp.get("resources")))
    problems.extend(_probe_checks(path, comp))
    problems.extend(_port_checks(path, comp))
    problems.extend(_lifecycle_checks(path, comp))
    if workload == "CronJob":
        schedule = comp.get("schedule")
        if not schedule:
            problems.append((path + ".schedule", "required for a CronJob"))
        elif isinstance(schedule, str) and cron_problem(schedule):
            problems.append((path + ".schedule", cron_problem(schedule)))
        zone = comp.get("time_zone")
        if isinstance(zone, str) and zone and zone not in time_zones():
            problems.append((path + ".time_zone", f"{zone!r} is not in the IANA time zone database (e.g. Europe/Berlin, UTC)"))
    else:
        for key in ("schedule", "suspend", "concurrency_policy", "time_zone", "backoff_limit", "restart_policy",
                    "successful_jobs_history_limit", "failed_jobs_history_limit"):
            if comp.get(key) not in (None, ""):
                problems.append((f"{path}.{key}", "only for workload CronJob"))
    return problems


def _port_names(comp):
    names, numbers = set(), set()
    for entry in comp.get("ports") or []:
        if isinstance(entry, int) and not isinstance(entry, bool):
            names.add(f"port-{entry}")
            numbers.add(entry)
        elif isinstance(entry, dict):
            number = entry.get("port", entry.get("container_port"))
            names.add(entry.get("name") or f"port-{number}")
            numbers.add(number)
    return names, numbers


def _port_checks(path, comp):
    """Two ports with the same number and protocol: the Service would hold the same port twice."""
    problems = []
    seen = {}
    for index, entry in enumerate(comp.get("ports") if isinstance(comp.get("ports"), list) else []):
        if isinstance(entry, int) and not isinstance(entry, bool):
            number, protocol = entry, "TCP"
        elif isinstance(entry, dict):
            number = entry.get("service_port", entry.get("port", entry.get("container_port")))
            protocol = entry.get("protocol") or "TCP"
        else:
            continue
        if not isinstance(number, int) or isinstance(number, bool):
            continue
        if (number, protocol) in seen:
            problems.append((f"{path}.ports[{index}]", "port {}/{} is already ports[{}]: a Service holds each port "
                                                       "and protocol once".format(number, protocol, seen[(number, protocol)])))
        else:
            seen[(number, protocol)] = index
    return problems


def _handler_port_checks(path, spec, has_ports, names):
    """The port of a probe's or lifecycle hook's handler (``spec``, a dict or anything else)
    at ``path``: required when the component has no ports, and a name must be one of
    ``names`` (the component's port names). Returns [(path.port, message)]."""
    if not isinstance(spec, dict):
        return []
    port = spec.get("port")
    if port is None and not has_ports:
        return [(f"{path}.port", "required for a component without ports")]
    if isinstance(port, str) and not port.isdigit() and port not in names:
        return [(f"{path}.port", "{!r} names no port of the component (its ports: {})".format(
            port, ", ".join(sorted(names)) or "none"))]
    return []


def _probe_checks(path, comp):
    problems = []
    probes = comp.get("probes")
    if not isinstance(probes, dict):
        return problems
    names, _numbers = _port_names(comp)
    has_ports = bool(comp.get("ports"))
    for kind, probe in probes.items():
        if not isinstance(probe, dict):
            continue
        ppath = f"{path}.probes.{kind}"
        handlers = [h for h in ("http_get", "exec", "tcp_socket", "grpc") if h in probe]
        if len(handlers) > 1:
            problems.append((ppath, "give one handler, not {}".format(" and ".join(handlers))))
        if not handlers and not comp.get("health_path") and not (kind == "readiness" and has_ports):
            problems.append((ppath, "no handler (http_get, exec, tcp_socket or grpc) and no health_path to derive one from"))
        for handler in ("http_get", "tcp_socket"):
            problems.extend(_handler_port_checks(f"{ppath}.{handler}", probe.get(handler), has_ports, names))
        if isinstance(probe.get("grpc"), dict) and probe["grpc"].get("port") is None and not has_ports:
            problems.append((f"{ppath}.grpc.port", "required for a component without ports"))
    return problems


DEFAULT_GRACE_SECONDS = 30
LIFECYCLE_HANDLERS = ("sleep", "exec", "http_get")


def _lifecycle_checks(path, comp):
    """One handler per hook, ports that exist, and a pre_stop sleep shorter than the grace period."""
    problems = []
    lifecycle = comp.get("lifecycle")
    if not isinstance(lifecycle, dict):
        return problems
    names, _numbers = _port_names(comp)
    for hook, handler in lifecycle.items():
        if not isinstance(handler, dict):
            continue
        hpath = f"{path}.lifecycle.{hook}"
        given = [h for h in LIFECYCLE_HANDLERS if h in handler]
        if len(given) != 1:
            problems.append((hpath, "give exactly one handler (sleep, exec or http_get), got {}".format(
                " and ".join(given) or "none")))
        problems.extend(_handler_port_checks(f"{hpath}.http_get", handler.get("http_get"), bool(comp.get("ports")), names))
    sleep = lifecycle.get("pre_stop", {}).get("sleep") if isinstance(lifecycle.get("pre_stop"), dict) else None
    seconds = sleep.get("seconds") if isinstance(sleep, dict) else None
    grace = comp.get("termination_grace_period_seconds")
    grace = DEFAULT_GRACE_SECONDS if grace in (None, "") else grace
    if str(seconds).isdigit() and str(grace).isdigit() and int(seconds) >= int(grace):
        problems.append((f"{path}.lifecycle.pre_stop.sleep.seconds", (
            "sleeps {} s, but the pod has only {} s to stop (termination_grace_period_seconds{}): the application "
            "would be killed before it gets SIGTERM; sleep less or raise termination_grace_period_seconds").format(
                seconds, grace, "" if comp.get("termination_grace_period_seconds") not in (None, "") else ", default 30")))
    return problems


# --------------------------------------------------------------------------------------------
# validation


def _path(prefix, parts):
    text = prefix
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _message(error):
    """A readable message for one jsonschema error."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator in ("pattern", "anyOf", "maxLength", "minimum", "maximum", "type", "oneOf") and "x-message" in schema:
        return "{}, got {!r}".format(schema["x-message"], error.instance)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted((schema.get("properties") or {}).keys())
        unknown = sorted(str(k) for k in error.instance if k not in (schema.get("properties") or {}))
        return "unknown field {} (known fields: {})".format(", ".join(unknown), ", ".join(known))
    if error.validator == "propertyNames":
        return "{!r} is not a valid name".format(error.instance) if not isinstance(error.instance, dict) else error.message
    if error.validator == "enum":
        return "must be one of {}, got {!r}".format(", ".join(str(v) for v in error.validator_value), error.instance)
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def _schema_errors(schema, instance, prefix, validator_class):
    """Every schema error of ``instance`` as (path, message): unknown and missing fields named in the path."""
    result = []
    for error in validator_class(schema).iter_errors(instance):
        while (error.validator == "anyOf" and error.context and isinstance(error.schema, dict)
               and "x-message" not in error.schema):
            deeper = [e for e in error.context if e.validator != "type"]
            if not deeper:
                break
            error = max(deeper, key=lambda e: len(e.absolute_path))
        parts = list(error.absolute_path)
        if "propertyNames" in error.schema_path:
            result.append((_path(prefix, parts + [error.instance]),
                           "not a valid name (letters, digits and '_', not starting with a digit)"))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = (error.schema.get("properties") or {}) if isinstance(error.schema, dict) else {}
            for key in sorted((k for k in error.instance if k not in known), key=str):
                result.append((_path(prefix, parts + [key]), "unknown field (known fields: {})".format(
                    ", ".join(sorted(known)))))
        elif error.validator == "required" and isinstance(error.instance, dict):
            for key in error.validator_value:
                if key not in error.instance:
                    result.append((_path(prefix, parts + [key]), "required"))
        else:
            result.append((_path(prefix, parts), _message(error)))
    return result


# What Kubernetes refuses in the path of an Exact or Prefix Ingress rule
INGRESS_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INGRESS_PATH_SUFFIXES = ("/..", "/.")


def _ingress_checks(ingress):
    """Ingress rules the schema cannot express: Kubernetes' path rules, and routes that differ
    only by a trailing '/' of a Prefix path (Prefix matching ignores it, so two backends would
    claim the same requests)."""
    problems = []
    if not isinstance(ingress, dict) or ingress.get("enabled") is False:
        return problems
    single = ingress.get("mode") == "single_domain"
    entries = ingress.get("paths") if single else ingress.get("hosts")
    seen = {}
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict):
            continue
        epath = "genai_ingress.{}[{}]".format("paths" if single else "hosts", index)
        host = ingress.get("domain") if single else entry.get("host")
        route, path_type = entry.get("path") or "/", entry.get("path_type") or "Prefix"
        if not isinstance(route, str) or path_type not in ("Prefix", "Exact"):
            continue
        bad = [s for s in INGRESS_PATH_SEQUENCES if s in route] + [s for s in INGRESS_PATH_SUFFIXES if route.endswith(s)]
        if bad:
            problems.append((epath + ".path", "{!r} holds {} (Kubernetes refuses '//', '/./', '/../', '%2F' and a "
                                              "trailing '/.' or '/..' in a {} path)".format(route, bad[0], path_type)))
        key = (host, (route.rstrip("/") or "/") if path_type == "Prefix" else route, path_type)
        other = seen.setdefault(key, (epath, entry, route))
        if other[0] != epath and other[2] != route:
            problems.append((epath, "{} {} ({}) is the same route as {} ({}, to {}): Prefix matching ignores a "
                                    "trailing '/'; one backend per host, path and path_type".format(
                                        host, route, path_type, other[2], other[0], other[1].get("component"))))
    return problems


def validate(components, settings):
    """Every problem of a system's raw input as "<variable path>: <message>" strings, sorted.

    ``components`` is ``genai_components`` merged with its overrides; ``settings`` the settings
    dict (``system``, ``namespace``, ``ingress``, ...) whose key ``k`` is the variable ``genai_k``.
    An empty list means the input passes the schema and its checks.
    """
    from jsonschema import Draft202012Validator  # pylint: disable=import-outside-toplevel

    problems = []
    if not isinstance(components, dict):
        return [f"genai_components: expected a dict of component records, got {type(components).__name__}"]
    for name in sorted(components, key=str):
        path = f"genai_components.{name}"
        if not isinstance(name, str) or not re.match(DNS_LABEL, name) or len(name) > 63:
            problems.append((path, "a component name is its Service name and must be a DNS label (a-z, 0-9, '-', "
                                   "starting with a letter, at most 63 characters), got {!r}".format(name)))
            continue
        comp = components[name]
        if isinstance(comp, dict) and "tier" not in comp:
            problems.append((path + ".tier", "required (one of {}); a component that only appears in "
                                             "genai_component_overrides has no tier".format(", ".join(TIERS))))
            comp = dict(comp, tier="backend")
        errors = _schema_errors(COMPONENT, comp, path, Draft202012Validator)
        checks = _component_checks(name, comp) if isinstance(comp, dict) else []
        checked = {p for p, _m in checks}
        problems.extend(e for e in errors if e[0] not in checked)
        problems.extend(checks)
    if isinstance(settings, dict):
        for path, message in _schema_errors(SETTINGS, settings, "", Draft202012Validator):
            problems.append(("genai_" + path.lstrip("."), message))
        problems.extend(_ingress_checks(settings.get("ingress")))
        monitoring = settings.get("monitoring")
        for key in ("prometheus_resources", "grafana_resources"):
            if isinstance(monitoring, dict) and monitoring.get(key) is not None:
                problems.extend(resource_problems("monitoring_" + key, monitoring[key], quantities=True))
        for key in ("prometheus_image", "grafana_image"):
            image = monitoring.get(key) if isinstance(monitoring, dict) else None
            if image not in (None, "") and not (isinstance(image, str) and re.match(IMAGE_REFERENCE, image)):
                problems.append(("monitoring_" + key, "not an image reference (registry/repository:tag or "
                                                      "@sha256:digest, lowercase, no spaces), got {!r}".format(image)))
    result = []
    for path, message in problems:
        line = f"{path}: {message}"
        if line not in result:
            result.append(line)
    return result

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data model of a genai.stack system.

A system is a dict ``component name -> component record`` (``genai_components``). This module
normalises every record (fills defaults, converts types), validates it with errors that name
the variable path, derives what is never typed twice (Service DNS names, URLs and DSNs, the
``needs`` graph and its topological order) and resolves the values of Secrets.

Pure standard library, no Ansible import: the filter plugin turns ``SystemDefinitionError``
into ``AnsibleFilterError``.
"""

import base64
import copy
import re
import secrets as _secrets
import string

from ansible_collections.genai.stack.plugins.module_utils import schema
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

COMPONENT_TIERS = schema.TIERS
TIERS = COMPONENT_TIERS  # the tiers a component can be in; render.TIERS is the whole order
APP_TIERS = ("backend", "worker", "frontend")
WORKLOADS = ("Deployment", "StatefulSet", "CronJob")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
ANTI_AFFINITY = ("none", "preferred", "required")
PROBE_KINDS = ("readiness", "liveness", "startup")
PROBE_HANDLERS = ("http_get", "exec", "tcp_socket", "grpc")
REF_PARTS = ("url", "host", "port", "hostport")
INGRESS_MODES = ("hosts", "single_domain")
TLS_MODES = ("cert_manager", "self_signed", "secret", "none")
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
PROTOCOLS = ("TCP", "UDP", "SCTP")

DEFAULT_WAIT_IMAGE = "busybox:1.36"
DEFAULT_GENERATED_LENGTH = 24
PASSWORD_ALPHABET = string.ascii_letters + string.digits

DNS_LABEL = re.compile(schema.DNS_LABEL)
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
ENV_NAME = re.compile(schema.ENV_NAME)
DIGEST = re.compile(schema.IMAGE_DIGEST)
TAG = re.compile(schema.IMAGE_TAG)

COMPONENT_KEYS = (
    "tier", "workload", "image", "command", "args", "ports", "service", "service_type",
    "replicas", "resources", "health_path", "probes", "env", "secrets", "needs", "storage",
    "autoscaling", "rolling_update", "security_context", "wait_for", "anti_affinity",
    "schedule", "suspend", "concurrency_policy", "time_zone", "backoff_limit",
    "restart_policy", "successful_jobs_history_limit", "failed_jobs_history_limit",
    "metrics", "service_account", "expose", "pod_annotations", "pod_labels", "pod_spec",
    "container", "enabled", "description",
)
IMAGE_KEYS = ("repository", "tag", "registry", "digest", "pull_policy")

DEFAULT_SETTINGS = {
    "system": "genai",
    "namespace": "genai",
    "cluster_domain": "cluster.local",
    "image_registry": "",
    "image_pull_policy": "IfNotPresent",
    "image_pull_secrets": [],
    "image_overrides": {},
    "image_tag": "",
    "replicas": {},
    "ingress": {},
    "monitoring_enabled": False,
    "network_policies": True,
    "network_policy_allow_from": [],
    "pod_security_level": "baseline",
    "wait_image": DEFAULT_WAIT_IMAGE,
}

DEFAULT_INGRESS = {
    "enabled": False,
    "name": "",
    "class_name": "nginx",
    "mode": "hosts",
    "hosts": [],
    "domain": "",
    "paths": [],
    "annotations": {},
    "controller_namespace": "ingress-nginx",
    "tls": {"mode": "none", "secret_name": "genai-tls", "issuer": "", "issuer_kind": "ClusterIssuer"},
}


class SystemDefinitionError(GenaiStackError, ValueError):
    """A system description that cannot be rendered.

    ``errors`` lists every problem as "<variable path>: <message>"; the message is the one
    problem, or a count followed by one problem per line. ``path`` and ``reason`` are those of
    the first problem.
    """

    def __init__(self, path, message="", errors=None):
        self.errors = list(errors) if errors else [f"{path}: {message}" if path else message]
        self.path, _sep, reason = self.errors[0].partition(": ")
        self.reason = message if not errors else reason
        if len(self.errors) == 1:
            text = self.errors[0]
        else:
            text = "{} problems in the system definition:\n{}".format(
                len(self.errors), "\n".join("- " + e for e in self.errors))
        super().__init__(text, errors=self.errors)

    @classmethod
    def collected(cls, errors):
        """One exception carrying every problem of ``errors`` (a non-empty list of strings)."""
        return cls(None, errors=errors)


# --------------------------------------------------------------------------------------------
# small helpers


def deep_merge(base, override):
    """Return ``base`` with ``override`` merged in: dicts merge recursively, anything else replaces.

    Same semantics as Ansible's ``combine(recursive=true)`` (lists replace).
    """
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    result = copy.deepcopy(base)
    for key, value in override.items():
        if key in result and isinstance(result[key], dict) and isinstance(value, dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def camel(name):
    """snake_case -> camelCase; camelCase stays as it is."""
    parts = str(name).split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def camelize(value):
    """Convert every dict key of a nested structure from snake_case to camelCase."""
    if isinstance(value, dict):
        return {camel(k): camelize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camelize(v) for v in value]
    return value


def _is_str(value):
    return isinstance(value, str)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _as_int(value, path, minimum=None, maximum=None):
    if isinstance(value, bool):
        raise SystemDefinitionError(path, f"expected an integer, got {value!r}")
    if _is_str(value) and re.match(r"^-?[0-9]+$", value.strip()):
        value = int(value.strip())
    if not _is_int(value):
        raise SystemDefinitionError(path, f"expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise SystemDefinitionError(path, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SystemDefinitionError(path, f"must be at most {maximum}, got {value}")
    return value


def _as_bool(value, path):
    if isinstance(value, bool):
        return value
    if _is_str(value) and value.strip().lower() in ("true", "yes", "on", "1"):
        return True
    if _is_str(value) and value.strip().lower() in ("false", "no", "off", "0", ""):
        return False
    raise SystemDefinitionError(path, f"expected a boolean, got {value!r}")


def _as_str(value, path, allow_empty=True):
    if value is None:
        value = ""
    if isinstance(value, (bool, dict, list)):
        raise SystemDefinitionError(path, f"expected a string, got {value!r}")
    value = str(value)
    if not allow_empty and not value:
        raise SystemDefinitionError(path, "must not be empty")
    return value


def _as_dict(value, path):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SystemDefinitionError(path, f"expected a dict, got {type(value).__name__}")
    return value


def _as_list(value, path):
    if value is None:
        return []
    if not isinstance(value, list):
        raise SystemDefinitionError(path, f"expected a list, got {type(value).__name__}")
    return value


def _as_str_list(value, path):
    return [_as_str(item, f"{path}[{i}]", allow_empty=False) for i, item in enumerate(_as_list(value, path))]


def _as_str_dict(value, path):
    return {str(k): _as_str(v, f"{path}.{k}") for k, v in _as_dict(value, path).items()}


def _choice(value, choices, path):
    if value not in choices:
        raise SystemDefinitionError(path, "must be one of {}, got {!r}".format(", ".join(choices), value))
    return value


def _unknown_keys(record, allowed, path):
    unknown = sorted(str(k) for k in record if k not in allowed)
    if unknown:
        raise SystemDefinitionError(
            f"{path}.{unknown[0]}",
            "unknown field (known fields: {})".format(", ".join(sorted(allowed))),
        )


def _int_or_percent(value, path):
    if _is_str(value) and re.match(r"^[0-9]+%$", value.strip()):
        return value.strip()
    return _as_int(value, path, minimum=0)


def _quantity(value, path):
    if isinstance(value, (bool, dict, list)) or value is None:
        raise SystemDefinitionError(path, f"expected a quantity such as 250m or 1Gi, got {value!r}")
    text = str(value).strip()
    if not re.match(r"^[0-9.]+([eE][-+]?[0-9]+|[munkMGTPE]i?|)$", text):
        raise SystemDefinitionError(path, f"expected a quantity such as 250m or 1Gi, got {value!r}")
    return text


# --------------------------------------------------------------------------------------------
# settings


def normalize_settings(settings):
    """Fill the settings dict (fact ``genai_settings``) with defaults and check its shape."""
    raw = _as_dict(settings, "genai_settings")
    result = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in raw.items():
        if value is not None:
            result[key] = copy.deepcopy(value)
    result["system"] = _as_str(result["system"], "genai_system", allow_empty=False)
    if not DNS_LABEL.match(result["system"]) or len(result["system"]) > 63:
        raise SystemDefinitionError("genai_system", "must be a DNS label (a-z, 0-9, '-'), got {!r}".format(result["system"]))
    result["namespace"] = _as_str(result["namespace"], "genai_namespace", allow_empty=False)
    if not DNS_LABEL.match(result["namespace"]) or len(result["namespace"]) > 63:
        raise SystemDefinitionError("genai_namespace", "must be a DNS label (a-z, 0-9, '-'), got {!r}".format(result["namespace"]))
    result["cluster_domain"] = _as_str(result["cluster_domain"], "genai_cluster_domain", allow_empty=False).strip(".")
    result["image_registry"] = _as_str(result["image_registry"], "genai_image_registry").rstrip("/")
    _choice(result["image_pull_policy"], PULL_POLICIES, "genai_image_pull_policy")
    result["image_pull_secrets"] = _as_str_list(result["image_pull_secrets"], "genai_image_pull_secrets")
    result["image_overrides"] = _as_dict(result["image_overrides"], "genai_image_overrides")
    result["image_tag"] = _as_str(result["image_tag"], "genai_image_tag")
    if result["image_tag"] and not TAG.match(result["image_tag"]):
        raise SystemDefinitionError("genai_image_tag", "not a valid image tag: {!r}".format(result["image_tag"]))
    result["replicas"] = _as_dict(result["replicas"], "genai_replicas")
    result["monitoring_enabled"] = _as_bool(result["monitoring_enabled"], "genai_monitoring_enabled")
    result["network_policies"] = _as_bool(result["network_policies"], "genai_network_policies")
    allow_from = _as_list(result["network_policy_allow_from"], "genai_network_policy_allow_from")
    for i, peer in enumerate(allow_from):
        _as_dict(peer, f"genai_network_policy_allow_from[{i}]")
    result["network_policy_allow_from"] = camelize(allow_from)
    _choice(result["pod_security_level"], POD_SECURITY_LEVELS, "genai_pod_security_level")
    result["wait_image"] = _as_str(result["wait_image"], "genai_settings.wait_image") or DEFAULT_WAIT_IMAGE
    result["ingress"] = normalize_ingress(result["ingress"], result["system"])
    return result


def normalize_ingress(ingress, system="genai"):
    """Fill ``genai_ingress`` with defaults and check its shape (components are checked later)."""
    path = "genai_ingress"
    raw = _as_dict(ingress, path)
    result = deep_merge(DEFAULT_INGRESS, raw)
    _unknown_keys(result, DEFAULT_INGRESS.keys(), path)
    result["enabled"] = _as_bool(result["enabled"], path + ".enabled")
    result["name"] = _as_str(result["name"], path + ".name") or system
    result["class_name"] = _as_str(result["class_name"], path + ".class_name")
    _choice(result["mode"], INGRESS_MODES, path + ".mode")
    result["domain"] = _as_str(result["domain"], path + ".domain")
    result["annotations"] = _as_str_dict(result["annotations"], path + ".annotations")
    result["controller_namespace"] = _as_str(result["controller_namespace"], path + ".controller_namespace")
    hosts = []
    for i, entry in enumerate(_as_list(result["hosts"], path + ".hosts")):
        epath = f"{path}.hosts[{i}]"
        entry = _as_dict(entry, epath)
        _unknown_keys(entry, ("host", "component", "port", "path", "path_type"), epath)
        hosts.append({
            "host": _as_str(entry.get("host"), epath + ".host", allow_empty=False),
            "component": _as_str(entry.get("component"), epath + ".component", allow_empty=False),
            "port": entry.get("port"),
            "path": _as_str(entry.get("path", "/"), epath + ".path") or "/",
            "path_type": _choice(entry.get("path_type", "Prefix"), ("Prefix", "Exact", "ImplementationSpecific"), epath + ".path_type"),
        })
    result["hosts"] = hosts
    paths = []
    for i, entry in enumerate(_as_list(result["paths"], path + ".paths")):
        epath = f"{path}.paths[{i}]"
        entry = _as_dict(entry, epath)
        _unknown_keys(entry, ("path", "component", "port", "path_type"), epath)
        paths.append({
            "path": _as_str(entry.get("path", "/"), epath + ".path") or "/",
            "component": _as_str(entry.get("component"), epath + ".component", allow_empty=False),
            "port": entry.get("port"),
            "path_type": _choice(entry.get("path_type", "Prefix"), ("Prefix", "Exact", "ImplementationSpecific"), epath + ".path_type"),
        })
    result["paths"] = paths
    tls = _as_dict(result["tls"], path + ".tls")
    _unknown_keys(tls, DEFAULT_INGRESS["tls"].keys(), path + ".tls")
    _choice(tls.get("mode"), TLS_MODES, path + ".tls.mode")
    tls["secret_name"] = _as_str(tls.get("secret_name"), path + ".tls.secret_name") or "genai-tls"
    tls["issuer"] = _as_str(tls.get("issuer"), path + ".tls.issuer")
    _choice(tls.get("issuer_kind"), ("ClusterIssuer", "Issuer"), path + ".tls.issuer_kind")
    if result["enabled"] and tls["mode"] == "cert_manager" and not tls["issuer"]:
        raise SystemDefinitionError(path + ".tls.issuer", "required when tls.mode is cert_manager")
    result["tls"] = tls
    if result["enabled"]:
        if result["mode"] == "hosts" and not hosts:
            raise SystemDefinitionError(path + ".hosts", "at least one host is required when mode is hosts")
        if result["mode"] == "single_domain":
            if not result["domain"]:
                raise SystemDefinitionError(path + ".domain", "required when mode is single_domain")
            if not paths:
                raise SystemDefinitionError(path + ".paths", "at least one path is required when mode is single_domain")
    return result


# --------------------------------------------------------------------------------------------
# component records


def _normalize_image(name, raw, settings, tier, path):
    image = _as_dict(raw, path)
    overrides = settings["image_overrides"].get(name)
    if overrides is not None:
        image = deep_merge(image, _as_dict(overrides, f"genai_image_overrides.{name}"))
    _unknown_keys(image, IMAGE_KEYS, path)
    result = {
        "repository": _as_str(image.get("repository"), path + ".repository", allow_empty=False),
        "tag": _as_str(image.get("tag", "latest"), path + ".tag") or "latest",
        "registry": _as_str(image.get("registry", ""), path + ".registry").rstrip("/"),
        "digest": _as_str(image.get("digest", ""), path + ".digest"),
        "pull_policy": _as_str(image.get("pull_policy", ""), path + ".pull_policy"),
    }
    if settings["image_tag"] and tier in APP_TIERS:
        result["tag"] = settings["image_tag"]
    if not TAG.match(result["tag"]):
        raise SystemDefinitionError(path + ".tag", "not a valid image tag: {!r}".format(result["tag"]))
    if result["digest"] and not DIGEST.match(result["digest"]):
        raise SystemDefinitionError(path + ".digest", "expected algorithm:hex, e.g. sha256:..., got {!r}".format(result["digest"]))
    if result["pull_policy"]:
        _choice(result["pull_policy"], PULL_POLICIES, path + ".pull_policy")
    if ":" in result["repository"].rsplit("/", maxsplit=1)[-1] or "@" in result["repository"]:
        raise SystemDefinitionError(path + ".repository", "give the tag or digest in image.tag / image.digest, not in the repository")
    return result


def _normalize_port(entry, path):
    if _is_int(entry):
        entry = {"port": entry}
    entry = _as_dict(entry, path)
    _unknown_keys(entry, ("name", "port", "service_port", "protocol", "container_port"), path)
    port = _as_int(entry.get("port", entry.get("container_port")), path + ".port", 1, 65535)
    name = _as_str(entry.get("name", f"port-{port}"), path + ".name", allow_empty=False)
    if not PORT_NAME.match(name) or len(name) > 15 or "--" in name or not re.search("[a-z]", name):
        raise SystemDefinitionError(path + ".name", f"must be an IANA service name (at most 15 characters a-z, 0-9, '-'), got {name!r}")
    return {
        "name": name,
        "port": port,
        "service_port": _as_int(entry.get("service_port", port), path + ".service_port", 1, 65535),
        "protocol": _choice(entry.get("protocol", "TCP"), PROTOCOLS, path + ".protocol"),
    }


def _normalize_probe(raw, path):
    probe = _as_dict(raw, path)
    allowed = PROBE_HANDLERS + (
        "initial_delay_seconds", "period_seconds", "timeout_seconds", "failure_threshold",
        "success_threshold", "termination_grace_period_seconds",
    )
    _unknown_keys(probe, allowed, path)
    handlers = [h for h in PROBE_HANDLERS if h in probe]
    if len(handlers) > 1:
        raise SystemDefinitionError(path, "give one of {}, not {}".format(", ".join(PROBE_HANDLERS), " and ".join(handlers)))
    result = {}
    for key in allowed[len(PROBE_HANDLERS):]:
        if key in probe:
            result[key] = _as_int(probe[key], f"{path}.{key}", 0)
    if handlers:
        handler = handlers[0]
        value = probe[handler]
        hpath = f"{path}.{handler}"
        if handler == "exec":
            if isinstance(value, dict):
                value = value.get("command")
            result["exec"] = _as_str_list(value, hpath)
            if not result["exec"]:
                raise SystemDefinitionError(hpath, "needs a command")
        elif handler == "http_get":
            value = _as_dict(value, hpath)
            _unknown_keys(value, ("path", "port", "scheme", "http_headers", "host"), hpath)
            result["http_get"] = dict(value)
            result["http_get"]["path"] = _as_str(value.get("path", "/"), hpath + ".path") or "/"
        else:
            value = _as_dict(value, hpath)
            result[handler] = dict(value)
    return result


def _normalize_storage(entry, workload, path):
    entry = _as_dict(entry, path)
    _unknown_keys(entry, ("name", "mount", "size", "access_modes", "storage_class", "type", "sub_path", "read_only", "medium", "size_limit"), path)
    name = _as_str(entry.get("name"), path + ".name", allow_empty=False)
    if not DNS_LABEL.match(name):
        raise SystemDefinitionError(path + ".name", f"must be a DNS label, got {name!r}")
    kind = _choice(entry.get("type", "pvc"), ("pvc", "emptyDir"), path + ".type")
    result = {
        "name": name,
        "type": kind,
        "mount": _as_str(entry.get("mount"), path + ".mount", allow_empty=False),
        "sub_path": _as_str(entry.get("sub_path", ""), path + ".sub_path"),
        "read_only": _as_bool(entry.get("read_only", False), path + ".read_only"),
    }
    if kind == "pvc":
        if workload == "CronJob":
            raise SystemDefinitionError(path + ".type", "a CronJob cannot own a PersistentVolumeClaim; use type emptyDir or pod_spec")
        result["size"] = _quantity(entry.get("size"), path + ".size")
        modes = _as_str_list(entry.get("access_modes", ["ReadWriteOnce"]), path + ".access_modes") or ["ReadWriteOnce"]
        for i, mode in enumerate(modes):
            _choice(mode, ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"), f"{path}.access_modes[{i}]")
        result["access_modes"] = modes
        result["storage_class"] = _as_str(entry.get("storage_class", ""), path + ".storage_class")
    else:
        result["medium"] = _as_str(entry.get("medium", ""), path + ".medium")
        result["size_limit"] = _quantity(entry["size_limit"], path + ".size_limit") if entry.get("size_limit") else ""
    return result


def _normalize_env_value(value, path):
    if isinstance(value, dict):
        if "ref" in value:
            _unknown_keys(value, ("ref", "scheme", "user", "password", "path", "port", "part", "query"), path)
            result = {
                "ref": _as_str(value["ref"], path + ".ref", allow_empty=False),
                "scheme": _as_str(value.get("scheme", "http"), path + ".scheme") or "http",
                "user": _as_str(value.get("user", ""), path + ".user"),
                "path": _as_str(value.get("path", ""), path + ".path"),
                "query": _as_str(value.get("query", ""), path + ".query"),
                "part": _choice(value.get("part", "url"), REF_PARTS, path + ".part"),
                "port": value.get("port"),
                "password": None,
            }
            if result["path"] and not result["path"].startswith("/"):
                result["path"] = "/" + result["path"]
            if value.get("password") is not None:
                ppath = path + ".password"
                password = _as_dict(value["password"], ppath)
                _unknown_keys(password, ("secret", "key"), ppath)
                result["password"] = {
                    "secret": _as_str(password.get("secret"), ppath + ".secret", allow_empty=False),
                    "key": _as_str(password.get("key"), ppath + ".key", allow_empty=False),
                }
            return result
        if "secret" in value:
            _unknown_keys(value, ("secret", "key"), path)
            return {
                "secret": _as_str(value["secret"], path + ".secret", allow_empty=False),
                "key": _as_str(value.get("key"), path + ".key", allow_empty=False),
            }
        if "value" in value:
            _unknown_keys(value, ("value", "sensitive"), path)
            return {
                "value": _as_str(value["value"], path + ".value"),
                "sensitive": _as_bool(value.get("sensitive", False), path + ".sensitive"),
            }
        raise SystemDefinitionError(path, "a dict value needs one of ref, secret or value")
    if isinstance(value, list):
        raise SystemDefinitionError(path, "expected a string, a number or a dict with ref, secret or value")
    if isinstance(value, bool):
        value = "true" if value else "false"
    return {"value": "" if value is None else str(value), "sensitive": False}


def _normalize_secret(value, path):
    if value is None:
        return {}
    if not isinstance(value, dict):
        # a plain value is the user's own value
        return {"value": _as_str(value, path)}
    _unknown_keys(value, ("generate", "value"), path)
    if "generate" in value and "value" in value:
        raise SystemDefinitionError(path, "give either generate or value, not both")
    if "generate" in value:
        length = value["generate"]
        if length is True:
            length = DEFAULT_GENERATED_LENGTH
        return {"generate": _as_int(length, path + ".generate", 8, 256)}
    if "value" in value:
        return {"value": _as_str(value["value"], path + ".value")}
    return {}


def _normalize_autoscaling(raw, path):
    auto = _as_dict(raw, path)
    _unknown_keys(auto, ("min_replicas", "max_replicas", "cpu", "memory", "behavior", "enabled"), path)
    if not _as_bool(auto.get("enabled", True), path + ".enabled"):
        return None
    result = {
        "min_replicas": _as_int(auto.get("min_replicas", 1), path + ".min_replicas", 1),
        "max_replicas": _as_int(auto.get("max_replicas"), path + ".max_replicas", 1),
        "cpu": _as_int(auto["cpu"], path + ".cpu", 1) if auto.get("cpu") is not None else None,
        "memory": _as_int(auto["memory"], path + ".memory", 1) if auto.get("memory") is not None else None,
        "behavior": camelize(_as_dict(auto.get("behavior"), path + ".behavior")),
    }
    if result["cpu"] is None and result["memory"] is None:
        raise SystemDefinitionError(path, "give a cpu and/or memory target (percent of requests)")
    if result["max_replicas"] < result["min_replicas"]:
        raise SystemDefinitionError(path + ".max_replicas", f"must be at least min_replicas ({result['min_replicas']})")
    return result


def normalize_component(name, raw, settings):
    """Return the full record of one component, every field present, or raise naming the path."""
    path = f"genai_components.{name}"
    if not DNS_LABEL.match(name) or len(name) > 63:
        raise SystemDefinitionError(path, f"a component name is its Service name and must be a DNS label (a-z, 0-9, '-', starting with a letter), got {name!r}")
    raw = _as_dict(raw, path)
    _unknown_keys(raw, COMPONENT_KEYS, path)
    comp = {"name": name}
    comp["enabled"] = _as_bool(raw.get("enabled", True), path + ".enabled")
    if "tier" not in raw:
        raise SystemDefinitionError(
            path + ".tier",
            "required (one of {}); a component that only appears in genai_component_overrides has no tier".format(", ".join(TIERS)))
    comp["tier"] = _choice(raw["tier"], TIERS, path + ".tier")
    comp["workload"] = _choice(raw.get("workload", "Deployment"), WORKLOADS, path + ".workload")
    if raw.get("image") is None:
        raise SystemDefinitionError(path + ".image", "required (a dict with at least repository)")
    comp["image"] = _normalize_image(name, raw["image"], settings, comp["tier"], path + ".image")
    comp["description"] = _as_str(raw.get("description", ""), path + ".description")
    comp["command"] = _as_str_list(raw.get("command"), path + ".command")
    comp["args"] = [_as_str(a, f"{path}.args[{i}]") for i, a in enumerate(_as_list(raw.get("args"), path + ".args"))]

    ports = [_normalize_port(p, f"{path}.ports[{i}]") for i, p in enumerate(_as_list(raw.get("ports"), path + ".ports"))]
    seen = set()
    for i, port in enumerate(ports):
        if port["name"] in seen:
            raise SystemDefinitionError(f"{path}.ports[{i}].name", "duplicate port name {!r}".format(port["name"]))
        seen.add(port["name"])
    comp["ports"] = ports
    comp["service"] = _as_bool(raw.get("service", bool(ports)), path + ".service")
    if comp["service"] and not ports:
        raise SystemDefinitionError(path + ".service", "a Service needs ports")
    if comp["service"] and comp["workload"] == "CronJob":
        raise SystemDefinitionError(path + ".service", "a CronJob has no Service; set service: false")
    comp["service_type"] = _choice(raw.get("service_type", "ClusterIP"), ("ClusterIP", "NodePort", "LoadBalancer"), path + ".service_type")

    comp["replicas"] = _as_int(raw.get("replicas", 1), path + ".replicas", 0)
    comp["autoscaling"] = _normalize_autoscaling(raw["autoscaling"], path + ".autoscaling") if raw.get("autoscaling") else None
    if comp["autoscaling"] and comp["workload"] == "CronJob":
        raise SystemDefinitionError(path + ".autoscaling", "a CronJob cannot be autoscaled")
    if name in settings["replicas"]:
        count = _as_int(settings["replicas"][name], f"genai_replicas.{name}", 0)
        if comp["autoscaling"]:
            comp["autoscaling"]["min_replicas"] = max(count, 1)
            comp["autoscaling"]["max_replicas"] = max(comp["autoscaling"]["max_replicas"], count)
        comp["replicas"] = count

    resources = _as_dict(raw.get("resources"), path + ".resources")
    _unknown_keys(resources, ("requests", "limits"), path + ".resources")
    comp["resources"] = {}
    for section in ("requests", "limits"):
        values = _as_dict(resources.get(section), f"{path}.resources.{section}")
        if values:
            comp["resources"][section] = {
                str(k): _quantity(v, f"{path}.resources.{section}.{k}") for k, v in values.items()
            }

    if comp["autoscaling"]:
        for metric in ("cpu", "memory"):
            if comp["autoscaling"][metric] is not None and metric not in comp["resources"].get("requests", {}):
                raise SystemDefinitionError(
                    f"{path}.autoscaling.{metric}",
                    f"a {metric} utilization target needs resources.requests.{metric} (utilization is a percent of the request)")

    comp["health_path"] = _as_str(raw.get("health_path", ""), path + ".health_path")
    if comp["health_path"] and not comp["health_path"].startswith("/"):
        raise SystemDefinitionError(path + ".health_path", "must start with '/', got {!r}".format(comp["health_path"]))
    if comp["health_path"] and not ports:
        raise SystemDefinitionError(path + ".health_path", "an HTTP health path needs a port")
    probes = _as_dict(raw.get("probes"), path + ".probes")
    _unknown_keys(probes, PROBE_KINDS, path + ".probes")
    comp["probes"] = {k: _normalize_probe(v, f"{path}.probes.{k}") for k, v in probes.items() if v is not None}

    env = _as_dict(raw.get("env"), path + ".env")
    comp["env"] = {}
    for key, value in env.items():
        key = str(key)
        if not ENV_NAME.match(key):
            raise SystemDefinitionError(f"{path}.env.{key}", "not a valid environment variable name")
        comp["env"][key] = _normalize_env_value(value, f"{path}.env.{key}")
    secret_defs = _as_dict(raw.get("secrets"), path + ".secrets")
    comp["secrets"] = {}
    for key, value in secret_defs.items():
        key = str(key)
        if not ENV_NAME.match(key):
            raise SystemDefinitionError(f"{path}.secrets.{key}", "not a valid environment variable name")
        if key in comp["env"]:
            raise SystemDefinitionError(f"{path}.secrets.{key}", "also defined in env")
        comp["secrets"][key] = _normalize_secret(value, f"{path}.secrets.{key}")

    comp["needs"] = _as_str_list(raw.get("needs"), path + ".needs")
    comp["wait_for"] = _as_str_list(raw.get("wait_for"), path + ".wait_for")
    storage = [_normalize_storage(s, comp["workload"], f"{path}.storage[{i}]") for i, s in enumerate(_as_list(raw.get("storage"), path + ".storage"))]
    names = set()
    for i, volume in enumerate(storage):
        if volume["name"] in names:
            raise SystemDefinitionError(f"{path}.storage[{i}].name", "duplicate volume name {!r}".format(volume["name"]))
        names.add(volume["name"])
    comp["storage"] = storage

    rolling = _as_dict(raw.get("rolling_update"), path + ".rolling_update")
    _unknown_keys(rolling, ("max_surge", "max_unavailable", "partition"), path + ".rolling_update")
    comp["rolling_update"] = {k: _int_or_percent(v, f"{path}.rolling_update.{k}") for k, v in rolling.items() if v is not None}

    sc = _as_dict(raw.get("security_context"), path + ".security_context")
    comp["security_context"] = dict(sc)
    if "run_as_non_root" in sc:
        comp["security_context"]["run_as_non_root"] = _as_bool(sc["run_as_non_root"], path + ".security_context.run_as_non_root")
    for key in ("run_as_user", "run_as_group", "fs_group"):
        if key in sc:
            comp["security_context"][key] = _as_int(sc[key], f"{path}.security_context.{key}", 0)

    comp["anti_affinity"] = _choice(raw.get("anti_affinity", "none"), ANTI_AFFINITY, path + ".anti_affinity")

    comp["schedule"] = _as_str(raw.get("schedule", ""), path + ".schedule")
    if comp["workload"] == "CronJob" and not comp["schedule"]:
        raise SystemDefinitionError(path + ".schedule", "required for a CronJob")
    if comp["workload"] != "CronJob":
        for key in ("schedule", "suspend", "concurrency_policy", "time_zone", "backoff_limit", "restart_policy"):
            if raw.get(key) not in (None, ""):
                raise SystemDefinitionError(f"{path}.{key}", "only for workload CronJob")
    comp["suspend"] = _as_bool(raw["suspend"], path + ".suspend") if raw.get("suspend") is not None else None
    comp["concurrency_policy"] = _choice(raw["concurrency_policy"], CONCURRENCY_POLICIES, path + ".concurrency_policy") if raw.get("concurrency_policy") else ""
    comp["time_zone"] = _as_str(raw.get("time_zone", ""), path + ".time_zone")
    comp["backoff_limit"] = _as_int(raw["backoff_limit"], path + ".backoff_limit", 0) if raw.get("backoff_limit") is not None else None
    comp["restart_policy"] = _choice(raw.get("restart_policy", "OnFailure"), ("OnFailure", "Never"), path + ".restart_policy")
    for key in ("successful_jobs_history_limit", "failed_jobs_history_limit"):
        comp[key] = _as_int(raw[key], f"{path}.{key}", 0) if raw.get(key) is not None else None

    metrics = raw.get("metrics")
    if metrics:
        metrics = {} if metrics is True else _as_dict(metrics, path + ".metrics")
        _unknown_keys(metrics, ("path", "port", "scheme"), path + ".metrics")
        default_port = ports[0]["port"] if ports else None
        port = metrics.get("port", default_port)
        if port is None:
            raise SystemDefinitionError(path + ".metrics.port", "required for a component without ports")
        comp["metrics"] = {
            "path": _as_str(metrics.get("path", "/metrics"), path + ".metrics.path") or "/metrics",
            "port": _as_int(port, path + ".metrics.port", 1, 65535),
            "scheme": _as_str(metrics.get("scheme", ""), path + ".metrics.scheme"),
        }
    else:
        comp["metrics"] = None

    sa = raw.get("service_account")
    if sa:
        sa = {"create": True} if sa is True else _as_dict(sa, path + ".service_account")
        _unknown_keys(sa, ("create", "name", "rules", "automount_token"), path + ".service_account")
        rules = []
        for i, rule in enumerate(_as_list(sa.get("rules"), path + ".service_account.rules")):
            rpath = f"{path}.service_account.rules[{i}]"
            rule = _as_dict(rule, rpath)
            _unknown_keys(rule, ("api_groups", "resources", "verbs", "resource_names"), rpath)
            if not rule.get("verbs") or not rule.get("resources"):
                raise SystemDefinitionError(rpath, "a rule needs resources and verbs")
            rules.append({
                k: [str(x) for x in _as_list(rule.get(k), f"{rpath}.{k}")]
                for k in ("api_groups", "resources", "verbs", "resource_names") if k in rule or k == "api_groups"
            })
        create = _as_bool(sa.get("create", True), path + ".service_account.create")
        comp["service_account"] = {
            "create": create,
            "name": _as_str(sa.get("name", name), path + ".service_account.name") or name,
            "rules": rules,
            "automount_token": _as_bool(sa.get("automount_token", bool(rules) or not create), path + ".service_account.automount_token"),
        }
        if rules and not create:
            raise SystemDefinitionError(path + ".service_account.rules", "rules need create: true")
    else:
        comp["service_account"] = None

    comp["expose"] = _as_bool(raw.get("expose", False), path + ".expose")
    comp["pod_annotations"] = _as_str_dict(raw.get("pod_annotations"), path + ".pod_annotations")
    comp["pod_labels"] = _as_str_dict(raw.get("pod_labels"), path + ".pod_labels")
    comp["pod_spec"] = copy.deepcopy(_as_dict(raw.get("pod_spec"), path + ".pod_spec"))
    comp["container"] = copy.deepcopy(_as_dict(raw.get("container"), path + ".container"))
    return comp


# --------------------------------------------------------------------------------------------
# the system


def port_of(target, port, path):
    """The port entry of ``target`` named or numbered by ``port`` (default: the primary port)."""
    if not target["ports"]:
        raise SystemDefinitionError(path, "component {!r} has no ports".format(target["name"]))
    if port in (None, ""):
        return target["ports"][0]
    for entry in target["ports"]:
        if port == entry["name"] or str(port) == str(entry["port"]) or str(port) == str(entry["service_port"]):
            return entry
    raise SystemDefinitionError(path, "component {!r} has no port {!r} (ports: {})".format(
        target["name"], port, ", ".join(f"{p['name']}={p['service_port']}" for p in target["ports"])))


def _component_ref(components, disabled, ref, path):
    if ref in components:
        return components[ref]
    if ref in disabled:
        raise SystemDefinitionError(path, f"component {ref!r} is disabled (enabled: false)")
    raise SystemDefinitionError(path, f"unknown component {ref!r}")


def _collect(errors, check, *args):
    """Run one check; a SystemDefinitionError becomes an entry of ``errors``."""
    try:
        return check(*args)
    except SystemDefinitionError as exc:
        errors.extend(exc.errors)
        return None


def _check_ref(components, disabled, value, vpath):
    target = _component_ref(components, disabled, value["ref"], vpath + ".ref")
    if not target["service"]:
        raise SystemDefinitionError(vpath + ".ref", "component {!r} has no Service".format(value["ref"]))
    port_of(target, value["port"], vpath + ".port")


def _check_wait(components, disabled, wait, path):
    target = _component_ref(components, disabled, wait, path)
    if not target["ports"] or not target["service"]:
        raise SystemDefinitionError(path, f"component {wait!r} has no Service port to wait for")


def _check_backend(components, disabled, entry, epath):
    target = _component_ref(components, disabled, entry["component"], epath + ".component")
    if not target["service"]:
        raise SystemDefinitionError(epath + ".component", "component {!r} has no Service".format(entry["component"]))
    port_of(target, entry["port"], epath + ".port")


def ingress_routes(ingress):
    """``[(variable path, host, entry)]`` of the enabled Ingress (host is the domain in single_domain mode)."""
    if not ingress["enabled"]:
        return []
    if ingress["mode"] == "hosts":
        return [(f"genai_ingress.hosts[{i}]", e["host"], e) for i, e in enumerate(ingress["hosts"])]
    return [(f"genai_ingress.paths[{i}]", ingress["domain"], e) for i, e in enumerate(ingress["paths"])]


def _check_references(components, disabled, settings):
    """Every cross-reference problem (refs, needs, wait_for, overrides, ingress backends) as a list."""
    errors = []
    for name in sorted(components):
        comp = components[name]
        path = f"genai_components.{name}"
        for key in sorted(comp["env"]):
            value = comp["env"][key]
            vpath = f"{path}.env.{key}"
            if "ref" in value:
                _collect(errors, _check_ref, components, disabled, value, vpath)
                if value["password"]:
                    _collect(errors, _check_secret_ref, components, disabled, value["password"], vpath + ".password")
            elif "secret" in value:
                _collect(errors, _check_secret_ref, components, disabled, value, vpath)
        for i, need in enumerate(comp["needs"]):
            if need == name:
                errors.append(f"{path}.needs[{i}]: a component cannot need itself")
            else:
                _collect(errors, _component_ref, components, disabled, need, f"{path}.needs[{i}]")
        for i, wait in enumerate(comp["wait_for"]):
            _collect(errors, _check_wait, components, disabled, wait, f"{path}.wait_for[{i}]")
    for variable, mapping in (("genai_image_overrides", settings["image_overrides"]), ("genai_replicas", settings["replicas"])):
        for name in sorted(mapping):
            if name not in components and name not in disabled:
                errors.append(f"{variable}.{name}: unknown component {name!r}")
    seen = {}
    for epath, host, entry in ingress_routes(settings["ingress"]):
        _collect(errors, _check_backend, components, disabled, entry, epath)
        key = (host, entry["path"], entry["path_type"])
        if key in seen:
            other_path, other = seen[key]
            errors.append("{}: {} {} ({}) already routes to {} ({}); one backend per host, path and path_type".format(
                epath, host, entry["path"], entry["path_type"], other["component"], other_path)
                if other["component"] != entry["component"] else
                "{}: {} {} ({}) is listed twice (also {})".format(epath, host, entry["path"], entry["path_type"], other_path))
        else:
            seen[key] = (epath, entry)
    return errors


def _check_secret_ref(components, disabled, ref, path):
    target = _component_ref(components, disabled, ref["secret"], path + ".secret")
    if ref["key"] not in target["secrets"]:
        raise SystemDefinitionError(path + ".key", "component {!r} has no secret {!r} (its secrets: {})".format(
            ref["secret"], ref["key"], ", ".join(sorted(target["secrets"])) or "none"))


def component_needs(comp):
    """Sorted names of the components ``comp`` depends on (needs + env refs + secret refs + wait_for)."""
    needs = set(comp["needs"]) | set(comp["wait_for"])
    for value in comp["env"].values():
        if "ref" in value:
            needs.add(value["ref"])
            if value["password"]:
                needs.add(value["password"]["secret"])
        elif "secret" in value:
            needs.add(value["secret"])
    needs.discard(comp["name"])
    return sorted(needs)


def topological_order(graph):
    """Kahn's algorithm over ``{name: [dependencies]}``; dependencies first, ties by name.

    Raises naming the cycle when there is one.
    """
    remaining = {name: set(deps) for name, deps in graph.items()}
    order = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps)
        if not ready:
            raise SystemDefinitionError("genai_components", "dependency cycle: {}".format(" -> ".join(_find_cycle(remaining))))
        for name in ready:
            order.append(name)
            del remaining[name]
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def _find_cycle(graph):
    start = min(graph)
    seen = []
    node = start
    while node not in seen:
        seen.append(node)
        node = min(d for d in graph[node] if d in graph)
    return seen[seen.index(node):] + [node]


class System:
    """A validated system: normalised components, settings, dependency graph and order."""

    def __init__(self, components, settings):
        problems = schema.validate(components, settings if settings is not None else {})
        if problems:
            raise SystemDefinitionError.collected(problems)
        self.settings = normalize_settings(settings)
        raw = _as_dict(components, "genai_components")
        self.components = {}
        self.disabled = set()
        errors = []
        for name in sorted(raw, key=str):
            comp = _collect(errors, normalize_component, str(name), raw[name], self.settings)
            if comp is None:
                continue
            if comp["enabled"]:
                self.components[comp["name"]] = comp
            else:
                self.disabled.add(comp["name"])
        if not errors:
            errors = _check_references(self.components, self.disabled, self.settings)
        if errors:
            raise SystemDefinitionError.collected(errors)
        routed = {entry["component"] for _path, _host, entry in ingress_routes(self.settings["ingress"])}
        for name, comp in self.components.items():
            comp["expose"] = comp["expose"] or name in routed
        self.needs = {name: component_needs(comp) for name, comp in self.components.items()}
        self.order = topological_order(self.needs)
        self.needed_by = {name: [] for name in self.components}
        for name in self.order:
            for dep in self.needs[name]:
                self.needed_by[dep].append(name)
        self.warnings = self._warnings()

    # derived names ------------------------------------------------------------------------
    def dns(self, name):
        """Service DNS name of a component: <name>.<namespace>.svc.<cluster domain>."""
        return "{}.{}.svc.{}".format(name, self.settings["namespace"], self.settings["cluster_domain"])

    def config_name(self, name):
        return f"{name}-config"

    def secret_name(self, name):
        return f"{name}-secrets"

    def tier_components(self, tier):
        """Components of a tier, dependencies first."""
        return [self.components[name] for name in self.order if self.components[name]["tier"] == tier]

    # env ----------------------------------------------------------------------------------
    def ref_value(self, value, secret_values=None, path=""):
        """The string a ``{ref: ...}`` env entry resolves to (URL, DSN, host, port, host:port)."""
        target = self.components[value["ref"]]
        port = port_of(target, value["port"], path)
        host = self.dns(target["name"])
        if value["part"] == "host":
            return host
        if value["part"] == "port":
            return str(port["service_port"])
        if value["part"] == "hostport":
            return f"{host}:{port['service_port']}"
        userinfo = ""
        if value["user"] or value["password"]:
            userinfo = _quote(value["user"])
            if value["password"]:
                userinfo += ":" + _quote(self.secret_value(value["password"]["secret"], value["password"]["key"], secret_values, path + ".password"))
            userinfo += "@"
        url = f"{value['scheme']}://{userinfo}{host}:{port['service_port']}{value['path']}"
        if value["query"]:
            url += "?" + value["query"].lstrip("?")
        return url

    def secret_value(self, component, key, secret_values, path):
        values = (secret_values or {}).get(component) or {}
        if key not in values or values[key] is None:
            raise SystemDefinitionError(path, f"no value for secret {key} of component {component!r} (run resolve_secrets first)")
        return str(values[key])

    def config_data(self, name):
        """The ConfigMap data of a component: its non-sensitive env (plain values and password-free refs)."""
        comp = self.components[name]
        data = {}
        for key, value in sorted(comp["env"].items()):
            if "ref" in value and not value["password"]:
                data[key] = self.ref_value(value, None, f"genai_components.{name}.env.{key}")
            elif "value" in value and not value["sensitive"]:
                data[key] = value["value"]
        return dict(sorted(data.items()))

    def secret_data(self, name, secret_values):
        """The Secret data of a component (plain strings): its secrets plus its sensitive env."""
        comp = self.components[name]
        path = f"genai_components.{name}"
        data = {}
        for key in sorted(comp["secrets"]):
            data[key] = self.secret_value(name, key, secret_values, f"{path}.secrets.{key}")
        for key, value in sorted(comp["env"].items()):
            vpath = f"{path}.env.{key}"
            if "ref" in value and value["password"]:
                data[key] = self.ref_value(value, secret_values, vpath)
            elif "secret" in value:
                data[key] = self.secret_value(value["secret"], value["key"], secret_values, vpath)
            elif "value" in value and value["sensitive"]:
                data[key] = value["value"]
        return dict(sorted(data.items()))

    def has_secret(self, name):
        comp = self.components[name]
        if comp["secrets"]:
            return True
        return any(("ref" in v and v["password"]) or "secret" in v or v.get("sensitive") for v in comp["env"].values())

    # warnings -----------------------------------------------------------------------------
    def _warnings(self):
        warnings = []
        for name in sorted(self.components):
            comp = self.components[name]
            image = comp["image"]
            if image["tag"] == "latest" and not image["digest"]:
                warnings.append(
                    "genai_components.{}.image: {} uses the moving tag 'latest', so its pods may run "
                    "different builds (pulled with imagePullPolicy Always unless a pull policy says "
                    "otherwise); pin a tag or digest with genai_image_tag or genai_image_overrides".format(name, image["repository"]))
            for dep in self.needs[name]:
                if TIERS.index(self.components[dep]["tier"]) > TIERS.index(comp["tier"]):
                    warnings.append(
                        "genai_components.{}: needs {} of the later tier {}, so the {} tier may not become ready before it".format(
                            name, dep, self.components[dep]["tier"], comp["tier"]))
        return warnings


def _quote(text):
    """Percent-encode the characters that would break the userinfo of a URL."""
    safe = string.ascii_letters + string.digits + "-._~!$&'()*+,;="
    return "".join(c if c in safe else f"%{ord(c):02X}" for c in text) if any(c not in safe for c in text) else text


def build_system(components, settings):
    return System(components, settings)


# --------------------------------------------------------------------------------------------
# secrets


def existing_secret_values(secret_objects):
    """``{secret name: {key: value}}`` from Secret objects as kubernetes.core.k8s_info returns them."""
    result = {}
    for obj in secret_objects or []:
        if not isinstance(obj, dict):
            continue
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            continue
        values = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                values[key] = base64.b64decode(value).decode("utf-8")
            except (ValueError, TypeError, UnicodeDecodeError):
                continue
        for key, value in (obj.get("stringData") or {}).items():
            values[key] = str(value)
        result[name] = values
    return result


def generate_password(length):
    return "".join(_secrets.choice(PASSWORD_ALPHABET) for _index in range(length))


def resolve_secrets(system, secret_objects):
    """``{component: {KEY: value}}`` for every component with ``secrets``.

    A value given by the user wins; otherwise the value already in the cluster's
    ``<component>-secrets`` is kept (never rotated); otherwise one is generated.
    """
    existing = existing_secret_values(secret_objects)
    result = {}
    for name in sorted(system.components):
        comp = system.components[name]
        if not comp["secrets"]:
            continue
        current = existing.get(system.secret_name(name), {})
        values = {}
        for key in sorted(comp["secrets"]):
            spec = comp["secrets"][key]
            if "value" in spec:
                values[key] = spec["value"]
            elif current.get(key):
                values[key] = current[key]
            elif "generate" in spec:
                values[key] = generate_password(spec["generate"])
            else:
                raise SystemDefinitionError(
                    f"genai_components.{name}.secrets.{key}",
                    "no value given and none in Secret {}/{}; set value (from a vault) or generate".format(
                        system.settings["namespace"], system.secret_name(name)))
        result[name] = values
    return result

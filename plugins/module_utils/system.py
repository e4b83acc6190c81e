# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data model of a genai.stack system.

A system is a dict ``component name -> component record`` (``genai_components``). ``System``
checks it against the one schema (module_utils/schema.py: every field, every problem at once),
normalises every record (defaults, types), checks what relates components to each other
(refs, needs, wait_for, secrets, ingress backends, dependency cycles), derives what is never
typed twice (Service DNS names, URLs and DSNs, ``expose``, the ``needs`` graph and its
topological order) and resolves the values of Secrets.

Every problem raises ``SystemDefinitionError`` (a ``GenaiStackError``, the collection's one
exception root) listing each problem as "<variable path>: <message>". No Ansible import: the
filter plugin turns it into ``AnsibleFilterError``.
"""

import base64
import copy
import secrets as _secrets
import string

from ansible_collections.genai.stack.plugins.module_utils import schema
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

COMPONENT_TIERS = schema.TIERS
TIERS = COMPONENT_TIERS  # the tiers a component can be in; render.TIERS is the whole order
APP_TIERS = ("backend", "worker", "frontend")

DEFAULT_WAIT_IMAGE = "busybox:1.36"
DEFAULT_GENERATED_LENGTH = 24
PASSWORD_ALPHABET = string.ascii_letters + string.digits

# Generated Secrets of the monitoring tier (settings.monitoring_enabled), resolved as a
# component's are: kept from the cluster, else generated, never rotated. Their entry in the
# resolved values is keyed "monitoring.<app>" (a dot: never a component name).
# {values key: (Secret name, app, {key: generated length})}
MONITORING_SECRETS = {
    "monitoring.grafana": ("grafana-secrets", "grafana", {"GF_SECURITY_ADMIN_PASSWORD": DEFAULT_GENERATED_LENGTH}),
}

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
    "monitoring": {},
    "network_policies": True,
    "network_policy_allow_from": [],
    "pod_security_level": "baseline",
    "wait_image": DEFAULT_WAIT_IMAGE,
}

# What an absent genai_ingress means to the renderer: no Ingress. The Ingress a system gets by
# default is the role default of genai_ingress (roles/common/defaults/main.yml), merged over this.
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


def _int(value, default=None):
    """An integer the schema accepted (an int or a string of digits); None gives ``default``."""
    if value is None or value == "":
        return default
    return int(value)


def _bool(value, default=False):
    """A boolean the schema accepted (a bool or one of YAML's words); None gives ``default``."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on")
    return bool(value)


def _str(value, default=""):
    return default if value is None or value == "" else str(value)


def _dict(value):
    return dict(value) if isinstance(value, dict) else {}


def _list(value):
    return list(value) if isinstance(value, list) else []


def _int_or_percent(value):
    return value.strip() if isinstance(value, str) and value.strip().endswith("%") else int(value)


# --------------------------------------------------------------------------------------------
# settings (their shape is checked by schema.SETTINGS before this runs)


def normalize_settings(settings):
    """Fill the settings dict (fact ``genai_settings``) with defaults."""
    result = copy.deepcopy(DEFAULT_SETTINGS)
    result.update({k: copy.deepcopy(v) for k, v in _dict(settings).items() if v is not None})
    result["cluster_domain"] = str(result["cluster_domain"]).strip(".")
    result["image_registry"] = _str(result["image_registry"]).rstrip("/")
    result["image_pull_secrets"] = [str(s) for s in _list(result["image_pull_secrets"])]
    for key in ("image_overrides", "replicas"):
        result[key] = _dict(result[key])
    result["image_tag"] = _str(result["image_tag"])
    result["monitoring_enabled"] = _bool(result["monitoring_enabled"])
    # unset monitoring settings (None, "") take the renderer's MONITORING_DEFAULTS
    result["monitoring"] = {str(k): v for k, v in _dict(result["monitoring"]).items() if v not in (None, "")}
    result["network_policies"] = _bool(result["network_policies"], True)
    result["network_policy_allow_from"] = camelize(_list(result["network_policy_allow_from"]))
    result["wait_image"] = _str(result["wait_image"], DEFAULT_WAIT_IMAGE)
    result["ingress"] = normalize_ingress(result["ingress"], result["system"])
    return result


def _route(entry, host=None):
    route = {"component": str(entry["component"]), "port": entry.get("port"),
             "path": _str(entry.get("path"), "/"), "path_type": _str(entry.get("path_type"), "Prefix")}
    if host is not None:
        route = dict({"host": host}, **route)
    return route


def normalize_ingress(ingress, system="genai"):
    """Fill ``genai_ingress`` with defaults; refuse an enabled Ingress that lacks what its mode needs."""
    path = "genai_ingress"
    result = deep_merge(DEFAULT_INGRESS, _dict(ingress))
    result["enabled"] = _bool(result["enabled"])
    result["name"] = _str(result["name"], system)
    for key in ("class_name", "domain", "controller_namespace"):
        result[key] = _str(result[key])
    result["annotations"] = {str(k): _str(v) for k, v in _dict(result["annotations"]).items()}
    result["hosts"] = [_route(e, str(e["host"])) for e in _list(result["hosts"])]
    result["paths"] = [_route(e) for e in _list(result["paths"])]
    tls = deep_merge(DEFAULT_INGRESS["tls"], _dict(result["tls"]))
    tls["secret_name"] = _str(tls["secret_name"], "genai-tls")
    tls["issuer"] = _str(tls["issuer"])
    result["tls"] = tls
    if result["enabled"]:
        if tls["mode"] == "cert_manager" and not tls["issuer"]:
            raise SystemDefinitionError(path + ".tls.issuer", "required when tls.mode is cert_manager")
        if result["mode"] == "hosts" and not result["hosts"]:
            raise SystemDefinitionError(path + ".hosts", "at least one host is required when mode is hosts")
        if result["mode"] == "single_domain" and not result["domain"]:
            raise SystemDefinitionError(path + ".domain", "required when mode is single_domain")
        if result["mode"] == "single_domain" and not result["paths"]:
            raise SystemDefinitionError(path + ".paths", "at least one path is required when mode is single_domain")
    return result


# --------------------------------------------------------------------------------------------
# component records (their shape is checked by schema.COMPONENT before this runs; what is left
# here are defaults and the rules that relate one field to another)


def _normalize_image(name, raw, settings, tier):
    image = deep_merge(_dict(raw), _dict(settings["image_overrides"].get(name)))
    result = {
        "repository": str(image["repository"]),
        "tag": _str(image.get("tag"), "latest"),
        "registry": _str(image.get("registry")).rstrip("/"),
        "digest": _str(image.get("digest")),
        "pull_policy": _str(image.get("pull_policy")),
    }
    if settings["image_tag"] and tier in APP_TIERS:
        result["tag"] = settings["image_tag"]
    return result


def _normalize_port(entry):
    entry = {"port": entry} if isinstance(entry, int) else entry
    port = int(entry.get("port", entry.get("container_port")))
    return {
        "name": _str(entry.get("name"), f"port-{port}"),
        "port": port,
        "service_port": _int(entry.get("service_port"), port),
        "protocol": _str(entry.get("protocol"), "TCP"),
    }


def _normalize_probe(probe):
    result = {key: int(probe[key]) for key in schema.PROBE_TIMINGS if probe.get(key) is not None}
    if "exec" in probe:
        command = probe["exec"]["command"] if isinstance(probe["exec"], dict) else probe["exec"]
        result["exec"] = [str(c) for c in command]
    elif "http_get" in probe:
        result["http_get"] = dict(_dict(probe["http_get"]), path=_str(_dict(probe["http_get"]).get("path"), "/"))
    for handler in ("tcp_socket", "grpc"):
        if handler in probe:
            result[handler] = _dict(probe[handler])
    return result


def _normalize_storage(entry, workload, path):
    result = {
        "name": entry["name"],
        "type": _str(entry.get("type"), "pvc"),
        "mount": entry["mount"],
        "sub_path": _str(entry.get("sub_path")),
        "read_only": _bool(entry.get("read_only")),
    }
    if result["type"] == "emptyDir":
        result["medium"] = _str(entry.get("medium"))
        result["size_limit"] = _str(entry.get("size_limit"))
        return result
    if workload == "CronJob":
        raise SystemDefinitionError(path + ".type", "a CronJob cannot own a PersistentVolumeClaim; use type emptyDir or pod_spec")
    if entry.get("size") in (None, ""):
        raise SystemDefinitionError(path + ".size", "required for a PersistentVolumeClaim (e.g. 1Gi)")
    result["size"] = str(entry["size"])
    result["access_modes"] = _list(entry.get("access_modes")) or ["ReadWriteOnce"]
    result["storage_class"] = _str(entry.get("storage_class"))
    return result


def _normalize_env_value(value):
    if not isinstance(value, dict):
        return {"value": _str(value), "sensitive": False}
    if "ref" in value:
        password = value.get("password")
        return {
            "ref": value["ref"],
            "scheme": _str(value.get("scheme"), "http"),
            "user": _str(value.get("user")),
            "path": ("/" + value["path"].lstrip("/")) if value.get("path") else "",
            "query": _str(value.get("query")),
            "part": _str(value.get("part"), "url"),
            "port": value.get("port"),
            "password": {"secret": password["secret"], "key": password["key"]} if password else None,
        }
    if "secret" in value:
        return {"secret": value["secret"], "key": value["key"]}
    return {"value": _str(value["value"]), "sensitive": _bool(value.get("sensitive"))}


def _normalize_secret(value):
    if not isinstance(value, dict):
        return {} if value is None else {"value": str(value)}
    if "generate" in value:
        return {"generate": DEFAULT_GENERATED_LENGTH if value["generate"] is True else int(value["generate"])}
    return {"value": _str(value["value"])} if "value" in value else {}


def _normalize_autoscaling(raw, path):
    if not raw or not _bool(raw.get("enabled"), True):
        return None
    result = {
        "min_replicas": _int(raw.get("min_replicas"), 1),
        "max_replicas": _int(raw.get("max_replicas")),
        "cpu": _int(raw.get("cpu")),
        "memory": _int(raw.get("memory")),
        "behavior": camelize(_dict(raw.get("behavior"))),
    }
    if result["max_replicas"] is None:
        raise SystemDefinitionError(path + ".max_replicas", "required")
    if result["cpu"] is None and result["memory"] is None:
        raise SystemDefinitionError(path, "give a cpu and/or memory target (percent of requests)")
    if result["max_replicas"] < result["min_replicas"]:
        raise SystemDefinitionError(path + ".max_replicas", f"must be at least min_replicas ({result['min_replicas']})")
    return result


def _normalize_service_account(raw, name, path):
    if not raw:
        return None
    sa = {"create": True} if raw is True else raw
    create = _bool(sa.get("create"), True)
    rules = [{k: [str(x) for x in _list(rule.get(k))] for k in ("api_groups", "resources", "verbs", "resource_names")
              if k in rule or k == "api_groups"} for rule in _list(sa.get("rules"))]
    if rules and not create:
        raise SystemDefinitionError(path + ".rules", "rules need create: true")
    return {"create": create, "name": _str(sa.get("name"), name), "rules": rules,
            "automount_token": _bool(sa.get("automount_token"), bool(rules) or not create)}


def _normalize_metrics(raw, ports, path):
    if not raw:
        return None
    metrics = {} if raw is True else raw
    port = _int(metrics.get("port"), ports[0]["port"] if ports else None)
    if port is None:
        raise SystemDefinitionError(path + ".port", "required for a component without ports")
    return {"path": _str(metrics.get("path"), "/metrics"), "port": port, "scheme": _str(metrics.get("scheme"))}


def _unique(items, path, what):
    seen = set()
    for i, item in enumerate(items):
        if item["name"] in seen:
            raise SystemDefinitionError(f"{path}[{i}].name", "duplicate {} name {!r}".format(what, item["name"]))
        seen.add(item["name"])
    return items


def normalize_component(name, raw, settings):
    """The full record of one schema-valid component, every field present and typed.

    Raises SystemDefinitionError naming the variable path for the rules that relate one field
    to another (a Service needs ports, an HPA target needs a request, ...).
    """
    path = f"genai_components.{name}"
    comp = {"name": name, "enabled": _bool(raw.get("enabled"), True), "tier": raw["tier"]}
    comp["workload"] = _str(raw.get("workload"), "Deployment")
    comp["image"] = _normalize_image(name, raw["image"], settings, comp["tier"])
    comp["description"] = _str(raw.get("description"))
    comp["command"] = [str(c) for c in _list(raw.get("command"))]
    comp["args"] = [str(a) for a in _list(raw.get("args"))]
    comp["ports"] = ports = _unique([_normalize_port(p) for p in _list(raw.get("ports"))], path + ".ports", "port")
    comp["service"] = _bool(raw.get("service"), bool(ports))
    if comp["service"] and not ports:
        raise SystemDefinitionError(path + ".service", "a Service needs ports")
    if comp["service"] and comp["workload"] == "CronJob":
        raise SystemDefinitionError(path + ".service", "a CronJob has no Service; set service: false")
    comp["service_type"] = _str(raw.get("service_type"), "ClusterIP")

    comp["replicas"] = _int(raw.get("replicas"), 1)
    comp["autoscaling"] = _normalize_autoscaling(_dict(raw.get("autoscaling")), path + ".autoscaling")
    if comp["autoscaling"] and comp["workload"] == "CronJob":
        raise SystemDefinitionError(path + ".autoscaling", "a CronJob cannot be autoscaled")
    if name in settings["replicas"]:
        count = int(settings["replicas"][name])
        if comp["autoscaling"]:
            comp["autoscaling"]["min_replicas"] = max(count, 1)
            comp["autoscaling"]["max_replicas"] = max(comp["autoscaling"]["max_replicas"], count)
        comp["replicas"] = count
    resources = _dict(raw.get("resources"))
    comp["resources"] = {section: {str(k): str(v) for k, v in _dict(resources.get(section)).items()}
                         for section in ("requests", "limits") if resources.get(section)}
    for metric in ("cpu", "memory"):
        if comp["autoscaling"] and comp["autoscaling"][metric] is not None and metric not in comp["resources"].get("requests", {}):
            raise SystemDefinitionError(
                f"{path}.autoscaling.{metric}",
                f"a {metric} utilization target needs resources.requests.{metric} (utilization is a percent of the request)")

    comp["health_path"] = _str(raw.get("health_path"))
    if comp["health_path"] and not ports:
        raise SystemDefinitionError(path + ".health_path", "an HTTP health path needs a port")
    comp["probes"] = {k: _normalize_probe(v) for k, v in _dict(raw.get("probes")).items() if v is not None}
    comp["env"] = {str(k): _normalize_env_value(v) for k, v in _dict(raw.get("env")).items()}
    comp["secrets"] = {str(k): _normalize_secret(v) for k, v in _dict(raw.get("secrets")).items()}
    for key in sorted(set(comp["secrets"]) & set(comp["env"])):
        raise SystemDefinitionError(f"{path}.secrets.{key}", "also defined in env")
    comp["needs"] = [str(n) for n in _list(raw.get("needs"))]
    comp["wait_for"] = [str(n) for n in _list(raw.get("wait_for"))]
    comp["storage"] = _unique([_normalize_storage(s, comp["workload"], f"{path}.storage[{i}]")
                               for i, s in enumerate(_list(raw.get("storage")))], path + ".storage", "volume")
    comp["rolling_update"] = {k: _int_or_percent(v) for k, v in _dict(raw.get("rolling_update")).items() if v is not None}
    sc = _dict(raw.get("security_context"))
    for key in ("run_as_non_root", "allow_privilege_escalation", "privileged", "read_only_root_filesystem"):
        if key in sc:
            sc[key] = _bool(sc[key])
    for key in ("run_as_user", "run_as_group", "fs_group"):
        if key in sc:
            sc[key] = int(sc[key])
    comp["security_context"] = copy.deepcopy(sc)
    comp["anti_affinity"] = _str(raw.get("anti_affinity"), "none")
    comp["lifecycle"] = {k: copy.deepcopy(v) for k, v in _dict(raw.get("lifecycle")).items() if v}
    comp["termination_grace_period_seconds"] = _int(raw.get("termination_grace_period_seconds"))

    comp["schedule"] = _str(raw.get("schedule"))
    comp["suspend"] = _bool(raw["suspend"]) if raw.get("suspend") is not None else None
    comp["concurrency_policy"] = _str(raw.get("concurrency_policy"))
    comp["time_zone"] = _str(raw.get("time_zone"))
    comp["restart_policy"] = _str(raw.get("restart_policy"), "OnFailure")
    for key in ("backoff_limit", "successful_jobs_history_limit", "failed_jobs_history_limit"):
        comp[key] = _int(raw.get(key))

    comp["metrics"] = _normalize_metrics(raw.get("metrics"), ports, path + ".metrics")
    comp["service_account"] = _normalize_service_account(raw.get("service_account"), name, path + ".service_account")
    comp["expose"] = _bool(raw.get("expose"))
    comp["pod_annotations"] = {str(k): _str(v) for k, v in _dict(raw.get("pod_annotations")).items()}
    comp["pod_labels"] = {str(k): _str(v) for k, v in _dict(raw.get("pod_labels")).items()}
    comp["pod_spec"] = copy.deepcopy(_dict(raw.get("pod_spec")))
    comp["container"] = copy.deepcopy(_dict(raw.get("container")))
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
        raw = _dict(components)
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
    With monitoring enabled, also the generated Secrets of the monitoring tier
    (``MONITORING_SECRETS``, e.g. ``monitoring.grafana``), kept the same way.
    """
    existing = existing_secret_values(secret_objects)
    result = {}
    if system.settings["monitoring_enabled"]:
        for entry, (secret_name, _app, keys) in sorted(MONITORING_SECRETS.items()):
            current = existing.get(secret_name, {})
            result[entry] = {key: current.get(key) or generate_password(length) for key, length in sorted(keys.items())}
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

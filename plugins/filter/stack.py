# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that validate a genai.stack system and render its Kubernetes manifests.

The documentation of each filter is in plugins/filter/<filter name>.yml
(``ansible-doc -t filter genai.stack.<filter name>``).
"""


from ansible.errors import AnsibleFilterError
from ansible_collections.genai.stack.plugins.module_utils.render import (
    ingress_hosts,
)
from ansible_collections.genai.stack.plugins.module_utils.render import (
    render_secrets as _render_secrets,
)
from ansible_collections.genai.stack.plugins.module_utils.render import (
    render_tier as _render_tier,
)
from ansible_collections.genai.stack.plugins.module_utils.system import (
    TIERS,
    System,
    SystemDefinitionError,
)
from ansible_collections.genai.stack.plugins.module_utils.system import (
    resolve_secrets as _resolve_secrets,
)


def _system(components, settings):
    try:
        return System(components, settings)
    except SystemDefinitionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def _plain(value):
    """Turn Ansible's lazy/tagged containers into plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def validate_system(components, settings):
    """Validate a system; return its summary (order, tiers, needs, warnings) or raise naming the variable."""
    system = _system(_plain(components), _plain(settings))
    return {
        "components": list(system.order),
        "tiers": {tier: [c["name"] for c in system.tier_components(tier)] for tier in TIERS},
        "needs": {name: list(system.needs[name]) for name in system.order},
        "warnings": list(system.warnings),
    }


def resolve_secrets(components, existing_secrets, settings):
    """``{component: {KEY: value}}``: user values, else the cluster's values, else generated ones."""
    system = _system(_plain(components), _plain(settings))
    existing = _plain(existing_secrets)
    if isinstance(existing, dict):
        existing = existing.get("resources", [])
    try:
        return _resolve_secrets(system, existing or [])
    except SystemDefinitionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def render_tier(components, tier, settings, secret_values=None):
    """The manifests of one tier (foundation, datastores, backend, worker, frontend, ingress)."""
    system = _system(_plain(components), _plain(settings))
    try:
        return _render_tier(system, str(tier), _plain(secret_values) or {})
    except SystemDefinitionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def render_secrets(components, settings, secret_values):
    """The Secret manifests (``<component>-secrets``) of every component that has sensitive values."""
    system = _system(_plain(components), _plain(settings))
    try:
        return _render_secrets(system, _plain(secret_values) or {})
    except SystemDefinitionError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def component_names(components, settings, tier=None):
    """Names of the enabled components, dependencies first, optionally of one tier only."""
    system = _system(_plain(components), _plain(settings))
    if tier in (None, "", "all"):
        return list(system.order)
    if tier not in TIERS:
        raise AnsibleFilterError("tier: must be one of {}, got {!r}".format(", ".join(TIERS), tier))
    return [c["name"] for c in system.tier_components(tier)]


def health_checks(components, settings):
    """What the health of each component means: kind, Service, HTTP health path and port, needs."""
    system = _system(_plain(components), _plain(settings))
    result = []
    for name in system.order:
        comp = system.components[name]
        entry = {
            "name": name,
            "tier": comp["tier"],
            "kind": comp["workload"],
            "service": name if comp["service"] else "",
            "dns": system.dns(name) if comp["service"] else "",
            "health_path": comp["health_path"],
            "health_port": comp["ports"][0]["name"] if comp["health_path"] else "",
            "needs": list(system.needs[name]),
        }
        result.append(entry)
    return result


def access_info(components, settings):
    """How to reach the system: the Ingress URLs, or port-forward commands when there is no Ingress."""
    system = _system(_plain(components), _plain(settings))
    settings = system.settings
    ing = settings["ingress"]
    lines = []
    if ing["enabled"]:
        scheme = "http" if ing["tls"]["mode"] == "none" else "https"
        if ing["mode"] == "hosts":
            for entry in ing["hosts"]:
                lines.append("{}://{}{} -> {}".format(scheme, entry["host"], entry["path"] if entry["path"] != "/" else "", entry["component"]))
        else:
            for entry in ing["paths"]:
                lines.append("{}://{}{} -> {}".format(scheme, ing["domain"], entry["path"] if entry["path"] != "/" else "", entry["component"]))
        lines.append("(the hosts {} must resolve to the ingress controller)".format(", ".join(ingress_hosts(settings))))
        return lines
    targets = [c for c in (system.components[n] for n in system.order) if c["service"] and c["expose"]]
    if not targets:
        targets = [c for c in system.tier_components("frontend") if c["service"]]
    for comp in targets:
        port = comp["ports"][0]["service_port"]
        lines.append(f"kubectl -n {settings['namespace']} port-forward svc/{comp['name']} {port}:{port}  # then http://localhost:{port}")
    return lines


def system_warnings(components, settings):
    """Warnings about a valid system (moving :latest tags, needs on a later tier)."""
    return list(_system(_plain(components), _plain(settings)).warnings)


class FilterModule:
    """genai.stack filters."""

    def filters(self):
        return {
            "validate_system": validate_system,
            "resolve_secrets": resolve_secrets,
            "render_tier": render_tier,
            "render_secrets": render_secrets,
            "component_names": component_names,
            "health_checks": health_checks,
            "access_info": access_info,
            "system_warnings": system_warnings,
        }

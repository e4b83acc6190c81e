# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that validate a genai.stack system and render its Kubernetes manifests.

The documentation of each filter is in plugins/filter/<filter name>.yml
(``ansible-doc -t filter genai.stack.<filter name>``). Every filter takes the system
(component name -> component record) and the settings the common role publishes as
``genai_settings``; every error is an ``AnsibleFilterError`` whose message starts with the
inventory variable path.
"""


from ansible.errors import AnsibleFilterError
from ansible_collections.genai.stack.plugins.module_utils import render as _render
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
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
    MONITORING_SECRETS,
    TIERS,
    System,
)
from ansible_collections.genai.stack.plugins.module_utils.system import (
    resolve_secrets as _resolve_secrets,
)

# Every tier in apply order, as the renderer defines it.
APPLY_ORDER = tuple(getattr(_render, "RENDER_TIERS", None) or _render.TIERS)
LABEL_NAME = "app.kubernetes.io/name"
REDACTED = "REDACTED"
LABEL_TIER = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"


def _system(components, settings):
    try:
        return System(components, settings)
    except GenaiStackError as exc:
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


def _resources(objects):
    """The object list of a registered k8s_info result, or the list itself."""
    objects = _plain(objects)
    if isinstance(objects, dict):
        objects = objects.get("resources", [])
    return objects or []


def _labels(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


def validate_system(components, settings):
    """Validate a system; return its summary (order, tiers, needs, warnings) or raise naming the variable."""
    system = _system(_plain(components), _plain(settings))
    return {
        "components": list(system.order),
        "tiers": {tier: [c["name"] for c in system.tier_components(tier)] for tier in TIERS},
        "needs": {name: list(system.needs[name]) for name in system.order},
        "warnings": list(system.warnings),
    }


def resolve_secrets(components, existing_secrets, settings, redact=False):
    """``{component: {KEY: value}}``: user values, else the cluster's values, else generated ones.

    Only existing Secrets of this system (label part-of = settings.system, or unlabelled)
    are read, so another system's Secret of the same name never lends its password.
    ``redact``: every value is the placeholder ``REDACTED`` (rendering for review without
    secret values: same keys, deterministic output).
    """
    system = _system(_plain(components), _plain(settings))
    own = [s for s in _resources(existing_secrets)
           if _labels(s).get(LABEL_PART_OF, system.settings["system"]) == system.settings["system"]]
    try:
        values = _resolve_secrets(system, own)
    except GenaiStackError as exc:
        raise AnsibleFilterError(str(exc)) from exc
    if redact:
        values = {name: dict.fromkeys(keys, REDACTED) for name, keys in values.items()}
    return values


def foreign_objects(existing, components, settings):
    """Objects of the namespace that another system owns under one of this system's component names.

    ``existing``: Secrets and PersistentVolumeClaims labelled managed-by genai-stack: a list,
    a registered k8s_info result, or ``{kind: [objects]}`` (what the k8s lookup returns per
    kind: list items carry no kind). Returns ``[{kind, name, system, component}]`` for every
    object whose ``app.kubernetes.io/part-of`` names another system and whose
    ``app.kubernetes.io/name`` is a component of this one (or, with monitoring enabled, an
    app of the monitoring tier that has a generated Secret: grafana): what renaming
    ``genai_system`` in a namespace in use leaves behind (data on PVCs, passwords in Secrets).
    """
    system = _system(_plain(components), _plain(settings))
    mine = set(system.components)
    if system.settings.get("monitoring_enabled"):
        # the monitoring tier's generated Secrets (grafana-secrets: app.kubernetes.io/name grafana)
        mine.update(app for _secret, app, _keys in MONITORING_SECRETS.values())
    existing = _plain(existing)
    if isinstance(existing, dict) and "resources" not in existing:
        # kind -> objects, as list responses leave the kind out of their items
        existing = [dict(obj, kind=obj.get("kind") or kind) for kind, objs in sorted(existing.items()) for obj in objs or []]
    found = []
    for obj in _resources(existing):
        labels = _labels(obj)
        owner = labels.get(LABEL_PART_OF)
        if owner and owner != system.settings["system"] and labels.get(LABEL_NAME) in mine:
            found.append({
                "kind": obj.get("kind", ""),
                "name": obj["metadata"]["name"],
                "system": owner,
                "component": labels[LABEL_NAME],
            })
    return sorted(found, key=lambda o: (o["system"], o["kind"], o["name"]))


def render_tier(components, tier, settings, secret_values=None):
    """The manifests of one tier (foundation, datastores, backend, worker, frontend, ingress)."""
    system = _system(_plain(components), _plain(settings))
    try:
        return _render_tier(system, str(tier), _plain(secret_values) or {})
    except GenaiStackError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def render_tiers(components, settings, secret_values=None, tiers=None):
    """Every tier in apply order: ``[{tier, labels, selectors, manifests}]``.

    ``labels`` select what the tier owns (part-of the system and the tier's component
    label): the prune selector of its apply; ``selectors`` are the same as ``key=value``
    strings, the label selectors of its health check.
    ``tiers`` restricts the list (its own order is ignored: apply order always wins).
    Secrets are not included (``render_secrets``).
    """
    system = _system(_plain(components), _plain(settings))
    wanted = APPLY_ORDER if tiers in (None, "", "all") else _plain(tiers)
    if isinstance(wanted, str):
        wanted = [wanted]
    unknown = [t for t in wanted if t not in APPLY_ORDER]
    if unknown:
        raise AnsibleFilterError("tier: must be one of {}, got {}".format(", ".join(APPLY_ORDER), ", ".join(unknown)))
    values = _plain(secret_values) or {}
    result = []
    for tier in APPLY_ORDER:
        if tier not in wanted:
            continue
        try:
            manifests = _render_tier(system, tier, values)
        except GenaiStackError as exc:
            raise AnsibleFilterError(str(exc)) from exc
        labels = {LABEL_PART_OF: system.settings["system"], LABEL_TIER: tier}
        result.append({
            "tier": tier,
            "labels": labels,
            "selectors": ["{}={}".format(k, v) for k, v in labels.items()],
            "manifests": manifests,
        })
    return result


def render_secrets(components, settings, secret_values, tier=None):
    """The generated Secrets: ``<component>-secrets`` of every component that has sensitive
    values (tier foundation) and, with monitoring enabled, ``grafana-secrets`` (tier monitoring).

    ``tier``: only the Secrets applied with that tier (none for the other tiers).
    """
    system = _system(_plain(components), _plain(settings))
    tier = None if tier in (None, "", "all") else str(tier)
    if tier is not None and tier not in APPLY_ORDER:
        raise AnsibleFilterError("tier: must be one of {}, got {}".format(", ".join(APPLY_ORDER), tier))
    try:
        return _render_secrets(system, _plain(secret_values) or {}, tier)
    except GenaiStackError as exc:
        raise AnsibleFilterError(str(exc)) from exc


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


class FilterModule:
    """genai.stack filters."""

    def filters(self):
        return {
            "validate_system": validate_system,
            "resolve_secrets": resolve_secrets,
            "foreign_objects": foreign_objects,
            "render_tier": render_tier,
            "render_tiers": render_tiers,
            "render_secrets": render_secrets,
            "access_info": access_info,
        }

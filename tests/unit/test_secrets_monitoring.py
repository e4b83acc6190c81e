"""The Grafana admin Secret is a generated Secret of the renderer, and the monitoring settings
reach it through genai_settings (issue 9): what a user of monitoring would notice broken.

- the password is generated once, kept from the cluster on every re-run (also from the
  Secret the monitoring role created before it was the renderer's), never lent by another
  system, redacted for review;
- render_secrets gives each tier its own Secrets (foundation: the components', monitoring:
  grafana-secrets), the Secret Grafana's Deployment reads;
- the inventory's monitoring_* settings (genai_settings.monitoring) reach the manifests, and
  unset ones (null) are the renderer's MONITORING_DEFAULTS, which the monitoring role's
  documentation names;
- the apply's value-free result for hide_values (what a no_log task's rescue shows).
"""

import base64
import os
import string

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.genai.stack.plugins.filter import stack
from ansible_collections.genai.stack.plugins.module_utils.apply_engine import without_values
from ansible_collections.genai.stack.plugins.module_utils.render import MONITORING_DEFAULTS
from systems import ROOT, load

GRAFANA_KEY = "GF_SECURITY_ADMIN_PASSWORD"
# The Secret as roles/monitoring/tasks/secrets.yml created it before this change.
OLD_GRAFANA_SECRET = {
    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
    "metadata": {"name": "grafana-secrets", "namespace": "genai", "labels": {
        "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "genai",
        "app.kubernetes.io/component": "monitoring", "app.kubernetes.io/part-of": "genai",
        "app.kubernetes.io/managed-by": "genai-stack", "app.kubernetes.io/version": "11.2.0"}},
    "data": {GRAFANA_KEY: base64.b64encode(b"kept-grafana-password-0123").decode()},
}


def system(monitoring=True, **monitoring_settings):
    components, settings = load("genai")
    settings["monitoring_enabled"] = monitoring
    if monitoring_settings:
        settings["monitoring"] = monitoring_settings
    return components, settings


def _decoded(secret):
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


# --------------------------------------------------------------------------------------------
# resolve_secrets


def test_grafana_password_is_generated_when_the_cluster_has_none():
    values = stack.resolve_secrets(*system()[:1], [], system()[1])
    password = values["monitoring.grafana"][GRAFANA_KEY]
    assert len(password) == 24 and set(password) <= set(string.ascii_letters + string.digits)


def test_grafana_password_is_kept_from_the_secret_the_monitoring_role_created():
    components, settings = system()
    for _run in range(2):
        values = stack.resolve_secrets(components, [OLD_GRAFANA_SECRET], settings)
        assert values["monitoring.grafana"] == {GRAFANA_KEY: "kept-grafana-password-0123"}
    secret, = stack.render_secrets(components, settings, values, "monitoring")
    assert _decoded(secret) == {GRAFANA_KEY: "kept-grafana-password-0123"}


def test_grafana_password_of_another_system_is_not_lent():
    components, settings = system()
    other = dict(OLD_GRAFANA_SECRET, metadata=dict(OLD_GRAFANA_SECRET["metadata"], labels=dict(
        OLD_GRAFANA_SECRET["metadata"]["labels"], **{"app.kubernetes.io/part-of": "shop"})))
    values = stack.resolve_secrets(components, [other], settings)
    assert values["monitoring.grafana"][GRAFANA_KEY] != "kept-grafana-password-0123"


def test_no_grafana_password_without_monitoring():
    components, settings = system(monitoring=False)
    assert "monitoring.grafana" not in stack.resolve_secrets(components, [OLD_GRAFANA_SECRET], settings)


def test_redacted_grafana_password_for_review():
    components, settings = system()
    values = stack.resolve_secrets(components, [OLD_GRAFANA_SECRET], settings, redact=True)
    assert values["monitoring.grafana"] == {GRAFANA_KEY: "REDACTED"}


# --------------------------------------------------------------------------------------------
# render_secrets


@pytest.mark.parametrize("tier, names", [
    (None, ["mysql-secrets", "chat-service-secrets", "grafana-secrets"]),
    ("all", ["mysql-secrets", "chat-service-secrets", "grafana-secrets"]),
    ("foundation", ["mysql-secrets", "chat-service-secrets"]),
    ("monitoring", ["grafana-secrets"]),
    ("backend", []),
    ("ingress", []),
])
def test_render_secrets_gives_each_tier_its_own(tier, names):
    components, settings = system()
    values = stack.resolve_secrets(components, [], settings)
    rendered = [s["metadata"]["name"] for s in stack.render_secrets(components, settings, values, tier)]
    assert sorted(rendered) == sorted(names)


def test_render_secrets_refuses_an_unknown_tier():
    components, settings = system()
    with pytest.raises(AnsibleFilterError, match="^tier: must be one of"):
        stack.render_secrets(components, settings, {}, "database")


def test_no_grafana_secret_without_monitoring():
    components, settings = system(monitoring=False)
    values = stack.resolve_secrets(components, [], settings)
    assert stack.render_secrets(components, settings, values, "monitoring") == []


def test_grafana_secret_without_resolved_value_names_the_setting():
    components, settings = system()
    values = stack.resolve_secrets(components, [], dict(settings, monitoring_enabled=False))
    with pytest.raises(AnsibleFilterError, match="^genai_monitoring_enabled: no value for GF_SECURITY_ADMIN_PASSWORD"):
        stack.render_secrets(components, settings, values, "monitoring")


def test_grafana_secret_is_the_one_grafana_reads():
    components, settings = system()
    values = stack.resolve_secrets(components, [], settings)
    secret, = stack.render_secrets(components, settings, values, "monitoring")
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["namespace"] == settings["namespace"]
    labels = secret["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "grafana"
    assert labels["app.kubernetes.io/component"] == "monitoring"
    assert labels["app.kubernetes.io/part-of"] == settings["system"]
    assert labels["app.kubernetes.io/managed-by"] == "genai-stack"
    assert _decoded(secret) == values["monitoring.grafana"]
    tier, = stack.render_tiers(components, settings, values, "monitoring")
    grafana, = [m for m in tier["manifests"] if m["kind"] == "Deployment" and m["metadata"]["name"] == "grafana"]
    refs = [e["valueFrom"]["secretKeyRef"] for e in grafana["spec"]["template"]["spec"]["containers"][0]["env"]
            if "valueFrom" in e]
    assert refs == [{"name": secret["metadata"]["name"], "key": GRAFANA_KEY}]
    # the manifests of the tiers never hold the password
    assert values["monitoring.grafana"][GRAFANA_KEY] not in yaml.safe_dump(tier["manifests"])


# --------------------------------------------------------------------------------------------
# monitoring settings


def test_unset_monitoring_settings_are_the_renderer_defaults():
    unset = dict.fromkeys(MONITORING_DEFAULTS)  # what roles/common/vars gives when nothing is set
    components, settings = system(**unset)
    tier, = stack.render_tiers(components, settings, {}, "monitoring")
    images = sorted(m["spec"]["template"]["spec"]["containers"][0]["image"]
                    for m in tier["manifests"] if m["kind"] == "Deployment")
    assert images == sorted([MONITORING_DEFAULTS["grafana_image"], MONITORING_DEFAULTS["prometheus_image"]])


def test_inventory_monitoring_settings_reach_the_manifests():
    components, settings = system(prometheus_image="localhost/test/prometheus:1.0.0", grafana_image=None,
                                  retention="9d", grafana_admin_user="root-of-grafana")
    tier, = stack.render_tiers(components, settings, {}, "monitoring")
    text = yaml.safe_dump(tier["manifests"])
    for expected in ("localhost/test/prometheus:1.0.0", MONITORING_DEFAULTS["grafana_image"],
                     "--storage.tsdb.retention.time=9d", "root-of-grafana"):
        assert expected in text


def test_common_settings_carry_every_monitoring_setting():
    settings = _yaml("roles", "common", "vars", "main.yml")["__common_settings"]
    assert sorted(settings["monitoring"]) == sorted(MONITORING_DEFAULTS)
    for key, expression in settings["monitoring"].items():
        assert expression == "{{{{ monitoring_{} | default(none) }}}}".format(key)
    assert settings["monitoring_enabled"] == "{{ monitoring_enabled | default(genai_monitoring_enabled) }}"


@pytest.mark.parametrize("key", sorted(MONITORING_DEFAULTS))
def test_monitoring_role_documents_the_renderer_default(key):
    defaults = _yaml("roles", "monitoring", "defaults", "main.yml")
    spec = _yaml("roles", "monitoring", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    name = "monitoring_" + key
    assert name in defaults and name in spec
    if key == "image_pull_policy":  # the collection's pull policy, as the renderer's default
        assert defaults[name] == "{{ genai_image_pull_policy }}"
        return
    assert defaults[name] is None, f"{name}: the renderer's MONITORING_DEFAULTS is the one default"
    description = " ".join(spec[name]["description"]) if isinstance(spec[name]["description"], list) \
        else spec[name]["description"]
    default = MONITORING_DEFAULTS[key]
    if isinstance(default, dict):
        for part in ("requests", "limits"):
            for resource, quantity in default[part].items():
                assert f"{resource}: " in description and str(quantity) in description, name
    else:
        assert f"unset, C({default})" in description, name


def test_monitoring_role_passes_no_settings_of_its_own():
    tasks = _yaml("roles", "monitoring", "tasks", "main.yml")
    for task in tasks:
        assert "genai_tier_settings" not in (task.get("vars") or {})
        assert "genai_tier_secrets" not in (task.get("vars") or {})
    assert not os.path.exists(os.path.join(ROOT, "roles", "monitoring", "tasks", "secrets.yml"))


# --------------------------------------------------------------------------------------------
# the apply's value-free result for hide_values


def _secret(name, data=None, string_data=None):
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if data:
        secret["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    if string_data:
        secret["stringData"] = string_data
    return secret


def test_without_values_blanks_every_form_of_a_secret_value():
    definitions = [
        _secret("api-secrets", data={"PASSWORD": "s3cr3t-value-1"}),
        _secret("tls", string_data={"KEY": "plain-value-2"}),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"}, "data": {"LEVEL": "debug"}},
    ]
    encoded = definitions[0]["data"]["PASSWORD"]
    result = {
        "failed": True,
        "msg": "api: Secret api-secrets: HTTP 422: data[PASSWORD]: Invalid value: \"s3cr3t-value-1\" ({})".format(encoded),
        "refusals": [{"component": "api", "kind": "Secret", "name": "tls",
                      "message": "tls: Secret tls: admission denied: plain-value-2 is weak", "field": "data"}],
        "results": [{"kind": "Secret", "name": "api-secrets", "action": "configured"}],
    }
    clean = without_values(result, definitions)
    text = yaml.safe_dump(clean)
    for value in ("s3cr3t-value-1", "plain-value-2", encoded):
        assert value not in text
    assert clean["msg"] == 'api: Secret api-secrets: HTTP 422: data[PASSWORD]: Invalid value: "<hidden>" (<hidden>)'
    assert clean["refusals"][0]["message"] == "tls: Secret tls: admission denied: <hidden> is weak"
    assert clean["refusals"][0]["component"] == "api" and clean["results"] == result["results"]
    # ConfigMap values are not secret: the message keeps them
    assert without_values({"msg": "debug"}, definitions) == {"msg": "debug"}


def test_without_values_keeps_a_result_without_secrets():
    result = {"changed": False, "results": [], "msg": "nothing"}
    assert without_values(result, []) == result
    assert without_values(result, [_secret("empty")]) == result

"""The filters as the roles call them."""

import base64

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.genai.stack.plugins.filter import stack
from systems import load


@pytest.fixture
def genai():
    return load("genai")


def test_filters_are_registered():
    assert sorted(stack.FilterModule().filters()) == [
        "access_info", "foreign_objects", "render_secrets", "render_tier", "render_tiers",
        "resolve_secrets", "validate_system",
    ]


def test_validate_system_summary(genai):
    summary = stack.validate_system(*genai)
    assert summary["tiers"] == {
        "datastores": ["mysql", "qdrant", "redis"],
        "backend": ["ai-service", "chat-service", "gateway"],
        "worker": ["worker"],
        "frontend": ["frontend"],
    }
    assert summary["needs"]["chat-service"] == ["ai-service", "mysql", "qdrant"]
    assert len(summary["warnings"]) == 5


def test_validate_system_error_names_the_variable(genai):
    components, settings = genai
    components["chat-service"]["env"]["MYSQL_DSN"]["ref"] = "mysq"
    with pytest.raises(AnsibleFilterError) as err:
        stack.validate_system(components, settings)
    assert str(err.value) == "genai_components.chat-service.env.MYSQL_DSN.ref: unknown component 'mysq'"


def test_every_filter_raises_filter_errors(genai):
    components, settings = genai
    components["gateway"]["tier"] = "api"
    for call in (
        lambda: stack.render_tier(components, "backend", settings, {}),
        lambda: stack.render_secrets(components, settings, {}),
        lambda: stack.resolve_secrets(components, [], settings),
        lambda: stack.render_tiers(components, settings, {}),
        lambda: stack.foreign_objects([], components, settings),
        lambda: stack.access_info(components, settings),
    ):
        with pytest.raises(AnsibleFilterError, match="^genai_components.gateway.tier: "):
            call()


def test_resolve_secrets_takes_the_registered_result_or_its_resources(genai):
    components, settings = genai
    secret = {"metadata": {"name": "mysql-secrets"}, "data": {
        "MYSQL_PASSWORD": base64.b64encode(b"kept").decode(), "MYSQL_ROOT_PASSWORD": base64.b64encode(b"root").decode()}}
    expected = {"mysql": {"MYSQL_PASSWORD": "kept", "MYSQL_ROOT_PASSWORD": "root"}}
    assert stack.resolve_secrets(components, [secret], settings) == expected
    assert stack.resolve_secrets(components, {"resources": [secret]}, settings) == expected


def test_render_tier_and_secrets_as_the_roles_call_them(genai):
    components, settings = genai
    values = stack.resolve_secrets(components, [], settings)
    backend = stack.render_tier(components, "backend", dict(settings, namespace="genai-test"), values)
    assert all(m["metadata"]["namespace"] == "genai-test" for m in backend)
    secrets = stack.render_secrets(components, settings, values)
    assert [s["metadata"]["name"] for s in secrets] == ["mysql-secrets", "chat-service-secrets"]
    assert stack.render_tier(components, "frontend", settings, None)[0]["kind"] == "Deployment"


def test_render_tier_rejects_an_unknown_tier(genai):
    with pytest.raises(AnsibleFilterError, match="^tier: must be one of foundation, datastores"):
        stack.render_tier(genai[0], "database", genai[1], {})


def test_a_tier_without_components_renders_an_empty_list():
    components, settings = load("rag_system")
    assert stack.render_tier(components, "frontend", settings, {}) == []


def test_access_info_with_ingress(genai):
    assert stack.access_info(*genai) == [
        "https://api.genai.local -> gateway",
        "https://app.genai.local -> frontend",
        "(the hosts api.genai.local, app.genai.local must resolve to the ingress controller)",
    ]


def test_access_info_without_ingress(genai):
    components, settings = genai
    settings["ingress"]["enabled"] = False
    assert stack.access_info(components, settings) == [
        "kubectl -n genai port-forward svc/frontend 5173:5173  # then http://localhost:5173",
        "kubectl -n genai port-forward svc/gateway 8000:8000  # then http://localhost:8000",
    ]


def _labelled(kind, name, system, component, managed=True):
    labels = {"app.kubernetes.io/part-of": system, "app.kubernetes.io/name": component}
    if managed:
        labels["app.kubernetes.io/managed-by"] = "genai-stack"
    return {"kind": kind, "metadata": {"name": name, "labels": labels}}


def test_render_tiers_in_apply_order_with_their_selectors(genai):
    components, settings = genai
    values = stack.resolve_secrets(components, [], settings)
    tiers = stack.render_tiers(components, settings, values)
    assert [t["tier"] for t in tiers] == [
        "foundation", "datastores", "backend", "worker", "frontend", "ingress", "monitoring"]
    backend = tiers[2]
    assert backend["labels"] == {"app.kubernetes.io/part-of": "genai", "app.kubernetes.io/component": "backend"}
    assert backend["selectors"] == ["app.kubernetes.io/part-of=genai", "app.kubernetes.io/component=backend"]
    assert backend["manifests"] == stack.render_tier(components, "backend", settings, values)
    # what a tier's prune selects is exactly what it renders
    for tier in tiers:
        for manifest in tier["manifests"]:
            labels = manifest["metadata"].get("labels", {})
            assert {k: labels.get(k) for k in tier["labels"]} == tier["labels"], (tier["tier"], manifest["metadata"]["name"])
    assert not any(m["kind"] == "Secret" for t in tiers for m in t["manifests"])


def test_render_tiers_keeps_apply_order_for_a_selection(genai):
    components, settings = genai
    assert [t["tier"] for t in stack.render_tiers(components, settings, {}, ["ingress", "foundation"])] == [
        "foundation", "ingress"]
    assert [t["tier"] for t in stack.render_tiers(components, settings, {}, "worker")] == ["worker"]
    with pytest.raises(AnsibleFilterError, match="^tier: must be one of foundation, datastores.*got database$"):
        stack.render_tiers(components, settings, {}, "database")


def test_foreign_objects_names_another_system_under_our_component_names(genai):
    components, settings = genai
    existing = {"resources": [
        _labelled("Secret", "mysql-secrets", "shop", "mysql"),
        _labelled("PersistentVolumeClaim", "data-mysql-0", "shop", "mysql"),
        _labelled("Secret", "mysql-secrets", "genai", "mysql"),          # ours
        _labelled("Secret", "billing-secrets", "billing", "billing"),    # another system, other names
    ]}
    assert stack.foreign_objects(existing, components, settings) == [
        {"kind": "PersistentVolumeClaim", "name": "data-mysql-0", "system": "shop", "component": "mysql"},
        {"kind": "Secret", "name": "mysql-secrets", "system": "shop", "component": "mysql"},
    ]
    assert stack.foreign_objects([existing["resources"][2]], components, settings) == []
    by_kind = {"Secret": [dict(existing["resources"][0], kind=None)], "PersistentVolumeClaim": []}
    assert stack.foreign_objects(by_kind, components, settings) == [
        {"kind": "Secret", "name": "mysql-secrets", "system": "shop", "component": "mysql"}]


def test_foreign_objects_covers_the_grafana_secret_when_monitoring_is_on(genai):
    # a rename would otherwise generate a new Grafana admin password next to the old system's
    components, settings = genai
    grafana = _labelled("Secret", "grafana-secrets", "shop", "grafana")
    assert stack.foreign_objects([grafana], components, dict(settings, monitoring_enabled=False)) == []
    assert stack.foreign_objects([grafana], components, dict(settings, monitoring_enabled=True)) == [
        {"kind": "Secret", "name": "grafana-secrets", "system": "shop", "component": "grafana"}]


def test_resolve_secrets_never_reads_another_systems_secret(genai):
    components, settings = genai
    theirs = _labelled("Secret", "mysql-secrets", "shop", "mysql")
    theirs["data"] = {"MYSQL_PASSWORD": base64.b64encode(b"theirs").decode(),
                      "MYSQL_ROOT_PASSWORD": base64.b64encode(b"theirs").decode()}
    values = stack.resolve_secrets(components, [theirs], settings)
    assert values["mysql"]["MYSQL_PASSWORD"] != "theirs"
    ours = dict(theirs, metadata=dict(theirs["metadata"], labels={"app.kubernetes.io/part-of": "genai"}))
    assert stack.resolve_secrets(components, [ours], settings)["mysql"]["MYSQL_PASSWORD"] == "theirs"


def test_resolve_secrets_redacted_is_deterministic(genai):
    components, settings = genai
    first = stack.resolve_secrets(components, [], settings, redact=True)
    assert first == stack.resolve_secrets(components, [], settings, redact=True)
    assert first["mysql"] == {"MYSQL_PASSWORD": "REDACTED", "MYSQL_ROOT_PASSWORD": "REDACTED"}

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
        "access_info", "component_names", "health_checks", "render_secrets", "render_tier",
        "resolve_secrets", "system_warnings", "validate_system",
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
        lambda: stack.component_names(components, settings),
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


def test_component_names(genai):
    assert stack.component_names(*genai, tier="backend") == ["ai-service", "chat-service", "gateway"]
    assert stack.component_names(*genai)[-1] == "worker"
    with pytest.raises(AnsibleFilterError):
        stack.component_names(*genai, tier="databases")


def test_health_checks(genai):
    checks = {c["name"]: c for c in stack.health_checks(*genai)}
    assert checks["gateway"] == {
        "name": "gateway", "tier": "backend", "kind": "Deployment", "service": "gateway",
        "dns": "gateway.genai.svc.cluster.local", "health_path": "/healthz", "health_port": "http",
        "needs": ["chat-service"],
    }
    assert checks["worker"]["service"] == ""
    assert checks["mysql"]["kind"] == "StatefulSet"


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


def test_system_warnings(genai):
    components, settings = genai
    settings["image_tag"] = "1.0.0"
    assert stack.system_warnings(components, settings) == []

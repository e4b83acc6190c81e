"""The data model: normalisation, validation errors that name the variable, derived URLs and
DSNs, the needs graph and secret resolution."""

import base64
import copy
import re

import pytest
from ansible_collections.genai.stack.plugins.module_utils.system import (
    System,
    SystemDefinitionError,
    deep_merge,
    resolve_secrets,
    topological_order,
)
from systems import NAMES, common_defaults, load


def secret_object(name, data):
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "genai"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


@pytest.fixture
def genai():
    return load("genai")


def test_role_defaults_are_the_genai_fixture():
    defaults = common_defaults()
    components, settings = load("genai")
    assert defaults["genai_components"] == components
    assert defaults["genai_ingress"] == settings["ingress"]


@pytest.mark.parametrize("name", NAMES)
def test_every_fixture_system_is_valid(name):
    components, settings = load(name)
    system = System(components, settings)
    assert sorted(system.order) == sorted(components)


def test_seed_dns_names_and_urls(genai):
    system = System(*genai)
    assert system.dns("mysql") == "mysql.genai.svc.cluster.local"
    assert system.config_data("chat-service") == {
        "AI_SERVICE_URL": "http://ai-service.genai.svc.cluster.local:8004",
        "QDRANT_URL": "http://qdrant.genai.svc.cluster.local:6333",
    }
    assert system.config_data("gateway") == {"CHAT_SERVICE_URL": "http://chat-service.genai.svc.cluster.local:8003"}
    assert system.config_data("worker") == {
        "CELERY_BROKER_URL": "redis://redis.genai.svc.cluster.local:6379/0",
        "CELERY_RESULT_BACKEND": "redis://redis.genai.svc.cluster.local:6379/1",
        "CHAT_SERVICE_URL": "http://chat-service.genai.svc.cluster.local:8003",
    }
    assert system.config_data("mysql") == {"MYSQL_DATABASE": "genai_med", "MYSQL_USER": "genai"}


def test_dsn_holds_the_generated_mysql_password_and_lives_in_the_secret(genai):
    system = System(*genai)
    values = resolve_secrets(system, [])
    password = values["mysql"]["MYSQL_PASSWORD"]
    data = system.secret_data("chat-service", values)
    assert data == {"MYSQL_DSN": f"mysql+pymysql://genai:{password}@mysql.genai.svc.cluster.local:3306/genai_med"}
    assert "MYSQL_DSN" not in system.config_data("chat-service")


def test_namespace_and_cluster_domain_flow_into_every_url(genai):
    components, settings = genai
    settings.update(namespace="staging", cluster_domain="corp.internal")
    system = System(components, settings)
    assert system.config_data("gateway")["CHAT_SERVICE_URL"] == "http://chat-service.staging.svc.corp.internal:8003"


def test_ref_parts_and_ports():
    components, settings = load("rag_system")
    system = System(components, settings)
    data = system.config_data("rag-backend")
    assert data["QDRANT_HOST"] == "qdrant.rag-system.svc.cluster.local"
    assert data["QDRANT_PORT"] == "6333"
    components["rag-backend"]["env"]["QDRANT_GRPC"] = {"ref": "qdrant", "port": "grpc", "part": "hostport"}
    assert System(components, settings).config_data("rag-backend")["QDRANT_GRPC"] == "qdrant.rag-system.svc.cluster.local:6334"


def test_password_with_url_characters_is_percent_encoded(genai):
    system = System(*genai)
    values = {"mysql": {"MYSQL_PASSWORD": "p@ss:w/rd", "MYSQL_ROOT_PASSWORD": "x"}}
    assert system.secret_data("chat-service", values)["MYSQL_DSN"].startswith("mysql+pymysql://genai:p%40ss%3Aw%2Frd@mysql.")


def test_needs_are_derived_from_refs_secrets_and_declared(genai):
    system = System(*genai)
    assert system.needs["chat-service"] == ["ai-service", "mysql", "qdrant"]
    assert system.needs["worker"] == ["chat-service", "redis"]
    assert system.needs["gateway"] == ["chat-service"]
    assert system.needs["mysql"] == []
    assert sorted(system.needed_by["mysql"]) == ["chat-service"]


def test_order_puts_dependencies_first(genai):
    order = System(*genai).order
    for first, then in (("mysql", "chat-service"), ("qdrant", "chat-service"), ("chat-service", "gateway"),
                        ("redis", "worker"), ("chat-service", "worker"), ("ai-service", "chat-service")):
        assert order.index(first) < order.index(then)


def test_tier_components_keep_dependency_order(genai):
    system = System(*genai)
    assert [c["name"] for c in system.tier_components("backend")] == ["ai-service", "chat-service", "gateway"]
    assert [c["name"] for c in system.tier_components("datastores")] == ["mysql", "qdrant", "redis"]


def test_cycle_is_named():
    with pytest.raises(SystemDefinitionError) as err:
        topological_order({"a": ["b"], "b": ["c"], "c": ["a"], "d": []})
    assert str(err.value) == "genai_components: dependency cycle: a -> b -> c -> a"


def test_cycle_through_env_refs(genai):
    components, settings = genai
    components["mysql"]["needs"] = ["gateway"]
    with pytest.raises(SystemDefinitionError, match="dependency cycle: .*chat-service -> mysql -> gateway -> chat-service"):
        System(components, settings)


def _break(components, settings, how):
    how(components, settings)
    return components, settings


ERRORS = [
    ("unknown ref",
     lambda c, s: c["chat-service"]["env"]["MYSQL_DSN"].update(ref="mysq"),
     "genai_components.chat-service.env.MYSQL_DSN.ref: unknown component 'mysq'"),
    ("unknown secret component",
     lambda c, s: c["chat-service"]["env"]["MYSQL_DSN"]["password"].update(secret="mysq"),
     "genai_components.chat-service.env.MYSQL_DSN.password.secret: unknown component 'mysq'"),
    ("unknown secret key",
     lambda c, s: c["chat-service"]["env"]["MYSQL_DSN"]["password"].update(key="MYSQL_PASS"),
     ("genai_components.chat-service.env.MYSQL_DSN.password.key: component 'mysql' has no secret 'MYSQL_PASS' "
      "(its secrets: MYSQL_PASSWORD, MYSQL_ROOT_PASSWORD)")),
    ("unknown port",
     lambda c, s: c["gateway"]["env"]["CHAT_SERVICE_URL"].update(port="grpc"),
     "genai_components.gateway.env.CHAT_SERVICE_URL.port: component 'chat-service' has no port 'grpc' (ports: http=8003)"),
    ("ref to a component without Service",
     lambda c, s: c["gateway"]["env"].update(W={"ref": "worker"}),
     "genai_components.gateway.env.W.ref: component 'worker' has no Service"),
    ("bad tier",
     lambda c, s: c["gateway"].update(tier="backnd"),
     "genai_components.gateway.tier: must be one of datastores, backend, worker, frontend, got 'backnd'"),
    ("missing tier",
     lambda c, s: c.update(gatway={"replicas": 3}),
     "genai_components.gatway.tier: required"),
    ("unknown field",
     lambda c, s: c["gateway"].update(replica=3),
     "genai_components.gateway.replica: unknown field"),
    ("bad name",
     lambda c, s: c.update(Chat_Service=c.pop("chat-service")),
     "genai_components.Chat_Service: a component name is its Service name"),
    ("missing repository",
     lambda c, s: c["redis"]["image"].pop("repository"),
     "genai_components.redis.image.repository: required"),
    ("tag in repository",
     lambda c, s: c["redis"]["image"].update(repository="redis:7"),
     "genai_components.redis.image.repository: not an image repository by the OCI distribution grammar"),
    ("bad port",
     lambda c, s: c["redis"]["ports"][0].update(port=70000),
     "genai_components.redis.ports[0].port: expected an integer >= 1 and <= 65535, got 70000"),
    ("bad replicas",
     lambda c, s: c["frontend"].update(replicas="two"),
     "genai_components.frontend.replicas: expected an integer >= 0, got 'two'"),
    ("hpa without requests",
     lambda c, s: c["gateway"]["resources"].pop("requests"),
     "genai_components.gateway.autoscaling.cpu: a cpu utilization target needs resources.requests.cpu"),
    ("max below min",
     lambda c, s: c["gateway"]["autoscaling"].update(max_replicas=1),
     "genai_components.gateway.autoscaling.max_replicas: must be at least min_replicas (2)"),
    ("needs unknown",
     lambda c, s: c["gateway"].update(needs=["redis", "kafka"]),
     "genai_components.gateway.needs[1]: unknown component 'kafka'"),
    ("wait_for without port",
     lambda c, s: c["gateway"].update(wait_for=["worker"]),
     "genai_components.gateway.wait_for[0]: component 'worker' has no Service port to wait for"),
    ("needs disabled",
     lambda c, s: c["qdrant"].update(enabled=False),
     "genai_components.chat-service.env.QDRANT_URL.ref: component 'qdrant' is disabled (enabled: false)"),
    ("cronjob without schedule",
     lambda c, s: c["worker"].update(workload="CronJob"),
     "genai_components.worker.schedule: required for a CronJob"),
    ("schedule on a Deployment",
     lambda c, s: c["worker"].update(schedule="0 2 * * *"),
     "genai_components.worker.schedule: only for workload CronJob"),
    ("bad health path",
     lambda c, s: c["gateway"].update(health_path="healthz"),
     "genai_components.gateway.health_path: must start with '/'"),
    ("bad env name",
     lambda c, s: c["gateway"]["env"].update({"BAD-NAME": "x"}),
     "genai_components.gateway.env.BAD-NAME: not a valid name"),
    ("bad probe",
     lambda c, s: c["redis"]["probes"]["readiness"].update(exec=["redis-cli", "ping"]),
     "genai_components.redis.probes.readiness: give one handler, not exec and tcp_socket"),
    ("bad anti affinity",
     lambda c, s: c["gateway"].update(anti_affinity="soft"),
     "genai_components.gateway.anti_affinity: must be one of none, preferred, required, got 'soft'"),
    ("replicas of an unknown component",
     lambda c, s: s.update(replicas={"gatway": 3}),
     "genai_replicas.gatway: unknown component 'gatway'"),
    ("image override of an unknown component",
     lambda c, s: s.update(image_overrides={"mysqll": {"tag": "8.4"}}),
     "genai_image_overrides.mysqll: unknown component 'mysqll'"),
    ("ingress to an unknown component",
     lambda c, s: s["ingress"]["hosts"][0].update(component="gw"),
     "genai_ingress.hosts[0].component: unknown component 'gw'"),
    ("cert-manager without issuer",
     lambda c, s: s["ingress"]["tls"].update(issuer=""),
     "genai_ingress.tls.issuer: required when tls.mode is cert_manager"),
    ("bad tls mode",
     lambda c, s: s["ingress"]["tls"].update(mode="letsencrypt"),
     "genai_ingress.tls.mode: must be one of cert_manager, self_signed, secret, none, got 'letsencrypt'"),
    ("bad pull policy",
     lambda c, s: s.update(image_pull_policy="always"),
     "genai_image_pull_policy: must be one of Always, IfNotPresent, Never, got 'always'"),
    ("bad namespace",
     lambda c, s: s.update(namespace="GenAI"),
     "genai_namespace: must be a DNS label"),
]


@pytest.mark.parametrize("how,message", [(e[1], e[2]) for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_the_variable(genai, how, message):
    components, settings = _break(*genai, how=how)
    with pytest.raises(SystemDefinitionError) as err:
        System(components, settings)
    assert any(error.startswith(message) for error in err.value.errors), str(err.value)
    assert message.split(":")[0] in str(err.value)


def test_defaults_of_a_minimal_record():
    system = System({"api": {"tier": "backend", "image": {"repository": "api"}, "ports": [8080]}}, {})
    comp = system.components["api"]
    assert comp["workload"] == "Deployment"
    assert comp["image"]["tag"] == "latest"
    assert comp["ports"] == [{"name": "port-8080", "port": 8080, "service_port": 8080, "protocol": "TCP"}]
    assert comp["service"] is True
    assert comp["replicas"] == 1
    assert system.settings["namespace"] == "genai"


def test_genai_replicas_sets_replicas_or_hpa_minimum(genai):
    components, settings = genai
    settings["replicas"] = {"frontend": 3, "gateway": 7, "ai-service": 2}
    system = System(components, settings)
    assert system.components["frontend"]["replicas"] == 3
    assert system.components["gateway"]["autoscaling"]["min_replicas"] == 7
    assert system.components["gateway"]["autoscaling"]["max_replicas"] == 7
    assert system.components["ai-service"]["autoscaling"]["min_replicas"] == 2
    assert system.components["ai-service"]["autoscaling"]["max_replicas"] == 4


def test_genai_image_tag_pins_application_images_only(genai):
    components, settings = genai
    settings["image_tag"] = "2024.11.1"
    settings["image_overrides"] = {"gateway": {"digest": "sha256:" + "a" * 64}}
    system = System(components, settings)
    assert system.components["chat-service"]["image"]["tag"] == "2024.11.1"
    assert system.components["worker"]["image"]["tag"] == "2024.11.1"
    assert system.components["frontend"]["image"]["tag"] == "2024.11.1"
    assert system.components["mysql"]["image"]["tag"] == "8.0"
    assert system.components["gateway"]["image"]["digest"] == "sha256:" + "a" * 64


def test_image_overrides_merge_over_the_image(genai):
    components, settings = genai
    settings["image_overrides"] = {"mysql": {"repository": "localhost/genai-stack-test/mysql", "tag": "1.0.0"}}
    image = System(components, settings).components["mysql"]["image"]
    assert (image["repository"], image["tag"]) == ("localhost/genai-stack-test/mysql", "1.0.0")


def test_latest_tags_are_warned_about(genai):
    warnings = System(*genai).warnings
    assert len(warnings) == 5
    assert all("'latest'" in w for w in warnings)
    assert any(w.startswith("genai_components.gateway.image:") for w in warnings)


def test_disabled_component_is_left_out(genai):
    components, settings = genai
    components["frontend"]["enabled"] = False
    settings["ingress"]["hosts"] = settings["ingress"]["hosts"][:1]
    system = System(components, settings)
    assert "frontend" not in system.order


# --- secrets --------------------------------------------------------------------------------


def test_generates_missing_secrets(genai):
    system = System(*genai)
    values = resolve_secrets(system, [])
    assert sorted(values) == ["mysql"]
    for key in ("MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"):
        assert re.match(r"^[A-Za-z0-9]{24}$", values["mysql"][key])
    assert values["mysql"]["MYSQL_PASSWORD"] != values["mysql"]["MYSQL_ROOT_PASSWORD"]


def test_existing_secrets_are_never_rotated(genai):
    system = System(*genai)
    existing = [secret_object("mysql-secrets", {"MYSQL_PASSWORD": "kept-password", "MYSQL_ROOT_PASSWORD": "kept-root"})]
    first = resolve_secrets(system, existing)
    second = resolve_secrets(system, existing)
    assert first == second == {"mysql": {"MYSQL_PASSWORD": "kept-password", "MYSQL_ROOT_PASSWORD": "kept-root"}}


def test_only_the_missing_key_is_generated(genai):
    system = System(*genai)
    values = resolve_secrets(system, [secret_object("mysql-secrets", {"MYSQL_PASSWORD": "kept-password"})])
    assert values["mysql"]["MYSQL_PASSWORD"] == "kept-password"
    assert len(values["mysql"]["MYSQL_ROOT_PASSWORD"]) == 24


def test_user_value_wins_over_the_cluster(genai):
    components, settings = genai
    components["mysql"]["secrets"]["MYSQL_PASSWORD"] = {"value": "from-vault"}
    system = System(components, settings)
    values = resolve_secrets(system, [secret_object("mysql-secrets", {"MYSQL_PASSWORD": "old"})])
    assert values["mysql"]["MYSQL_PASSWORD"] == "from-vault"


def test_secret_of_another_system_is_ignored(genai):
    system = System(*genai)
    values = resolve_secrets(system, [secret_object("redis-secrets", {"MYSQL_PASSWORD": "nope"})])
    assert values["mysql"]["MYSQL_PASSWORD"] != "nope"


def test_required_secret_without_value_names_the_variable():
    components, settings = load("rag_system")
    components["rag-backend"]["secrets"]["FPT_API_KEY"] = {}
    system = System(components, settings)
    with pytest.raises(SystemDefinitionError) as err:
        resolve_secrets(system, [])
    assert str(err.value).startswith("genai_components.rag-backend.secrets.FPT_API_KEY: no value given and none in Secret rag-system/rag-backend-secrets")
    values = resolve_secrets(system, [secret_object("rag-backend-secrets", {"FPT_API_KEY": "created-by-hand"})])
    assert values["rag-backend"]["FPT_API_KEY"] == "created-by-hand"


def test_secret_data_before_resolution_names_the_variable(genai):
    system = System(*genai)
    with pytest.raises(SystemDefinitionError, match=r"^genai_components.mysql.secrets.MYSQL_PASSWORD: no value"):
        system.secret_data("mysql", {})


def test_deep_merge_is_combine_recursive():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    merged = deep_merge(base, {"a": {"c": [3]}, "e": 2})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 1, "e": 2}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_normalisation_does_not_touch_the_input(genai):
    components, settings = genai
    before = copy.deepcopy(components)
    System(components, settings)
    assert components == before

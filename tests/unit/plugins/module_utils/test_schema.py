"""The schema refuses what Kubernetes or the kubelet would, naming the inventory variable,
and reports every problem at once (issue 9 item 2: cases B, C, D, E, H and the names,
probes and cron rules)."""

import pytest
from ansible_collections.genai.stack.plugins.module_utils import schema
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.module_utils.system import System, SystemDefinitionError
from systems import NAMES, load


def errors_of(components, settings):
    with pytest.raises(SystemDefinitionError) as err:
        System(components, settings)
    return err.value.errors


@pytest.mark.parametrize("name", NAMES)
def test_fixture_systems_pass_the_schema(name):
    assert schema.validate(*load(name)) == []


def test_every_problem_is_reported_at_once_under_one_root():
    components, settings = load("genai")
    components["redis"]["resources"] = {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    components["redis"]["image"]["repository"] = "localhost/genai-stack-test/my redis"
    settings["ingress"]["hosts"][0]["host"] = "http://api.genai.local"
    with pytest.raises(GenaiStackError) as err:
        System(components, settings)
    assert err.value.errors == [
        "genai_components.redis.image.repository: not an image repository by the OCI distribution grammar (lowercase "
        "path components separated by '/', no spaces, no tag), got 'localhost/genai-stack-test/my redis'",
        "genai_components.redis.resources: requests.cpu 500m exceeds limits.cpu 200m",
        "genai_components.redis.resources: requests.memory 256Mi exceeds limits.memory 128Mi",
        "genai_ingress.hosts[0].host: must be a DNS name such as api.example.com (RFC 1123, lowercase, a leading '*.' "
        "allowed), without scheme, port or path, got 'http://api.genai.local'",
    ]
    assert str(err.value).startswith("4 problems in the system definition:\n- genai_components.redis.image.repository")


@pytest.mark.parametrize("request_, limit, refused", [
    ("500m", "200m", True), ("0.5", "500m", False), ("1", "999m", True), (1, "1000m", False),
    ("129Mi", "128Mi", True), ("128Mi", "134217728", False), ("1G", "1Gi", False), ("1e3", "1k", False),
    ("2Gi", "2G", True),
])
def test_requests_against_limits(request_, limit, refused):
    components, settings = load("genai")
    components["redis"]["resources"] = {"requests": {"cpu": request_}, "limits": {"cpu": limit}}
    problems = schema.validate(components, settings)
    assert bool(problems) == refused, problems


@pytest.mark.parametrize("host, ok", [
    ("api.genai.local", True), ("*.genai.local", True), ("http://api.genai.local", False),
    ("api.genai.local:443", False), ("api.genai.local/api", False), ("API.genai.local", False),
    ("*", False), ("a..b", False), ("-a.b", False),
])
def test_ingress_hosts_are_rfc1123_names(host, ok):
    components, settings = load("genai")
    settings["ingress"]["hosts"][0]["host"] = host
    problems = schema.validate(components, settings)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("genai_ingress.hosts[0].host: must be a DNS name")


def test_one_backend_per_host_path_and_path_type():
    components, settings = load("genai")
    settings["ingress"].update(mode="single_domain", paths=[
        {"path": "/api", "component": "gateway"}, {"path": "/api", "component": "frontend"}])
    assert errors_of(components, settings) == [
        "genai_ingress.paths[1]: genai.local /api (Prefix) already routes to gateway (genai_ingress.paths[0]); "
        "one backend per host, path and path_type"]
    settings["ingress"]["paths"][1]["path_type"] = "Exact"
    System(components, settings)


@pytest.mark.parametrize("image, ok", [
    ({"repository": "localhost/genai-stack-test/redis", "tag": "1.0.0"}, True),
    ({"repository": "registry.example.com:5000/team/app", "tag": "v1.2_3"}, True),
    ({"repository": "redis", "digest": "sha256:" + "a" * 64}, True),
    ({"repository": "localhost/genai-stack-test/my redis", "tag": "1.0.0"}, False),
    ({"repository": "Redis", "tag": "7"}, False),
    ({"repository": "redis:7"}, False),
    ({"repository": "redis", "tag": "7 .2"}, False),
    ({"repository": "redis", "tag": ".hidden"}, False),
    ({"repository": "redis", "digest": "sha256:xyz"}, False),
    ({"repository": "a//b"}, False),
])
def test_image_references_follow_the_oci_grammar(image, ok):
    components, settings = load("genai")
    components["redis"]["image"] = image
    problems = schema.validate(components, settings)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("genai_components.redis.image.")


def test_env_values_yaml_typed_behind_the_users_back_are_refused():
    components, settings = load("genai")
    components["gateway"]["env"].update(FEATURE_SEARCH=True, TLS_VERIFY=False, CUSTOMER_PREFIX=83, MODEL_VERSION=1.1,
                                        FALLBACK_MODEL=None)
    problems = errors_of(components, settings)
    assert len(problems) == 5
    assert "genai_components.gateway.env.FEATURE_SEARCH: YAML read an unquoted yes/no/on/off/true/false as the " \
           "boolean true; quote the word you wrote, e.g. FEATURE_SEARCH: 'yes' (or 'on', 'true')" in problems
    assert any(p.startswith("genai_components.gateway.env.CUSTOMER_PREFIX: YAML read an unquoted number as the integer 83")
               for p in problems)
    assert any(p.startswith("genai_components.gateway.env.MODEL_VERSION: YAML read an unquoted number as the float 1.1")
               for p in problems)
    assert "genai_components.gateway.env.FALLBACK_MODEL: YAML read an empty value or ~ as null; quote what you mean, " \
           "e.g. FALLBACK_MODEL: ''" in problems


def test_quoted_values_and_empty_args_pass_byte_for_byte():
    components, settings = load("genai")
    quoted = {"FEATURE_SEARCH": "yes", "TLS_VERIFY": "off", "CUSTOMER_PREFIX": "0123", "MODEL_VERSION": "1.10",
              "FALLBACK_MODEL": ""}
    components["gateway"]["env"].update(quoted)
    components["redis"]["args"] = ["--save", ""]
    system = System(components, settings)
    data = system.config_data("gateway")
    assert {k: data[k] for k in quoted} == quoted
    assert system.components["redis"]["args"] == ["--save", ""]


@pytest.mark.parametrize("workload, length, ok", [
    ("StatefulSet", 52, True), ("StatefulSet", 53, False), ("CronJob", 52, True), ("CronJob", 53, False),
    ("Deployment", 63, True), ("Deployment", 64, False),
])
def test_name_lengths_per_kind(workload, length, ok):
    name = "a" * length
    record = {"tier": "worker", "workload": workload, "image": {"repository": "app", "tag": "1"}}
    if workload == "CronJob":
        record["schedule"] = "0 2 * * *"
    problems = schema.validate({name: record}, {})
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith(f"genai_components.{name}:")


def test_probe_ports_must_name_a_declared_port_and_paths_start_with_a_slash():
    components, settings = load("genai")
    components["gateway"]["probes"] = {
        "readiness": {"http_get": {"path": "ready", "port": "web"}},
        "liveness": {"period_seconds": 10},
    }
    components["gateway"].pop("health_path")
    assert errors_of(components, settings) == [
        "genai_components.gateway.probes.readiness.http_get.path: must start with '/', got 'ready'",
        "genai_components.gateway.probes.readiness.http_get.port: 'web' names no port of the component (its ports: http)",
        "genai_components.gateway.probes.liveness: no handler (http_get, exec, tcp_socket or grpc) and no health_path "
        "to derive one from",
    ]


@pytest.mark.parametrize("schedule, problem", [
    ("0 2 * * *", None), ("*/15 * * * MON-FRI", None), ("@hourly", None), ("0 0 1,15 JAN-JUN ?", None),
    ("0 2 * *", "expected 5 fields"), ("61 * * * *", "minute field '61': 61 is outside 0-59"),
    ("* * * * 7", "day of week field '7': 7 is outside 0-6"), ("*/0 * * * *", "step '0' must be a positive number"),
    ("@every 5m", "unknown macro"), ("CRON_TZ=UTC 0 2 * * *", "set time_zone instead"), ("5-1 * * * *", "runs backwards"),
])
def test_cron_schedules(schedule, problem):
    found = schema.cron_problem(schedule)
    assert (found is None) if problem is None else (problem in found), found


def test_cronjob_time_zone_is_in_the_iana_database():
    record = {"tier": "worker", "workload": "CronJob", "image": {"repository": "app", "tag": "1"}, "schedule": "0 2 * * *"}
    assert schema.validate({"gc": dict(record, time_zone="Europe/Berlin")}, {}) == []
    assert schema.validate({"gc": dict(record, time_zone="Europe/Springfield")}, {}) == [
        "genai_components.gc.time_zone: 'Europe/Springfield' is not in the IANA time zone database (e.g. Europe/Berlin, UTC)"]


def test_every_field_of_the_record_is_described():
    def walk(node, path):
        if isinstance(node, dict):
            for key, value in (node.get("properties") or {}).items():
                assert isinstance(value, dict) and value.get("description"), f"{path}.{key}"
                walk(value, f"{path}.{key}")
            for branch in node.get("anyOf") or []:
                walk(branch, path)
            for key in ("items", "additionalProperties"):
                walk(node.get(key), f"{path}.{key}")
    walk(schema.COMPONENT, "component")
    walk(schema.INGRESS, "genai_ingress")


def test_empty_names_take_their_defaults():
    components, settings = load("genai")
    settings["ingress"].update(name="")
    settings["ingress"]["tls"]["secret_name"] = ""
    system = System(components, settings)
    assert system.settings["ingress"]["name"] == "genai"
    assert system.settings["ingress"]["tls"]["secret_name"] == "genai-tls"
    settings["ingress"].update(name="Bad_Name")
    assert errors_of(components, settings) == ["genai_ingress.name: must be a DNS name, got 'Bad_Name'"]


@pytest.mark.parametrize("key, value", [
    ("image_registry", "bad registry/x"), ("image_tag", "v1 beta"),
])
def test_optional_settings_are_anchored_patterns(key, value):
    components, settings = load("genai")
    settings[key] = value
    assert schema.validate(components, settings)[0].startswith(f"genai_{key}: ")
    settings[key] = ""
    assert schema.validate(components, settings) == []


def test_single_domain_needs_a_dns_name():
    components, settings = load("genai")
    settings["ingress"].update(mode="single_domain", domain="https://genai.local")
    assert schema.validate(components, settings)[0].startswith("genai_ingress.domain: must be a DNS name")

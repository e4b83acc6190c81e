"""Variants of issue 9's schema cases (B, C, D, E, H and the names): the same kinds of input,
other values. Each row is refused (naming the variable) or accepted exactly as Kubernetes, the
kubelet or the container runtime would take it."""

import datetime

import pytest
from ansible_collections.genai.stack.plugins.module_utils import schema
from systems import load


def problems_with(mutate):
    components, settings = load("genai")
    mutate(components, settings)
    return schema.validate(components, settings)


def redis_resources(resources):
    return lambda c, s: c["redis"].__setitem__("resources", resources)


# B: quantities are compared by value; names and suffixes as the API server takes them
@pytest.mark.parametrize("resources, refused", [
    ({"requests": {"cpu": 0.5}, "limits": {"cpu": "500m"}}, None),
    ({"requests": {"memory": "1Gi"}, "limits": {"memory": "1024Mi"}}, None),
    ({"requests": {"memory": "1025Mi"}, "limits": {"memory": "1Gi"}}, "requests.memory 1025Mi exceeds limits.memory 1Gi"),
    ({"requests": {"memory": "1Gi"}, "limits": {"cpu": "1"}}, None),  # a request with no limit of its own is legal
    ({"requests": {"memory": "1ki"}}, "resources.requests.memory: expected a Kubernetes quantity"),
    ({"limits": {"memory": "512mi"}}, "resources.limits.memory: expected a Kubernetes quantity"),
    ({"requests": {"gpu": "1"}}, "resources.requests.gpu: not a resource Kubernetes knows"),
    ({"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "2"}},
     "requests.nvidia.com/gpu 1 must equal limits.nvidia.com/gpu 2"),
    ({"requests": {"nvidia.com/gpu": "1"}}, "resources.limits: nvidia.com/gpu is requested without a limit"),
    ({"limits": {"nvidia.com/gpu": "1"}}, None),
    ({"requests": {"hugepages-2Mi": "4Mi", "memory": "64Mi"}, "limits": {"hugepages-2Mi": "4Mi"}}, None),
])
def test_resource_variants(resources, refused):
    problems = problems_with(redis_resources(resources))
    if refused is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith("genai_components.redis.") and refused in problems[0], problems


# H: YAML's dates are values changed behind the user's back as well
@pytest.mark.parametrize("value, said", [
    (datetime.date(2024, 1, 1), "YAML read an unquoted date or timestamp as the date 2024-01-01"),
    (datetime.datetime(2024, 1, 1, 10, 0, tzinfo=datetime.timezone.utc), "as the timestamp 2024-01-01T10:00:00+00:00"),
    (float("inf"), "as the float inf"),
    (31, "as the integer 31"),
])
def test_env_values_yaml_typed_as_dates_and_numbers(value, said):
    problems = problems_with(lambda c, s: c["gateway"]["env"].__setitem__("RELEASE", value))
    assert len(problems) == 1 and problems[0].startswith("genai_components.gateway.env.RELEASE: ") and said in problems[0]


@pytest.mark.parametrize("text", ["1e3", "1.0e3", "0o17", "Y", "2024-01-01", "0x1F", "1_000", ".inf"])
def test_strings_yaml_leaves_alone_pass(text):
    assert problems_with(lambda c, s: c["gateway"]["env"].__setitem__("RELEASE", text)) == []


# C: Ingress hosts as Kubernetes takes them
@pytest.mark.parametrize("host, ok", [
    ("10.0.0.1", False), ("a" * 64 + ".local", False), ("a" * 63 + ".local", True), ("api.genai.local.", False),
    ("a.*.genai.local", False), ("localhost", True), ("xn--bcher-kva.example", True), ("123.example", True),
])
def test_ingress_host_variants(host, ok):
    def mutate(c, s):
        s["ingress"]["hosts"][0]["host"] = host
    problems = problems_with(mutate)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("genai_ingress.hosts[0].host: must be a DNS name")


# D: one backend per host, path and pathType, with Prefix's trailing '/' ignored
@pytest.mark.parametrize("first, second, problem", [
    (("/api", "Prefix"), ("/api", "Exact"), None),
    (("/api", "Prefix"), ("/api/", "Prefix"), "genai_ingress.paths[1]: genai.local /api/ (Prefix) is the same route as /api"),
    (("/api", "Exact"), ("/api/", "Exact"), None),
    (("/api", "Prefix"), ("//x", "Prefix"), "genai_ingress.paths[1].path: '//x' holds //"),
    (("/api", "Prefix"), ("/a/../b", "Exact"), "genai_ingress.paths[1].path: '/a/../b' holds /../"),
    (("/api", "Prefix"), ("/a/%2Fb", "ImplementationSpecific"), None),
])
def test_single_domain_route_variants(first, second, problem):
    def mutate(c, s):
        s["ingress"].update(mode="single_domain", domain="genai.local", paths=[
            {"path": first[0], "path_type": first[1], "component": "gateway"},
            {"path": second[0], "path_type": second[1], "component": "frontend"}])
    problems = problems_with(mutate)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


# E: image references the container runtime refuses
@pytest.mark.parametrize("image, ok", [
    ({"digest": "sha256:" + "a" * 64}, True), ({"digest": "sha256:" + "a" * 63}, False),
    ({"digest": "sha256:" + "a" * 65}, False), ({"digest": "sha256:" + "A" * 64}, False),
    ({"digest": "sha512:" + "a" * 128}, True), ({"digest": "sha512:" + "a" * 64}, False),
    ({"digest": "md5:" + "a" * 32}, False), ({"tag": "a" * 128}, True), ({"tag": "a" * 129}, False),
    ({"repository": "@sha256:" + "a" * 64}, False), ({"repository": "localhost/X/redis"}, False),
    ({"repository": "Registry.Example.com/x/redis"}, True),
])
def test_image_reference_variants(image, ok):
    def mutate(c, s):
        c["redis"]["image"] = dict({"repository": "localhost/genai-stack-test/redis", "tag": "1.0.0"}, **image)
    problems = problems_with(mutate)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("genai_components.redis.image.")


def test_two_ports_with_one_number_and_protocol_are_refused():
    def mutate(c, s):
        c["gateway"]["ports"] = [8000, {"name": "metrics", "port": 8000}, {"name": "dns", "port": 8000, "protocol": "UDP"}]
    assert problems_with(mutate) == [
        "genai_components.gateway.ports[1]: port 8000/TCP is already ports[0]: a Service holds each port and "
        "protocol once"]


def test_service_account_name_longer_than_a_dns_name_is_refused():
    problems = problems_with(lambda c, s: c["gateway"].__setitem__("service_account", {"name": "a" * 254}))
    assert len(problems) == 1 and problems[0].startswith("genai_components.gateway.service_account.name: must be a DNS")


# H for names: a variable called NO, ON or OFF, unquoted, is a boolean to YAML (and True or
# False once Ansible turned the keys into strings)
@pytest.mark.parametrize("section, key, said", [
    ("env", True, "env[True]: YAML read an unquoted name"), ("env", "False", "env.False: YAML read an unquoted name"),
    ("env", "None", "env.None: YAML read an unquoted name"), ("secrets", "True", "secrets.True: YAML read an unquoted"),
    ("env", 1, "env[1]: YAML read an unquoted name"),
])
def test_variable_names_yaml_typed_are_refused(section, key, said):
    def mutate(c, s):
        c["gateway"].setdefault(section, {})[key] = "x" if section == "env" else {"generate": 16}
    problems = problems_with(mutate)
    assert any(p.startswith("genai_components.gateway." + said) for p in problems), problems


# B in the monitoring tier: its resources are the monitoring role's variables
@pytest.mark.parametrize("key, resources, problem", [
    ("prometheus_resources", {"requests": {"cpu": "500m"}, "limits": {"cpu": "200m"}},
     "monitoring_prometheus_resources: requests.cpu 500m exceeds limits.cpu 200m"),
    ("grafana_resources", {"requests": {"memory": "1ki"}},
     "monitoring_grafana_resources.requests.memory: expected a Kubernetes quantity"),
    ("grafana_resources", {"requests": {"memory": "1Gi"}, "limits": {"memory": "1024Mi"}}, None),
])
def test_monitoring_resources_are_checked_naming_the_role_variable(key, resources, problem):
    problems = problems_with(lambda c, s: s.setdefault("monitoring", {}).__setitem__(key, resources))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


# E in the monitoring tier: its images are whole references in the monitoring role's variables
@pytest.mark.parametrize("image, ok", [
    ("docker.io/prom/prometheus:v2.54.1", True), ("localhost:5000/prom/prometheus:v2@sha256:" + "a" * 64, True),
    ("localhost/genai-stack-test/my prometheus:1.0.0", False), ("docker.io/Prom/prometheus:v2", False),
    ("prom/prometheus@sha256:abc", False),
])
def test_monitoring_images_follow_the_oci_grammar(image, ok):
    problems = problems_with(lambda c, s: s.setdefault("monitoring", {}).__setitem__("prometheus_image", image))
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("monitoring_prometheus_image: not an image reference")

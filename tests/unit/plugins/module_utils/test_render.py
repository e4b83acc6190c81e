"""The manifests: what a user of the rendered system would notice if it broke."""

import base64
import json

import yaml

import pytest
from ansible_collections.genai.stack.plugins.module_utils import render
from ansible_collections.genai.stack.plugins.module_utils.system import (
    System,
    resolve_secrets,
)
from systems import NAMES, load

TIERS = ("foundation", "datastores", "backend", "worker", "frontend", "ingress")
FIXED_SECRETS = {
    "mysql": {"MYSQL_PASSWORD": "user-pass-0123456789abcd", "MYSQL_ROOT_PASSWORD": "root-pass-0123456789abcd"},
}


def build(name, secret_values=None, **settings_update):
    components, settings = load(name)
    settings.update(settings_update)
    system = System(components, settings)
    values = secret_values if secret_values is not None else resolve_secrets(system, [])
    return system, values


def everything(system, values):
    manifests = []
    for tier in TIERS:
        manifests.extend(render.render_tier(system, tier, values))
    return manifests + render.render_secrets(system, values)


def find(manifests, kind, name):
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


@pytest.fixture
def genai():
    system, values = build("genai", FIXED_SECRETS)
    return system, values, everything(system, values)


def env_of(manifest):
    return {e["name"]: e.get("value") for e in manifest["spec"]["template"]["spec"]["containers"][0].get("env", [])}


# --- labels -------------------------------------------------------------------------------


def test_labels_exactly_as_the_spec():
    assert render.labels("gateway", "backend", "genai", "1.2.3") == {
        "app.kubernetes.io/name": "gateway",
        "app.kubernetes.io/instance": "genai",
        "app.kubernetes.io/component": "backend",
        "app.kubernetes.io/part-of": "genai",
        "app.kubernetes.io/managed-by": "genai-stack",
        "app.kubernetes.io/version": "1.2.3",
    }
    assert "app.kubernetes.io/version" not in render.labels("gateway", "backend", "genai")


@pytest.mark.parametrize("name", NAMES)
def test_selectors_never_contain_the_version(name):
    system, values = build(name)
    for m in everything(system, values):
        spec = m.get("spec", {})
        selectors = []
        if m["kind"] in ("Deployment", "StatefulSet", "PodDisruptionBudget"):
            selectors.append(spec["selector"]["matchLabels"])
        if m["kind"] == "Service":
            selectors.append(spec["selector"])
        if m["kind"] == "NetworkPolicy":
            selectors.append(spec["podSelector"].get("matchLabels", {}))
            for rule in spec.get("ingress", []):
                selectors.extend(p.get("podSelector", {}).get("matchLabels", {}) for p in rule["from"])
        if m["kind"] in ("StatefulSet",):
            selectors.extend(t["metadata"]["labels"] for t in spec.get("volumeClaimTemplates", []))
        for selector in selectors:
            assert "app.kubernetes.io/version" not in selector, "{}/{}".format(m["kind"], m["metadata"]["name"])


@pytest.mark.parametrize("name", NAMES)
def test_every_object_is_labelled_and_namespaced(name):
    system, values = build(name)
    settings = system.settings
    for m in everything(system, values):
        meta_labels = m["metadata"]["labels"]
        assert meta_labels["app.kubernetes.io/part-of"] == settings["system"]
        assert meta_labels["app.kubernetes.io/managed-by"] == "genai-stack"
        assert meta_labels["app.kubernetes.io/component"] in TIERS + ("monitoring",)  # grafana-secrets
        if m["kind"] != "Namespace":
            assert m["metadata"]["namespace"] == settings["namespace"]


@pytest.mark.parametrize("name", NAMES)
def test_pod_selectors_match_pod_labels(name):
    system, values = build(name)
    for m in everything(system, values):
        if m["kind"] in ("Deployment", "StatefulSet"):
            pod_labels = m["spec"]["template"]["metadata"]["labels"]
            for key, value in m["spec"]["selector"]["matchLabels"].items():
                assert pod_labels[key] == value


@pytest.mark.parametrize("name", NAMES)
def test_rendering_is_deterministic(name):
    system, values = build(name)
    first = json.dumps(everything(system, values))
    again = System(*load(name))
    assert json.dumps(everything(again, values)) == first


@pytest.mark.parametrize("name", NAMES)
def test_no_empty_fields_are_emitted(name):
    system, values = build(name)

    def walk(value, where):
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("emptyDir", "selfSigned", "podSelector"):
                    assert item not in ({}, [], None, ""), f"{where}.{key} is empty"
                walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    for m in everything(system, values):
        walk(m, "{}/{}".format(m["kind"], m["metadata"]["name"]))


# --- secrets and config ---------------------------------------------------------------------


def test_dsn_is_in_the_secret_not_the_configmap(genai):
    _system, _values, manifests = genai
    secret = find(manifests, "Secret", "chat-service-secrets")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["MYSQL_DSN"]).decode() == (
        "mysql+pymysql://genai:user-pass-0123456789abcd@mysql.genai.svc.cluster.local:3306/genai_med")
    config = find(manifests, "ConfigMap", "chat-service-config")
    assert sorted(config["data"]) == ["AI_SERVICE_URL", "QDRANT_URL"]
    for m in manifests:
        if m["kind"] == "ConfigMap":
            assert "pass" not in json.dumps(m["data"])


def test_mysql_secret_holds_both_passwords(genai):
    _system, _values, manifests = genai
    secret = find(manifests, "Secret", "mysql-secrets")
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == FIXED_SECRETS["mysql"]
    sts = find(manifests, "StatefulSet", "mysql")
    assert sts["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [
        {"configMapRef": {"name": "mysql-config"}},
        {"secretRef": {"name": "mysql-secrets"}},
    ]


def test_secrets_are_not_in_the_tiers(genai):
    system, values, _manifests = genai
    for tier in TIERS:
        assert all(m["kind"] != "Secret" for m in render.render_tier(system, tier, values))


def test_a_rerun_renders_the_same_secrets(genai):
    system, _values, manifests = genai
    existing = [m for m in manifests if m["kind"] == "Secret"]
    again = resolve_secrets(system, existing)
    assert render.render_secrets(system, again) == existing


def test_checksum_rolls_pods_on_config_and_secret_changes():
    system, values = build("genai", FIXED_SECRETS)
    checksum = find(render.render_tier(system, "backend", values), "Deployment", "chat-service")[
        "spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert len(checksum) == 64
    rotated = {"mysql": dict(FIXED_SECRETS["mysql"], MYSQL_PASSWORD="another-password")}
    changed = find(render.render_tier(system, "backend", rotated), "Deployment", "chat-service")
    assert changed["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum
    moved = build("genai", FIXED_SECRETS, namespace="other")[0]
    other = find(render.render_tier(moved, "backend", FIXED_SECRETS), "Deployment", "chat-service")
    assert other["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum
    same = find(render.render_tier(system, "backend", FIXED_SECRETS), "Deployment", "chat-service")
    assert same["spec"]["template"]["metadata"]["annotations"]["checksum/config"] == checksum


# --- workloads ------------------------------------------------------------------------------


@pytest.mark.parametrize("name,minimum,maximum,cpu", [
    ("gateway", 2, 5, 60), ("chat-service", 2, 5, 60), ("ai-service", 1, 4, 70),
])
def test_seed_hpas(genai, name, minimum, maximum, cpu):
    _system, _values, manifests = genai
    hpa = find(manifests, "HorizontalPodAutoscaler", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (minimum, maximum)
    assert hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]
    assert "replicas" not in find(manifests, "Deployment", name)["spec"]


def test_replicas_without_hpa(genai):
    _system, _values, manifests = genai
    assert find(manifests, "Deployment", "frontend")["spec"]["replicas"] == 2
    assert find(manifests, "Deployment", "worker")["spec"]["replicas"] == 1
    assert find(manifests, "StatefulSet", "mysql")["spec"]["replicas"] == 1
    assert [m for m in manifests if m["kind"] == "HorizontalPodAutoscaler" and m["metadata"]["name"] == "worker"] == []


def test_seed_resources(genai):
    _system, _values, manifests = genai
    container = find(manifests, "Deployment", "chat-service")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


def test_pdb_only_for_more_than_one_pod(genai):
    _system, _values, manifests = genai
    pdbs = sorted(m["metadata"]["name"] for m in manifests if m["kind"] == "PodDisruptionBudget")
    assert pdbs == ["chat-service", "frontend", "gateway"]
    pdb = find(manifests, "PodDisruptionBudget", "gateway")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/name": "gateway", "app.kubernetes.io/instance": "genai"}}}


def test_storage_of_the_seed(genai):
    _system, _values, manifests = genai
    for name, mount in (("mysql", "/var/lib/mysql"), ("qdrant", "/qdrant/storage")):
        sts = find(manifests, "StatefulSet", name)
        (template,) = sts["spec"]["volumeClaimTemplates"]
        assert template["metadata"]["name"] == "data"
        assert template["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
        assert sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": mount}]
        assert sts["spec"]["serviceName"] == name
    assert [m for m in manifests if m["kind"] == "PersistentVolumeClaim"] == []


def test_deployment_storage_becomes_pvcs_and_empty_dirs():
    system, values = build("rag_system")
    manifests = render.render_tier(system, "backend", values)
    assert manifests[0]["kind"] == "PersistentVolumeClaim"
    pvc = find(manifests, "PersistentVolumeClaim", "rag-backend-uploads")
    assert pvc["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}}}
    pod = find(manifests, "Deployment", "rag-backend")["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "uploads", "persistentVolumeClaim": {"claimName": "rag-backend-uploads"}},
        {"name": "logs", "emptyDir": {}},
    ]


def test_rwo_pvc_on_a_deployment_uses_recreate():
    components, settings = load("rag_system")
    components["rag-backend"].pop("rolling_update")
    components["rag-backend"]["storage"][0]["access_modes"] = ["ReadWriteOnce"]
    system = System(components, settings)
    deployment = find(render.render_tier(system, "backend", resolve_secrets(system, [])), "Deployment", "rag-backend")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_port_env_is_the_primary_port(genai):
    _system, _values, manifests = genai
    assert env_of(find(manifests, "Deployment", "gateway")) == {"PORT": "8000"}
    assert env_of(find(manifests, "StatefulSet", "qdrant")) == {"PORT": "6333"}
    assert env_of(find(manifests, "Deployment", "worker")) == {}


def test_services_are_named_as_components_with_health_annotations(genai):
    _system, _values, manifests = genai
    services = sorted(m["metadata"]["name"] for m in manifests if m["kind"] == "Service")
    assert services == ["ai-service", "chat-service", "frontend", "gateway", "mysql", "qdrant", "redis"]
    qdrant = find(manifests, "Service", "qdrant")
    assert qdrant["spec"]["ports"] == [
        {"name": "http", "port": 6333, "targetPort": "http", "protocol": "TCP"},
        {"name": "grpc", "port": 6334, "targetPort": "grpc", "protocol": "TCP"},
    ]
    assert find(manifests, "Service", "gateway")["metadata"]["annotations"] == {
        "genai.stack/health-path": "/healthz", "genai.stack/health-port": "http"}
    assert "annotations" not in find(manifests, "Service", "mysql")["metadata"]


def test_service_port_differs_from_container_port():
    system = System({"web": {"tier": "frontend", "image": {"repository": "web", "tag": "1"},
                             "ports": [{"name": "http", "port": 3000, "service_port": 80}]}}, {})
    service = render.render_tier(system, "frontend", {})[1]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_workloads_name_what_they_need(genai):
    _system, _values, manifests = genai
    assert find(manifests, "Deployment", "chat-service")["metadata"]["annotations"] == {
        "genai.stack/needs": "ai-service,mysql,qdrant"}
    assert find(manifests, "Deployment", "worker")["metadata"]["annotations"] == {"genai.stack/needs": "chat-service,redis"}
    assert "annotations" not in find(manifests, "StatefulSet", "mysql")["metadata"]


def test_probes_derived_from_health_path(genai):
    _system, _values, manifests = genai
    container = find(manifests, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5}
    assert container["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 15, "periodSeconds": 10}
    assert "startupProbe" not in container
    qdrant = find(manifests, "StatefulSet", "qdrant")["spec"]["template"]["spec"]["containers"][0]
    assert qdrant["readinessProbe"] == {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5}
    assert qdrant["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    worker = find(manifests, "Deployment", "worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["livenessProbe"]["exec"] == {"command": ["celery", "-A", "app", "inspect", "ping"]}
    assert "readinessProbe" not in worker


def test_explicit_probe_timings_of_the_rag_seed():
    system, values = build("rag_system")
    container = find(render.render_tier(system, "backend", values), "Deployment", "rag-backend")[
        "spec"]["template"]["spec"]["containers"][0]
    assert container["startupProbe"] == {"httpGet": {"path": "/health", "port": "http"}, "failureThreshold": 12,
                                         "initialDelaySeconds": 0, "periodSeconds": 5}
    assert container["livenessProbe"] == {"httpGet": {"path": "/health", "port": "http"}, "failureThreshold": 3,
                                          "initialDelaySeconds": 30, "periodSeconds": 10, "timeoutSeconds": 5}
    assert container["readinessProbe"]["timeoutSeconds"] == 3


def test_rag_seed_hpa_behaviour_and_rollout():
    system, values = build("rag_system")
    manifests = render.render_tier(system, "backend", values)
    hpa = find(manifests, "HorizontalPodAutoscaler", "rag-backend")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert [f"{m['resource']['name']}={m['resource']['target']['averageUtilization']}" for m in hpa["metrics"]] == ["cpu=70", "memory=80"]
    assert hpa["behavior"]["scaleUp"] == {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Percent", "value": 100, "periodSeconds": 15}, {"type": "Pods", "value": 2, "periodSeconds": 15}]}
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    deployment = find(manifests, "Deployment", "rag-backend")["spec"]
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_restricted_security_context():
    system, values = build("rag_system")
    pod = find(render.render_tier(system, "backend", values), "Deployment", "rag-backend")["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"fsGroup": 1000, "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["initContainers"][0]["securityContext"]["runAsUser"] == 1000


def test_wait_for_init_container():
    system, values = build("rag_system")
    pod = find(render.render_tier(system, "backend", values), "Deployment", "rag-backend")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    host = "qdrant.rag-system.svc.cluster.local"
    assert init["name"] == "wait-for-qdrant"
    assert init["image"] == "busybox:1.36"
    assert init["command"] == ["sh", "-c", f"until nc -z -w 2 {host} 6333; do echo waiting for {host}:6333; sleep 2; done"]
    system, values = build("rag_system", wait_image="localhost/tools:1")
    pod = find(render.render_tier(system, "backend", values), "Deployment", "rag-backend")["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == "localhost/tools:1"


def test_anti_affinity():
    system, values = build("rag_system")
    pod = find(render.render_tier(system, "backend", values), "Deployment", "rag-backend")["spec"]["template"]["spec"]
    term = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["weight"] == 100
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "rag-backend", "app.kubernetes.io/instance": "rag-system"}


def test_cronjob_of_chat4all():
    system, values = build("chat4all")
    manifests = render.render_tier(system, "worker", values)
    assert [m["kind"] for m in manifests if m["metadata"]["name"] == "upload-gc"] == ["CronJob"]
    cron = find(manifests, "CronJob", "upload-gc")["spec"]
    assert (cron["schedule"], cron["timeZone"], cron["concurrencyPolicy"]) == ("0 2 * * *", "Etc/UTC", "Forbid")
    pod = cron["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    assert "readinessProbe" not in pod["containers"][0]
    config = system.config_data("upload-gc")
    assert (config["GC_RETENTION_HOURS"], config["GC_BATCH_SIZE"]) == ("24", "100")


def test_service_account_with_least_privilege():
    system, values = build("chat4all")
    manifests = render.render_tier(system, "foundation", values)
    role = find(manifests, "Role", "chat4all-worker")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]
    binding = find(manifests, "RoleBinding", "chat4all-worker")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "chat4all-worker", "namespace": "chat4all"}]
    workers = find(render.render_tier(system, "worker", values), "Deployment", "workers")["spec"]["template"]["spec"]
    assert workers["serviceAccountName"] == "chat4all-worker"
    assert "automountServiceAccountToken" not in workers
    gateway_pod = find(everything(*build("genai")), "Deployment", "gateway")["spec"]["template"]["spec"]
    assert gateway_pod["automountServiceAccountToken"] is False


def test_prometheus_annotations():
    system, values = build("chat4all")
    annotations = find(render.render_tier(system, "backend", values), "Deployment", "api")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_secret_copied_from_another_component():
    system, values = build("chat4all")
    data = system.secret_data("api", values)
    assert data["MINIO_SECRET_KEY"] == values["minio"]["MINIO_ROOT_PASSWORD"]
    assert data["DATABASE_URL"] == "postgresql://chat4all:{}@postgres.chat4all.svc.cluster.local:5432/chat4all".format(values["postgres"]["POSTGRES_PASSWORD"])
    assert system.config_data("api")["KAFKA_BOOTSTRAP_SERVERS"] == "kafka.chat4all.svc.cluster.local:9092"


def test_escape_hatches_are_deep_merged():
    components, settings = load("genai")
    components["gateway"]["pod_spec"] = {"nodeSelector": {"disk": "ssd"}, "enableServiceLinks": True}
    components["gateway"]["container"] = {"resources": {"limits": {"cpu": "2"}}, "workingDir": "/srv"}
    system = System(components, settings)
    pod = find(render.render_tier(system, "backend", FIXED_SECRETS), "Deployment", "gateway")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"disk": "ssd"}
    assert pod["enableServiceLinks"] is True
    assert pod["containers"][0]["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2", "memory": "256Mi"}}
    assert pod["containers"][0]["workingDir"] == "/srv"


# --- images ---------------------------------------------------------------------------------


def image(**kwargs):
    result = {"repository": "shettyanna/genai-gateway", "tag": "latest", "registry": "", "digest": "", "pull_policy": ""}
    result.update(kwargs)
    return result


SETTINGS = {"image_registry": "", "image_pull_policy": "IfNotPresent"}


@pytest.mark.parametrize("img,settings,ref", [
    (image(), SETTINGS, "shettyanna/genai-gateway:latest"),
    (image(tag="1.2"), dict(SETTINGS, image_registry="mirror.local:5000"), "mirror.local:5000/shettyanna/genai-gateway:1.2"),
    (image(repository="mysql", tag="8.0"), dict(SETTINGS, image_registry="mirror.local"), "mirror.local/mysql:8.0"),
    (image(repository="localhost/genai-stack-test/app", tag="1.0.0"), dict(SETTINGS, image_registry="mirror.local"),
     "localhost/genai-stack-test/app:1.0.0"),
    (image(registry="ghcr.io"), dict(SETTINGS, image_registry="mirror.local"), "ghcr.io/shettyanna/genai-gateway:latest"),
    (image(digest="sha256:" + "ab" * 32), SETTINGS, "shettyanna/genai-gateway@sha256:" + "ab" * 32),
])
def test_image_ref(img, settings, ref):
    assert render.image_ref(img, settings) == ref


@pytest.mark.parametrize("img,policy,expected", [
    (image(), "IfNotPresent", "Always"),
    (image(tag="1.0"), "IfNotPresent", "IfNotPresent"),
    (image(digest="sha256:" + "ab" * 32), "IfNotPresent", "IfNotPresent"),
    (image(), "Never", "Never"),
    (image(pull_policy="IfNotPresent"), "IfNotPresent", "IfNotPresent"),
    (image(tag="1.0"), "Always", "Always"),
])
def test_pull_policy(img, policy, expected):
    assert render.image_pull_policy(img, {"image_pull_policy": policy}) == expected


def test_version_label_is_the_tag_or_short_digest(genai):
    _system, _values, manifests = genai
    assert find(manifests, "StatefulSet", "mysql")["metadata"]["labels"]["app.kubernetes.io/version"] == "8.0"
    assert render.image_version(image(digest="sha256:" + "0123456789abcdef" * 4)) == "0123456789ab"


def test_local_test_images(genai):
    components, settings = load("genai")
    app = {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"}
    settings["image_overrides"] = {"gateway": app, "mysql": {"repository": "localhost/genai-stack-test/mysql", "tag": "1.0.0"}}
    settings["image_pull_secrets"] = ["regcred"]
    system = System(components, settings)
    manifests = everything(system, FIXED_SECRETS)
    pod = find(manifests, "Deployment", "gateway")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "localhost/genai-stack-test/app:1.0.0"
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert find(manifests, "StatefulSet", "mysql")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "localhost/genai-stack-test/mysql:1.0.0")


# --- foundation -----------------------------------------------------------------------------


def test_namespace_with_pod_security(genai):
    _system, _values, manifests = genai
    ns = find(manifests, "Namespace", "genai")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert "namespace" not in ns["metadata"]


def policy_sources(manifests, target):
    policy = find(manifests, "NetworkPolicy", f"{target}-allow")
    sources = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule["from"]:
            if "podSelector" in peer:
                sources.add(peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name", "monitoring"))
            if "namespaceSelector" in peer:
                sources.add("ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"])
    return sources


def test_network_policies_follow_the_needs(genai):
    _system, _values, manifests = genai
    assert policy_sources(manifests, "mysql") == {"chat-service"}
    assert "frontend" not in policy_sources(manifests, "mysql")
    assert policy_sources(manifests, "redis") == {"worker"}
    assert policy_sources(manifests, "chat-service") == {"gateway", "worker"}
    assert policy_sources(manifests, "gateway") == {"ns:ingress-nginx"}
    assert policy_sources(manifests, "frontend") == {"ns:ingress-nginx"}
    mysql = find(manifests, "NetworkPolicy", "mysql-allow")
    assert mysql["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 3306}]
    deny = find(manifests, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    kinds = [m["kind"] for m in render.render_tier(_system, "foundation", _values)]
    assert kinds[-1] == "NetworkPolicy" and kinds.count("NetworkPolicy") == 8


def test_network_policies_admit_monitoring_to_metrics():
    system, values = build("chat4all")
    manifests = render.render_tier(system, "foundation", values)
    assert policy_sources(manifests, "api") == {"ns:ingress-nginx", "monitoring"}
    assert policy_sources(manifests, "postgres") == {"api", "upload-gc", "workers"}
    assert policy_sources(manifests, "minio") == {"api", "upload-gc"}


def test_network_policies_can_be_turned_off():
    system, values = build("genai", FIXED_SECRETS, network_policies=False)
    assert all(m["kind"] != "NetworkPolicy" for m in render.render_tier(system, "foundation", values))


def test_api_server_peers_reach_health_ports():
    peer = {"ipBlock": {"cidr": "10.0.0.0/24"}}
    system, values = build("genai", FIXED_SECRETS, network_policy_allow_from=[peer])
    policy = find(render.render_tier(system, "foundation", values), "NetworkPolicy", "gateway-allow")
    assert {"from": [peer], "ports": [{"protocol": "TCP", "port": 8000}]} in policy["spec"]["ingress"]


# --- ingress --------------------------------------------------------------------------------


def test_ingress_hosts_mode_with_cert_manager(genai):
    _system, _values, manifests = genai
    ingress = find(manifests, "Ingress", "genai")
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["api.genai.local", "app.genai.local"], "secretName": "genai-tls"}]
    routes = [(r["host"], p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
              for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert routes == [("api.genai.local", "/", "gateway", 8000), ("app.genai.local", "/", "frontend", 5173)]


def test_ingress_single_domain_mode():
    components, settings = load("genai")
    settings["ingress"]["mode"] = "single_domain"
    system = System(components, settings)
    ingress = render.render_tier(system, "ingress", {})[0]
    assert ingress["spec"]["tls"] == [{"hosts": ["genai.local"], "secretName": "genai-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "genai.local"
    assert [(p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]] == [
        ("/api", "Prefix", "gateway"), ("/", "Prefix", "frontend")]


@pytest.mark.parametrize("mode,kinds,annotations,tls", [
    ("self_signed", ["Issuer", "Ingress"], {"cert-manager.io/issuer": "genai-selfsigned"}, True),
    ("secret", ["Ingress"], None, True),
    ("none", ["Ingress"], None, False),
])
def test_ingress_tls_modes(mode, kinds, annotations, tls):
    components, settings = load("genai")
    settings["ingress"]["tls"]["mode"] = mode
    manifests = render.render_tier(System(components, settings), "ingress", {})
    assert [m["kind"] for m in manifests] == kinds
    ingress = manifests[-1]
    assert ingress["metadata"].get("annotations") == annotations
    assert ("tls" in ingress["spec"]) is tls
    if mode == "self_signed":
        assert manifests[0]["spec"] == {"selfSigned": {}}
        assert manifests[0]["apiVersion"] == "cert-manager.io/v1"


def test_ingress_with_a_namespaced_issuer():
    components, settings = load("genai")
    settings["ingress"]["tls"].update(issuer="local-ca", issuer_kind="Issuer")
    ingress = render.render_tier(System(components, settings), "ingress", {})[0]
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/issuer": "local-ca"}


def test_disabled_ingress_renders_nothing():
    components, settings = load("genai")
    settings["ingress"]["enabled"] = False
    assert render.render_tier(System(components, settings), "ingress", {}) == []


def test_empty_tier_and_monitoring_render_nothing():
    system, values = build("rag_system")
    assert render.render_tier(system, "worker", values) == []
    assert render.render_tier(system, "monitoring", values) == []


# --- restricted by default, tier order, derived expose ------------------------------------------


def _pod_specs(manifests):
    for manifest in manifests:
        if manifest["kind"] in ("Deployment", "StatefulSet"):
            yield manifest["metadata"]["name"], manifest["spec"]["template"]["spec"]
        elif manifest["kind"] == "CronJob":
            yield manifest["metadata"]["name"], manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("name", NAMES)
def test_every_pod_is_restricted_by_default(name):
    system, values = build(name, None)
    specs = list(_pod_specs(everything(system, values)))
    assert specs
    for workload, spec in specs:
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, workload
        for container in spec["containers"] + spec.get("initContainers", []):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, workload
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}, workload


def test_security_context_of_the_record_wins():
    components, settings = load("genai")
    components["redis"]["security_context"] = {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}}
    components["qdrant"]["security_context"] = {"privileged": True}
    system = System(components, settings)
    specs = dict(_pod_specs(everything(system, resolve_secrets(system, []))))
    redis = specs["redis"]["containers"][0]["securityContext"]
    assert redis["capabilities"] == {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}
    assert redis["allowPrivilegeEscalation"] is False
    qdrant = specs["qdrant"]["containers"][0]["securityContext"]
    assert qdrant["privileged"] is True and "allowPrivilegeEscalation" not in qdrant


def test_tier_order_is_one_list():
    assert render.TIERS == ("foundation", "datastores", "backend", "worker", "frontend", "ingress", "monitoring")
    for tier in render.TIERS:
        assert isinstance(render.render_tier(build("genai", FIXED_SECRETS)[0], tier, FIXED_SECRETS), list)


def test_expose_is_derived_from_the_ingress():
    components, settings = load("genai")
    for comp in components.values():
        comp.pop("expose", None)
    system = System(components, settings)
    routed = {entry["component"] for entry in settings["ingress"]["hosts"]}
    assert routed == {"gateway", "frontend"}
    assert {n for n, c in system.components.items() if c["expose"]} == routed
    policy = render.networkpolicy(system, system.components["gateway"])
    peers = json.dumps(policy["spec"]["ingress"])
    assert "ingress-nginx" in peers


# --- monitoring tier ----------------------------------------------------------------------------

MONITORING_OBJECTS = [
    ("ServiceAccount", "prometheus"), ("Role", "prometheus"), ("RoleBinding", "prometheus"),
    ("ConfigMap", "prometheus-config"), ("Deployment", "prometheus"), ("Service", "prometheus"),
    ("ConfigMap", "grafana-datasources"), ("Deployment", "grafana"), ("Service", "grafana"),
    ("NetworkPolicy", "monitoring"),
]


def monitoring(**monitoring_settings):
    system, values = build("genai", FIXED_SECRETS, monitoring_enabled=True, monitoring=monitoring_settings)
    return render.render_tier(system, "monitoring", values)


def test_monitoring_renders_prometheus_and_grafana_in_apply_order():
    manifests = monitoring()
    assert [(m["kind"], m["metadata"]["name"]) for m in manifests] == MONITORING_OBJECTS
    for manifest in manifests:
        assert manifest["metadata"]["namespace"] == "genai"
        assert manifest["metadata"]["labels"]["app.kubernetes.io/component"] == "monitoring"
        assert manifest["metadata"]["labels"]["app.kubernetes.io/part-of"] == "genai"
    assert find(manifests, "ConfigMap", "prometheus-config")["metadata"]["labels"]["app.kubernetes.io/name"] == "prometheus"
    assert find(manifests, "Deployment", "grafana")["metadata"]["labels"]["app.kubernetes.io/version"] == "11.2.0"
    assert find(manifests, "Deployment", "grafana")["metadata"]["annotations"] == {"genai.stack/needs": "prometheus"}


def test_monitoring_is_off_unless_enabled():
    system, values = build("genai", FIXED_SECRETS, monitoring_enabled=False, monitoring={"retention": "9d"})
    assert render.render_tier(system, "monitoring", values) == []


def test_monitoring_settings_reach_the_objects():
    manifests = monitoring(prometheus_image="registry.example/prom:2.0.0@sha256:" + "a" * 64, retention="7d",
                           scrape_interval="15s", grafana_admin_user="root", image_pull_policy="Always",
                           grafana_resources={"requests": {"cpu": "1"}})
    prom = find(manifests, "Deployment", "prometheus")
    container = prom["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example/prom:2.0.0@sha256:" + "a" * 64
    assert container["imagePullPolicy"] == "Always"
    assert "--storage.tsdb.retention.time=7d" in container["args"]
    assert prom["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.0"
    assert "scrape_interval: 15s\n" in find(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    grafana = find(manifests, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]
    assert env_of({"spec": {"template": {"spec": {"containers": [grafana]}}}})["GF_SECURITY_ADMIN_USER"] == "root"
    assert grafana["resources"] == {"requests": {"cpu": "1"}}


def test_monitoring_pull_policy_defaults_to_the_collections():
    system, values = build("genai", FIXED_SECRETS, monitoring_enabled=True, image_pull_policy="Never")
    manifests = render.render_tier(system, "monitoring", values)
    assert find(manifests, "Deployment", "grafana")["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_monitoring_config_is_the_yaml_of_before_and_its_checksum_rolls_the_pod():
    manifests = monitoring()
    text = find(manifests, "ConfigMap", "prometheus-config")["data"]["prometheus.yml"]
    config = yaml.safe_load(text)
    assert config["scrape_configs"][0]["kubernetes_sd_configs"] == [{"namespaces": {"names": ["genai"]}, "role": "pod"}]
    assert config["scrape_configs"][0]["relabel_configs"][0]["regex"] == "true"
    assert yaml.safe_dump(config, indent=2, default_flow_style=False) == text
    datasources = yaml.safe_load(find(manifests, "ConfigMap", "grafana-datasources")["data"]["prometheus.yaml"])
    assert datasources["datasources"][0]["url"] == "http://prometheus.genai.svc.cluster.local:9090"
    checksum = find(manifests, "Deployment", "prometheus")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    changed = find(monitoring(scrape_interval="1m"), "Deployment", "prometheus")
    assert changed["spec"]["template"]["metadata"]["annotations"]["checksum/config"] != checksum


@pytest.mark.parametrize("value, expected", [("30s", "30s"), ("true", "'true'"), ("10", "'10'"), ("1m30s", "1m30s")])
def test_monitoring_yaml_scalars_quote_as_pyyaml(value, expected):
    assert render._yaml_scalar(value) == expected
    assert yaml.safe_dump({"k": value}) == "k: {}\n".format(expected)


def test_monitoring_pods_are_restricted_and_selected():
    for name, spec in _pod_specs(monitoring()):
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        sc = spec["containers"][0]["securityContext"]
        assert sc == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}, name
    for manifest in monitoring():
        if manifest["kind"] == "Deployment":
            selector = manifest["spec"]["selector"]["matchLabels"]
            pod_labels = manifest["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= pod_labels.items()
            assert "app.kubernetes.io/version" not in selector

"""Variants of issue 9's cases on the real cluster (the one named by KUBECONFIG): the same
kinds of fault with other inputs, so that a fix covers the kind and not only the reported case.

- J: check mode (and the preflight, which is the same dry run) reports the growth of a
  StatefulSet's volumes claim by claim, exactly as the real run then does it; without the
  options it is a refusal naming the inventory variables.
- L: adding an HPA to a running StatefulSet keeps its replicas and its pods; removing it
  again prunes the HPA and the StatefulSet takes its replicas back.
- Services: type ClusterIP -> NodePort -> ClusterIP applies in place, and a re-run is
  unchanged.
- I for a whole tier: monitoring switched off (genai_monitoring_enabled: false) through
  site.yml removes Prometheus and Grafana, keeps their Secret, and the re-run is unchanged.

Each test works in its own namespace t-variant-<case>-<random> and deletes it
(GENAI_TEST_NAMESPACE_PREFIX replaces t-, for a cluster shared with another test run). Needs
the test image localhost/genai-stack-test/app:1.0.0 in the cluster's containerd.
"""
import json
import subprocess
import threading
import time
import uuid

import pytest
import yaml
from clusterlib import ANSIBLE_PLAYBOOK, NAMESPACE_PREFIX, RECAP, REPO, kubectl, needs_cluster, wait_until
from test_apply import actions, apply, get, hpa, pods, ready_replicas, service, statefulset

# ansible_collections.genai.stack from the clone (clusterlib put collections/ on sys.path)
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402

pytestmark = needs_cluster
PREFIX = NAMESPACE_PREFIX + "variant"


@pytest.fixture()
def namespace(request):
    case = request.node.name.replace("test_", "").replace("_", "-")[:20].strip("-")
    name = "{0}-{1}-{2}".format(PREFIX, case, uuid.uuid4().hex[:5]).replace("[", "-").replace("]", "")
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture()
def expandable_class():
    name = PREFIX + "-grow-" + uuid.uuid4().hex[:5]
    manifest = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                "provisioner": "kubernetes.io/host-path", "allowVolumeExpansion": True,
                "volumeBindingMode": "Immediate", "reclaimPolicy": "Delete"}
    kubectl("apply", "-f", "-", input_text=json.dumps(manifest))
    yield name
    kubectl("delete", "storageclass", name, "--wait=false", check=False)


def claim_size(namespace, name="data-redis-0"):
    return ((get("pvc", name, namespace) or {}).get("spec") or {}).get("resources", {}).get("requests", {}).get("storage")


def test_j_check_mode_reports_the_refusal_a_real_run_meets(namespace):
    apply(namespace, [statefulset("redis", size="1Gi")])
    wait_until("claim data-redis-0", lambda: get("pvc", "data-redis-0", namespace))
    for check_mode in (True, False):
        with pytest.raises(GenaiStackError) as err:
            apply(namespace, [statefulset("redis", size="2Gi")], check_mode=check_mode)
        refusal = err.value.details["refusals"][0]
        assert (refusal["kind"], refusal["field"]) == ("StatefulSet", "spec.volumeClaimTemplates")
        assert "genai_expand_volumes" in refusal["remedy"] and "genai_recreate_statefulsets" in refusal["remedy"]
    assert claim_size(namespace) == "1Gi"


@pytest.mark.parametrize("recreate", [False, True], ids=["grow-only", "grow-and-recreate"])
def test_j_check_mode_reports_each_claim_the_real_run_grows(namespace, expandable_class, recreate):
    apply(namespace, [statefulset("redis", size="1Gi", storage_class=expandable_class)])
    wait_until("claim bound", lambda: (get("pvc", "data-redis-0", namespace) or {}).get("status", {}).get(
        "phase") == "Bound")
    grown = [statefulset("redis", size="2Gi", storage_class=expandable_class)]
    options = {"expand_volumes": True, "recreate_statefulsets": recreate}
    dry = apply(namespace, grown, check_mode=True, diff=True, **options)
    expected = {("StatefulSet", "redis"): "recreated" if recreate else "configured",
                ("PersistentVolumeClaim", "data-redis-0"): "expanded"}
    assert actions(dry) == expected
    claim_diff = [d for d in dry["diff"] if d["before_header"].startswith("PersistentVolumeClaim")][0]
    assert claim_diff["after"]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert claim_size(namespace) == "1Gi", "check mode grew the claim"
    real = apply(namespace, grown, **options)
    assert actions(real) == expected
    assert claim_size(namespace) == "2Gi"


def statefulset_hpa(name, minimum, maximum):
    result = hpa(name, minimum, maximum)
    result["spec"]["scaleTargetRef"]["kind"] = "StatefulSet"
    return result


def test_l_adding_an_hpa_to_a_statefulset_keeps_its_replicas_and_pods(namespace):
    sts = statefulset("cache")
    sts["spec"]["replicas"] = 2
    sts["spec"]["podManagementPolicy"] = "Parallel"
    apply(namespace, [sts])
    wait_until("2 ready replicas of cache", lambda: ready_replicas("statefulset", "cache", namespace, 2), timeout=180)
    before = sorted(p["metadata"]["uid"] for p in pods(namespace, "cache"))
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            seen.append(get("statefulset", "cache", namespace)["spec"]["replicas"])
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    autoscaled = statefulset("cache")
    autoscaled["spec"]["podManagementPolicy"] = "Parallel"
    del autoscaled["spec"]["replicas"]
    try:
        result = apply(namespace, [autoscaled, statefulset_hpa("cache", 2, 3)])
        time.sleep(5)
    finally:
        stop.set()
        watcher.join()
    assert actions(result) == {("StatefulSet", "cache"): "configured", ("HorizontalPodAutoscaler", "cache"): "created"}
    assert seen and min(seen) == 2, seen
    assert sorted(p["metadata"]["uid"] for p in pods(namespace, "cache")) == before
    prune = {"labels": {"app.kubernetes.io/part-of": "tapply", "app.kubernetes.io/component": "backend"}}
    assert apply(namespace, [autoscaled, statefulset_hpa("cache", 2, 3)], prune=prune)["changed"] is False
    # and autoscaling switched off again: the HPA goes first, then replicas: 1 is the StatefulSet's
    sts["spec"]["replicas"] = 1
    result = apply(namespace, [sts], prune=prune)
    assert actions(result) == {("StatefulSet", "cache"): "configured", ("HorizontalPodAutoscaler", "cache"): "pruned"}
    wait_until("cache scaled to 1", lambda: ready_replicas("statefulset", "cache", namespace, 1) and len(
        pods(namespace, "cache")) == 1, timeout=120)
    assert apply(namespace, [sts], prune=prune)["changed"] is False


def test_service_type_changes_apply_in_place_and_converge(namespace):
    cluster_ip = service("api")
    node_port = service("api")
    node_port["spec"]["type"] = "NodePort"
    first = apply(namespace, [cluster_ip])
    assert actions(first) == {("Service", "api"): "created"}
    address = get("service", "api", namespace)["spec"]["clusterIP"]
    for definition in (node_port, cluster_ip):
        changed = apply(namespace, [definition])
        assert actions(changed) == {("Service", "api"): "configured"}
        live = get("service", "api", namespace)
        assert live["spec"]["type"] == definition["spec"].get("type", "ClusterIP")
        assert live["spec"]["clusterIP"] == address, "the Service was re-created"
        assert apply(namespace, [definition])["changed"] is False
    assert "nodePort" not in get("service", "api", namespace)["spec"]["ports"][0]


def converge(variables, tmp_path):
    vars_file = tmp_path / "vars-{0}.yml".format(uuid.uuid4().hex[:6])
    vars_file.write_text(yaml.safe_dump(variables))
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "site.yml", "-i", "inventories/local", "-e", "@" + str(vars_file)],
                          cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    return sum(int(r[2]) for r in RECAP.findall(proc.stdout))


def test_i_monitoring_switched_off_is_removed_by_the_next_run(tmp_path):
    namespace = PREFIX + "-monitoring-off"
    small = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
    api = {"tier": "backend", "image": {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"},
           "ports": [{"name": "http", "port": 8000}], "health_path": "/healthz", "resources": small, "metrics": True,
           "security_context": {"run_as_non_root": True, "run_as_user": 1000, "run_as_group": 1000, "fs_group": 1000}}
    variables = {
        "genai_system": PREFIX.replace("-", "") + "mon", "genai_namespace": namespace, "genai_components": {"api": api},
        "genai_component_overrides": {}, "genai_image_overrides": {}, "genai_ingress_overrides": {"enabled": False},
        "ingress_tls_generate": False, "genai_wait_timeout": 180, "verify_wait_timeout": 60,
        "genai_monitoring_enabled": True,
        "monitoring_prometheus_image": "localhost/genai-stack-test/prometheus:1.0.0",
        "monitoring_grafana_image": "localhost/genai-stack-test/grafana:1.0.0",
        "monitoring_prometheus_resources": small, "monitoring_grafana_resources": small,
    }
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)
    try:
        converge(variables, tmp_path)
        assert get("deployment", "prometheus", namespace) and get("deployment", "grafana", namespace)
        variables["genai_monitoring_enabled"] = False
        converge(variables, tmp_path)
        for kind, name in (("deployment", "prometheus"), ("deployment", "grafana"), ("service", "prometheus"),
                           ("configmap", "prometheus-config"), ("networkpolicy", "monitoring"), ("role", "prometheus")):
            assert get(kind, name, namespace) is None, "{0} {1} was left behind".format(kind, name)
        assert get("secret", "grafana-secrets", namespace), "the generated Secret was pruned without purge"
        assert get("deployment", "api", namespace)
        assert converge(variables, tmp_path) == 0, "the re-run changed something"
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def small_system(name, namespace, components, **extra):
    variables = {
        "genai_system": name, "genai_namespace": namespace, "genai_components": components,
        "genai_component_overrides": {}, "genai_image_overrides": {}, "genai_ingress_overrides": {"enabled": False},
        "ingress_tls_generate": False, "genai_wait_timeout": 150, "verify_wait_timeout": 60,
        "genai_monitoring_enabled": False,
    }
    variables.update(extra)
    return variables


def app(**extra):
    record = {"tier": "backend", "image": {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"},
              "ports": [{"name": "http", "port": 8000}], "health_path": "/healthz",
              "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
              "security_context": {"run_as_non_root": True, "run_as_user": 1000, "run_as_group": 1000, "fs_group": 1000}}
    record.update(extra)
    return record


def test_i_a_component_moved_to_another_tier_is_updated_not_recreated(tmp_path):
    namespace = PREFIX + "-tier-move"
    system = PREFIX.replace("-", "") + "move"
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)
    try:
        converge(small_system(system, namespace, {"api": app(replicas=2)}), tmp_path)
        uids = {kind: get(kind, "api", namespace)["metadata"]["uid"] for kind in ("deployment", "service")}
        moved = small_system(system, namespace, {"api": app(replicas=2, tier="frontend")})
        converge(moved, tmp_path)
        for kind, uid in uids.items():
            live = get(kind, "api", namespace)
            assert live["metadata"]["uid"] == uid, "{0} api was deleted and re-created".format(kind)
            assert live["metadata"]["labels"]["app.kubernetes.io/component"] == "frontend"
        assert converge(moved, tmp_path) == 0, "the re-run changed something"
    finally:
        kubectl("delete", "namespace", namespace, "--wait=false", check=False)

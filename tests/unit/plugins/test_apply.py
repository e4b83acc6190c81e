# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""genai.stack.apply's engine and object rules, over a small in-memory API server.

``FakeServer`` answers GET/PATCH/DELETE of object paths the way the API server answers
server-side apply for the cases under test (merge of the applied fields, resourceVersion
moving only when the stored object changes, 422 for a changed StatefulSet volume claim
template). tests/integration/test_apply.py runs the same engine against the real cluster.
"""

import copy
import json

import pytest
import yaml

from ansible_collections.genai.stack.plugins.module_utils import apply_objects as objects
from ansible_collections.genai.stack.plugins.module_utils.apply_resources import KINDS
from ansible_collections.genai.stack.plugins.module_utils.apply_engine import Applier, argument_spec, refusal_message
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.modules import apply as apply_module

NS = "shop"
LABELS = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "shop",
          "app.kubernetes.io/component": "frontend", "app.kubernetes.io/managed-by": "genai-stack"}


PLURALS = {plural for plural, _namespaced in KINDS.values()}


def _merge(live, patch):
    result = copy.deepcopy(live)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


class FakeServer(object):
    """Objects by API path; records every request as (method, path, dry_run)."""

    def __init__(self, namespaces=(NS,)):
        self.objects = {}
        self.version = 100
        self.requests = []
        self.warnings = {}
        for namespace in namespaces:
            self.objects["/api/v1/namespaces/" + namespace] = {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "resourceVersion": "1"}}

    def add(self, path, obj, manager="genai-stack", fields=None):
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.version)
        obj["metadata"]["managedFields"] = [{"manager": manager, "operation": "Apply", "fieldsV1": fields or {}}]
        self.objects[path] = obj

    def call(self, method, path, query=None, body=None, content_type=None, timeout=None):
        query = query or {}
        dry = query.get("dryRun") == "All"
        self.requests.append((method, path, dry))
        if method == "GET":
            if path in self.objects:
                return 200, copy.deepcopy(self.objects[path]), []
            prefix = path + "/"
            items = [copy.deepcopy(o) for p, o in self.objects.items()
                     if p.startswith(prefix) and "/" not in p[len(prefix):]]
            if path.rsplit("/", 1)[-1] in PLURALS:
                selector = query.get("labelSelector")
                if selector:
                    wanted = dict(part.split("=", 1) for part in selector.split(","))
                    items = [o for o in items if objects.is_subset(wanted, o["metadata"].get("labels") or {})]
                return 200, {"items": items}, []
            return 404, {"kind": "Status", "message": "not found", "reason": "NotFound"}, []
        if method == "DELETE":
            self.objects.pop(path, None)
            return 200, {}, []
        if method == "PATCH" and content_type == "application/apply-patch+yaml":
            live = self.objects.get(path)
            if live is not None and live["kind"] == "StatefulSet":
                if not objects.is_subset(body["spec"].get("volumeClaimTemplates"),
                                         live["spec"].get("volumeClaimTemplates")):
                    return 422, {"kind": "Status", "reason": "Invalid", "message": (
                        "StatefulSet.apps \"{0}\" is invalid: spec: Forbidden: updates to statefulset spec for "
                        "fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden").format(
                            live["metadata"]["name"]),
                        "details": {"causes": [{"field": "spec"}]}}, []
            stored = _merge(live or {}, body)
            if body["kind"] in ("Deployment", "StatefulSet"):
                stored["spec"].setdefault("replicas", 1)
            changed = objects.comparable(stored) != objects.comparable(live)
            managers = [m for m in (stored["metadata"].get("managedFields") or [])
                        if m["manager"] != query["fieldManager"]]
            managers.append({"manager": query["fieldManager"], "operation": "Apply",
                             "fieldsV1": _fields(body.get("spec") or {})})
            stored["metadata"]["managedFields"] = managers
            if changed and not dry:
                self.version += 1
                stored["metadata"]["resourceVersion"] = str(self.version)
            elif live is None:
                stored["metadata"]["resourceVersion"] = str(self.version + 1)
            if not dry:
                if live is not None and not changed and live["metadata"].get("managedFields") != managers:
                    self.version += 1
                    stored["metadata"]["resourceVersion"] = str(self.version)
                self.objects[path] = stored
            return (201 if live is None else 200), copy.deepcopy(stored), list(self.warnings.get(path, []))
        if method == "PATCH":
            live = self.objects[path]
            if not dry:
                self.version += 1
                if isinstance(body, list):  # JSON patch: replace operations only
                    for operation in body:
                        objects.set_path(live, operation["path"].strip("/").replace("/", "."), operation["value"])
                else:
                    live = _merge(live, body)
                live["metadata"]["resourceVersion"] = str(self.version)
                self.objects[path] = live
            return 200, copy.deepcopy(live), []
        raise AssertionError("unexpected request {0} {1}".format(method, path))

    def writes(self):
        return [(m, p) for m, p, dry in self.requests if m != "GET" and not dry]


def _fields(spec):
    return {"f:spec": {"f:" + key: {} for key in spec}}


def params(**overrides):
    result = {name: spec.get("default") for name, spec in argument_spec().items()}
    result.update(overrides)
    return result


def deployment(name="web", replicas=3, image="app:1"):
    spec = {"selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}},
                         "spec": {"containers": [{"name": name, "image": image}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "labels": dict(LABELS, **{"app.kubernetes.io/name": name})},
            "spec": spec}


def configmap(name="web", data=None):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS, "labels": dict(LABELS, **{"app.kubernetes.io/name": name})},
            "data": data or {"LOG_LEVEL": "info"}}


def statefulset(size="1Gi"):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "redis", "namespace": NS, "labels": dict(LABELS, **{"app.kubernetes.io/name": "redis"})},
            "spec": {"replicas": 1, "serviceName": "redis",
                     "selector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
                     "template": {"metadata": {"labels": {"app.kubernetes.io/name": "redis"}},
                                  "spec": {"containers": [{"name": "redis", "image": "redis:1"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": size}}}}]}}


def run(server, **options):
    check_mode = options.pop("check_mode", False)
    diff = options.pop("diff", False)
    return Applier(server, params(**options), check_mode=check_mode, diff=diff, sleep=lambda s: None).run()


def actions(result):
    return {(r["kind"], r["name"]): r["action"] for r in result["results"]}


# --------------------------------------------------------------------------------------------
# the engine


class NoApi(object):
    def call(self, *args, **kwargs):
        raise AssertionError("an empty definitions list must not reach the API")


def test_empty_definitions_change_nothing_and_contact_no_api():
    # case A: an empty list once crashed kubernetes.core.k8s with "'NoneType' object is not callable"
    result = Applier(NoApi(), params(definitions=[])).run()
    assert result["changed"] is False and result["results"] == []


def test_first_run_creates_second_run_reports_unchanged_without_writing():
    server = FakeServer()
    first = run(server, definitions=[configmap(), deployment()])
    assert first["changed"] is True
    assert actions(first) == {("ConfigMap", "web"): "created", ("Deployment", "web"): "created"}
    server.requests = []
    second = run(server, definitions=[configmap(), deployment()])
    assert second["changed"] is False
    assert set(actions(second).values()) == {"unchanged"}
    assert server.writes() == []


def test_check_mode_reports_the_change_and_writes_nothing():
    server = FakeServer()
    run(server, definitions=[configmap()])
    server.requests = []
    result = run(server, definitions=[configmap(data={"LOG_LEVEL": "debug"})], check_mode=True, diff=True)
    assert result["changed"] is True and result["dry_run"] is True
    assert actions(result) == {("ConfigMap", "web"): "configured"}
    assert server.writes() == []
    assert result["diff"][0]["before"]["data"] == {"LOG_LEVEL": "info"}
    assert result["diff"][0]["after"]["data"] == {"LOG_LEVEL": "debug"}


def test_secret_values_never_reach_results_or_diff():
    server = FakeServer()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": NS},
              "data": {"password": "c2VjcmV0LXZhbHVl"}}
    result = run(server, definitions=[secret], diff=True)
    text = json.dumps(result)
    assert "c2VjcmV0LXZhbHVl" not in text
    assert result["diff"][0]["after"]["data"] == {"password": objects.HIDDEN_CHANGED}


def test_namespace_absent_is_validated_elsewhere_and_said_in_check_mode():
    server = FakeServer(namespaces=("default",))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
    result = run(server, definitions=[configmap(), namespace], check_mode=True)
    assert [r["kind"] for r in result["results"]] == ["Namespace", "ConfigMap"]
    assert set(actions(result).values()) == {"created"}
    assert result["notes"] == ["namespace shop absent: validated against namespace default"]
    assert ("PATCH", "/api/v1/namespaces/default/configmaps/web", True) in server.requests
    assert server.writes() == []


def test_namespace_absent_and_not_defined_is_refused_before_anything_is_applied():
    server = FakeServer(namespaces=("default",))
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[configmap(), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}])
    assert err.value.details["refusals"][0]["reason"] == "namespace absent"
    assert server.writes() == []


def test_adding_an_hpa_hands_replicas_over_before_dropping_them():
    # case L: a workload rendered with an HPA has no spec.replicas; the live value must stay
    server = FakeServer()
    run(server, definitions=[deployment(replicas=3)])
    server.requests = []
    result = run(server, definitions=[deployment(replicas=None)])
    assert actions(result) == {("Deployment", "web"): "configured"}
    patches = [p for p in server.writes() if p[0] == "PATCH"]
    assert len(patches) == 2
    live = server.objects["/apis/apps/v1/namespaces/shop/deployments/web"]
    assert live["spec"]["replicas"] == 3
    managers = {m["manager"] for m in live["metadata"]["managedFields"]}
    assert "handover-to-hpa" in managers
    assert list(result["revisions"]) == ["Deployment/web"]
    # a re-run no longer owns spec.replicas: nothing to hand over, nothing written
    server.requests = []
    assert run(server, definitions=[deployment(replicas=None)])["changed"] is False
    assert server.writes() == []


def test_changed_volume_claim_template_is_refused_with_nothing_applied():
    # case J: a larger volume and an unrelated ConfigMap change in the same run
    server = FakeServer()
    run(server, definitions=[configmap(), statefulset("1Gi")])
    server.requests = []
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[configmap(data={"LOG_LEVEL": "debug"}), statefulset("2Gi")])
    refusal = err.value.details["refusals"][0]
    assert (refusal["component"], refusal["kind"], refusal["field"]) == (
        "redis", "StatefulSet", "spec.volumeClaimTemplates")
    assert "expand_volumes" in refusal["remedy"] and "recreate_statefulsets" in refusal["remedy"]
    assert "nothing was applied" in err.value.msg and "redis" in err.value.msg
    assert server.writes() == []
    assert server.objects["/api/v1/namespaces/shop/configmaps/web"]["data"] == {"LOG_LEVEL": "info"}


def test_volume_growth_refused_when_the_storage_class_cannot_expand():
    server = FakeServer()
    run(server, definitions=[statefulset("1Gi")])
    server.add("/api/v1/namespaces/shop/persistentvolumeclaims/data-redis-0", {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-redis-0", "namespace": NS},
        "spec": {"storageClassName": "fixed", "resources": {"requests": {"storage": "1Gi"}}}})
    server.add("/apis/storage.k8s.io/v1/storageclasses/fixed", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fixed"}})
    server.requests = []
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[statefulset("2Gi")], expand_volumes=True)
    refusal = err.value.details["refusals"][0]
    assert refusal["reason"] == "volume expansion not allowed" and "StorageClass fixed" in refusal["message"]
    assert server.writes() == []


def test_volume_growth_and_recreation_keep_pods_and_grow_claims():
    server = FakeServer()
    claim = _growable(server)
    server.requests = []
    result = run(server, definitions=[statefulset("2Gi")], expand_volumes=True, recreate_statefulsets=True)
    assert actions(result) == {("StatefulSet", "redis"): "recreated", ("PersistentVolumeClaim", "data-redis-0"): "expanded"}
    assert server.objects[claim]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    sts = server.objects["/apis/apps/v1/namespaces/shop/statefulsets/redis"]
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert ("DELETE", "/apis/apps/v1/namespaces/shop/statefulsets/redis") in server.writes()


def test_prune_deletes_what_left_the_definitions_but_keeps_data():
    # case I: a component switched off; its Secret and PVC stay unless purge
    server = FakeServer()
    run(server, definitions=[configmap("web"), deployment("web"), configmap("search"), deployment("search")])
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "search", "namespace": NS, "labels": dict(LABELS, **{"app.kubernetes.io/name": "search"})}}
    server.add("/api/v1/namespaces/shop/secrets/search", secret)
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": "gc-1", "namespace": NS, "labels": LABELS, "ownerReferences": [{"controller": True, "kind": "CronJob"}]}}
    server.add("/apis/batch/v1/namespaces/shop/jobs/gc-1", job)
    prune = {"labels": {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "frontend"}}
    result = run(server, definitions=[configmap("web"), deployment("web")], prune=prune)
    assert actions(result) == {("ConfigMap", "web"): "unchanged", ("Deployment", "web"): "unchanged",
                               ("Deployment", "search"): "pruned", ("ConfigMap", "search"): "pruned"}
    assert "/api/v1/namespaces/shop/secrets/search" in server.objects
    assert "/apis/batch/v1/namespaces/shop/jobs/gc-1" in server.objects
    again = run(server, definitions=[configmap("web"), deployment("web")], prune=prune)
    assert again["changed"] is False
    purged = run(server, definitions=[configmap("web"), deployment("web")], prune=prune, purge=True)
    assert actions(purged)[("Secret", "search")] == "pruned"


def test_prune_without_labels_is_refused():
    with pytest.raises(GenaiStackError):
        run(FakeServer(), definitions=[configmap()], prune={"labels": {}})


def test_replaces_statefulset_pod_stuck_on_an_old_revision():
    # case M: OrderedReady never replaces a pod of the bad revision that is not ready
    server = FakeServer()
    run(server, definitions=[statefulset()])
    path = "/apis/apps/v1/namespaces/shop/statefulsets/redis"
    server.objects[path]["status"] = {"observedGeneration": 2, "updateRevision": "redis-good"}
    server.objects[path]["metadata"]["generation"] = 2
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "redis-0", "namespace": NS,
        "labels": {"app.kubernetes.io/name": "redis", "controller-revision-hash": "redis-bad"}},
        "status": {"containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}}
    server.objects["/api/v1/namespaces/shop/pods/redis-0"] = pod
    result = run(server, definitions=[statefulset()])
    assert [p["name"] for p in result["replaced_pods"]] == ["redis-0"]
    assert result["replaced_pods"][0]["reason"] == "ImagePullBackOff"
    assert "/api/v1/namespaces/shop/pods/redis-0" not in server.objects
    assert result["changed"] is True


def test_rollback_restores_the_statefulset_template_of_the_recorded_revision():
    server = FakeServer()
    run(server, definitions=[statefulset()])
    path = "/apis/apps/v1/namespaces/shop/statefulsets/redis"
    server.objects[path]["status"] = {"updateRevision": "redis-new"}
    good = copy.deepcopy(statefulset()["spec"]["template"])
    server.objects["/apis/apps/v1/namespaces/shop/controllerrevisions/redis-old"] = {
        "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "redis-old"},
        "data": {"spec": {"template": dict(good, **{"$patch": "replace"})}}}
    server.objects[path]["spec"]["template"]["spec"]["containers"][0]["image"] = "redis:missing"
    revisions = {"StatefulSet/redis": {"kind": "StatefulSet", "name": "redis", "namespace": NS, "revision": "redis-old"}}
    result = run(server, state="rollback", revisions=revisions)
    assert actions(result) == {("StatefulSet", "redis"): "rolled_back"}
    assert ("PATCH", path) in server.writes()


@pytest.mark.parametrize("enforce, refused", [("restricted", True), ("baseline", False), (None, False)])
def test_pod_security_warning_at_the_enforced_level_is_a_refusal(enforce, refused):
    # case G: PodSecurity only warns about a workload; its pods are refused later
    server = FakeServer()
    if enforce:
        server.objects["/api/v1/namespaces/shop"]["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": enforce}
    server.warnings["/apis/apps/v1/namespaces/shop/deployments/web"] = [
        'would violate PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "web" must set '
        'securityContext.runAsNonRoot=true)']
    if refused:
        with pytest.raises(GenaiStackError) as err:
            run(server, definitions=[deployment()])
        refusal = err.value.details["refusals"][0]
        assert (refusal["component"], refusal["reason"]) == ("web", "forbidden by PodSecurity")
        assert "runAsNonRoot" in refusal["message"] and "security_context" in refusal["remedy"]
        assert server.writes() == []
    else:
        result = run(server, definitions=[deployment()])
        assert actions(result) == {("Deployment", "web"): "created"}
        assert "runAsNonRoot" in result["api_warnings"][0]


class Flaky(FakeServer):
    """Answers 503 to the first two requests, as an API server that is restarting."""

    def __init__(self):
        super(Flaky, self).__init__()
        self.failures = 2

    def call(self, method, path, **kwargs):
        if self.failures:
            self.failures -= 1
            self.requests.append((method, path, False))
            return 503, {"kind": "Status", "message": "the server is currently unable to handle the request"}, []
        return super(Flaky, self).call(method, path, **kwargs)


def test_an_api_server_briefly_unavailable_is_asked_again():
    server = Flaky()
    result = run(server, definitions=[configmap()])
    assert actions(result) == {("ConfigMap", "web"): "created"}
    assert server.failures == 0


def test_refusal_message_names_component_field_and_remedy():
    text = refusal_message([{"component": "redis", "kind": "StatefulSet", "name": "redis", "field": "spec.selector",
                             "reason": "immutable field", "message": "redis: StatefulSet redis: x",
                             "remedy": "set recreate_statefulsets"}])
    assert "redis" in text and "spec.selector" in text and "Remedy: set recreate_statefulsets" in text


@pytest.mark.parametrize("field", ["type", "data"])
def test_secret_remedy_keeps_the_values_before_any_delete(field):
    # deleting a Secret whose generated password a database holds loses that password: the
    # remedy says to save the values first and give them back, never just "delete and converge"
    text = objects.remedy("Secret", field, "mysql-secrets", "shop")
    assert "kubectl get secret mysql-secrets -n shop -o yaml" in text
    assert text.index("save its values") < text.index("delete it")
    assert "{value: ...}" in text


# --------------------------------------------------------------------------------------------
# object rules


@pytest.mark.parametrize("desired, live, expected", [
    ({"a": 1}, {"a": 1, "b": 2}, True),
    ({"a": 1}, {"a": 2}, False),
    ([{"a": 1}], [{"a": 1, "b": 2}], True),
    ([{"a": 1}], [{"a": 1}, {"a": 2}], False),
    ("1Gi", "1024Mi", True),
    ("2Gi", "1Gi", False),
    (True, 1, False),
])
def test_is_subset(desired, live, expected):
    assert objects.is_subset(desired, live) is expected


@pytest.mark.parametrize("text, value", [("1Gi", 2 ** 30), ("500M", 5 * 10 ** 8), ("2", 2), ("100m", 0.1), ("x", None)])
def test_quantity(text, value):
    assert objects.quantity(text) == value


def test_storage_growth_only():
    live = statefulset("1Gi")["spec"]["volumeClaimTemplates"]
    assert objects.storage_growth_only(statefulset("2Gi")["spec"]["volumeClaimTemplates"], live) == {
        "data": ("1Gi", "2Gi")}
    assert objects.storage_growth_only(statefulset("512Mi")["spec"]["volumeClaimTemplates"], live) is None


def test_owns_field_reads_managed_fields():
    obj = {"metadata": {"managedFields": [{"manager": "genai-stack", "operation": "Apply",
                                           "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}}
    assert objects.owns_field(obj, "genai-stack", "spec.replicas")
    assert not objects.owns_field(obj, "other", "spec.replicas")
    assert not objects.owns_field(obj, "genai-stack", "spec.template")


# --------------------------------------------------------------------------------------------
# the module's documentation matches its argument spec


def _doc_options():
    return yaml.safe_load(apply_module.DOCUMENTATION)["options"]


def test_documentation_matches_argument_spec():
    spec = argument_spec()
    documented = _doc_options()
    own = {name: value for name, value in spec.items() if name not in objects_auth_options()}
    assert set(documented) == set(own)
    for name, option in documented.items():
        assert option.get("type", "str") == own[name].get("type", "str"), name
        assert option.get("default") == own[name].get("default"), name
        assert option.get("choices") == own[name].get("choices"), name


def objects_auth_options():
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

    return AUTH_ARG_SPEC


# --------------------------------------------------------------------------------------------
# variants of issue 9's cases


def issuer(name="genai-selfsigned"):
    return {"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": {"name": name, "namespace": NS, "labels": LABELS}, "spec": {"selfSigned": {}}}


def test_prune_removes_an_issuer_the_tier_no_longer_renders(monkeypatch):
    # case I for every kind the renderer creates: TLS mode self_signed -> cert_manager leaves no Issuer
    monkeypatch.setitem(globals(), "PLURALS", PLURALS | {"issuers"})
    server = FakeServer()
    server.objects["/apis/cert-manager.io/v1"] = {"resources": [
        {"name": "issuers", "kind": "Issuer", "namespaced": True}]}
    server.add("/apis/cert-manager.io/v1/namespaces/shop/issuers/genai-selfsigned", issuer())
    prune = {"labels": {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "frontend"}}
    result = run(server, definitions=[configmap("web")], prune=prune)
    assert actions(result)[("Issuer", "genai-selfsigned")] == "pruned"
    assert "/apis/cert-manager.io/v1/namespaces/shop/issuers/genai-selfsigned" not in server.objects


def test_prune_on_a_cluster_without_cert_manager_skips_its_kinds():
    server = FakeServer()
    prune = {"labels": {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "frontend"}}
    result = run(server, definitions=[configmap("web")], prune=prune)
    assert actions(result) == {("ConfigMap", "web"): "created"}


def _growable(server):
    """A StatefulSet redis applied with a 1Gi claim data-redis-0 of the expandable StorageClass
    grows: returns the claim's API path."""
    run(server, definitions=[statefulset("1Gi")])
    claim = "/api/v1/namespaces/shop/persistentvolumeclaims/data-redis-0"
    server.add(claim, {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": "data-redis-0", "namespace": NS},
                       "spec": {"storageClassName": "grows", "resources": {"requests": {"storage": "1Gi"}}}})
    server.add("/apis/storage.k8s.io/v1/storageclasses/grows", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "grows"},
        "allowVolumeExpansion": True})
    return claim


@pytest.mark.parametrize("recreate", [False, True])
def test_check_mode_reports_the_volume_growth_the_real_run_does(recreate):
    # case J: check mode and --diff say what the real run will do, claim by claim
    server = FakeServer()
    claim = _growable(server)
    server.requests = []
    dry = run(server, definitions=[statefulset("2Gi")], expand_volumes=True, recreate_statefulsets=recreate,
              check_mode=True, diff=True)
    assert server.writes() == []
    sts_action = "recreated" if recreate else "configured"
    assert actions(dry) == {("StatefulSet", "redis"): sts_action, ("PersistentVolumeClaim", "data-redis-0"): "expanded"}
    claim_diff = [d for d in dry["diff"] if d["before_header"].startswith("PersistentVolumeClaim shop/data-redis-0")]
    assert claim_diff and claim_diff[0]["before"]["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim_diff[0]["after"]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    real = run(server, definitions=[statefulset("2Gi")], expand_volumes=True, recreate_statefulsets=recreate)
    assert actions(real) == actions(dry)
    assert server.objects[claim]["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_growth_refusal_names_the_inventory_variables():
    server = FakeServer()
    run(server, definitions=[statefulset("1Gi")])
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[statefulset("2Gi")], check_mode=True)
    assert "genai_expand_volumes" in err.value.msg and "genai_recreate_statefulsets" in err.value.msg


def test_selector_change_of_another_systems_object_names_the_rename():
    # case K for stateless components: a renamed genai_system changes every selector
    server = FakeServer()
    server.add("/apis/apps/v1/namespaces/shop/deployments/web", dict(deployment(), metadata=dict(
        deployment()["metadata"], labels=dict(LABELS, **{"app.kubernetes.io/part-of": "shop-v1"}))))
    original = server.call

    def call(method, path, query=None, body=None, content_type=None, timeout=None):
        if method == "PATCH" and path.endswith("/deployments/web"):
            return 422, {"kind": "Status", "reason": "Invalid", "message": "Deployment.apps 'web' is invalid: "
                         "spec.selector: Invalid value: field is immutable",
                         "details": {"causes": [{"field": "spec.selector"}]}}, []
        return original(method, path, query=query, body=body, content_type=content_type, timeout=timeout)

    server.call = call
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[deployment()], check_mode=True)
    refusal = err.value.details["refusals"][0]
    assert refusal["reason"] == "owned by another system" and "shop-v1" in refusal["message"]
    assert "genai_system" in refusal["remedy"] and "set it back to shop-v1" in refusal["remedy"]


def test_recreating_with_larger_templates_without_expand_volumes_is_refused():
    # case J, recreate_statefulsets alone: the claims would keep 1Gi while the run said OK
    server = FakeServer()
    _growable(server)
    server.requests = []
    for check_mode in (True, False):
        with pytest.raises(GenaiStackError) as err:
            run(server, definitions=[statefulset("2Gi")], recreate_statefulsets=True, check_mode=check_mode)
        refusal = err.value.details["refusals"][0]
        assert refusal["reason"] == "volume growth not enabled" and "PVC data-redis-0 (1Gi, wanted 2Gi)" in refusal["message"]
        assert "genai_expand_volumes" in refusal["remedy"]
    assert server.writes() == []


def test_claims_grown_earlier_leave_nothing_to_do_and_never_shrink():
    # case J, expand_volumes alone: the template keeps 1Gi, the claims are 2Gi; re-runs change nothing
    server = FakeServer()
    claim = _growable(server)
    run(server, definitions=[statefulset("2Gi")], expand_volumes=True)
    assert server.objects[claim]["spec"]["resources"]["requests"]["storage"] == "2Gi"
    server.requests = []
    for check_mode in (True, False):
        again = run(server, definitions=[statefulset("2Gi")], expand_volumes=True, check_mode=check_mode)
        assert actions(again) == {("StatefulSet", "redis"): "unchanged"} and again["changed"] is False
    server.objects[claim]["spec"]["resources"]["requests"]["storage"] = "5Gi"  # grown by hand
    assert run(server, definitions=[statefulset("2Gi")], expand_volumes=True)["changed"] is False
    assert server.writes() == []


def test_prune_keeps_what_another_tier_of_the_run_applies():
    # case I, a component moved to another tier: its objects are updated there, never deleted and re-created
    server = FakeServer()
    prune = {"labels": {"app.kubernetes.io/part-of": "shop", "app.kubernetes.io/component": "frontend"}}
    run(server, definitions=[configmap("web"), deployment("web"), deployment("search")], prune=prune)
    result = run(server, definitions=[configmap("web")], prune=dict(prune, keep=["Deployment/search"]))
    assert actions(result) == {("ConfigMap", "web"): "unchanged", ("Deployment", "web"): "pruned"}
    assert "/apis/apps/v1/namespaces/shop/deployments/search" in server.objects


def _with_volume(config_map, optional=False):
    web = deployment()
    web["spec"]["template"]["spec"]["volumes"] = [{"name": "extra", "configMap": {"name": config_map, "optional": optional}}]
    return web


def test_a_configmap_no_definition_and_no_object_holds_is_refused_before_anything_is_applied():
    # the FailedMount that health names after its grace period, found before the first apply
    server = FakeServer()
    with pytest.raises(GenaiStackError) as err:
        run(server, definitions=[_with_volume("nowhere")], dry_run=True)
    refusal = err.value.details["refusals"][0]
    assert refusal["reason"] == "missing ConfigMap" and "needs ConfigMap nowhere" in refusal["message"]
    assert refusal["field"] == "spec.volumes[0].configMap"
    with pytest.raises(GenaiStackError):
        run(server, definitions=[_with_volume("nowhere")])
    assert server.writes() == []
    # defined in the same run, present in the namespace, or optional: fine
    assert run(server, definitions=[configmap("nowhere"), _with_volume("nowhere")], dry_run=True)["refusals"] == []
    assert run(server, definitions=[_with_volume("nowhere", optional=True)], dry_run=True)["refusals"] == []
    run(server, definitions=[configmap("nowhere")])
    assert run(server, definitions=[_with_volume("nowhere")])["refusals"] == []


def test_a_tier_in_check_mode_leaves_references_to_the_preflight():
    # earlier tiers were not applied in a check-mode run: their ConfigMaps are not there yet
    result = run(FakeServer(), definitions=[_with_volume("web-config")], check_mode=True)
    assert result["refusals"] == [] and actions(result) == {("Deployment", "web"): "created"}


def test_a_missing_image_pull_secret_is_noted():
    web = deployment()
    web["spec"]["template"]["spec"]["imagePullSecrets"] = [{"name": "regcred"}]
    result = run(FakeServer(), definitions=[web], dry_run=True)
    assert any("imagePullSecret regcred does not exist" in note for note in result["notes"])

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""genai.stack.health end to end on recorded namespaces, and its connection handling.

The API is replaced by a fake serving the lists recorded from the local test cluster
(tests/unit/fixtures/health); tests/integration/test_health_module.py runs the same module
against the real cluster.
"""

import copy
import json
import os

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.genai.stack.plugins.module_utils import health_checks as hc
from ansible_collections.genai.stack.plugins.module_utils import k8s_client
from ansible_collections.genai.stack.plugins.modules import health
from ansible_collections.kubernetes.core.plugins.doc_fragments.k8s_auth_options import ModuleDocFragment

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "health")
PATH_KIND = {path.split("{namespace}")[1]: kind for kind, path in hc.LIST_PATHS}
PATH_KIND["/events"] = "Event"
_LOADED = {}


def recorded(fixture):
    if fixture not in _LOADED:
        with open(os.path.join(FIXTURES, fixture)) as handle:
            _LOADED[fixture] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return copy.deepcopy(_LOADED[fixture])


class FakeApi(object):
    """Serves one recorded namespace: list paths (label selectors applied) and proxy GETs."""

    def __init__(self, fixture):
        self.data = recorded(fixture)
        self.lists = []
        self.requests = []

    @staticmethod
    def _matches(obj, selector):
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for term in (selector or "").split(","):
            if term:
                key, value = term.split("=", 1)
                if labels.get(key) != value:
                    return False
        return True

    def list_items(self, path, label_selector=None, missing_ok=True):
        assert path.startswith("/api")
        self.lists.append((path, label_selector))
        kind = PATH_KIND["/" + path.rsplit("/", 1)[1]]
        return [o for o in self.data.get(kind, []) if self._matches(o, label_selector)]

    def request(self, path, query=None, timeout=None):
        self.requests.append(path)
        if "/services/" not in path:
            return 404, b'{"kind": "Status", "message": "not found"}'  # TLS Secrets, Certificates, APIServices
        service = path.split("/services/")[1].split(":")[0]
        result = self.data["_http"][service]
        return result["status"], json.dumps({"kind": "Status", "message": result["message"]}).encode()


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


class Clock(object):
    """time.time/time.sleep of the module: sleeping advances the clock, nothing waits."""

    def __init__(self, start):
        self.now = start
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def run_module(monkeypatch, api, now, check_mode=False, **params):
    def exit_json(self, **result):
        raise ExitJson(result)

    def fail_json(self, **result):
        raise FailJson(result)

    clock = Clock(now)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(health, "get_api", lambda module_params: api)
    monkeypatch.setattr(hc.time, "time", clock.time)
    monkeypatch.setattr(hc.time, "sleep", clock.sleep)
    args = dict(namespace="demo", **params)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as outcome:
            health.main()
    return outcome.type is FailJson, outcome.value.args[0], clock


def recorded_at(api):
    return hc.parse_time(api.data["_recorded_at"])


def polls(api):
    return sum(1 for path, dummy in api.lists if path.endswith("/deployments"))


def test_healthy_selection_exits_after_one_poll_with_http_results(monkeypatch):
    api = FakeApi("namespace_probes.yaml")
    failed, result, clock = run_module(monkeypatch, api, recorded_at(api), components=["httpok"])
    assert not failed, result
    assert result["healthy"] is True and result["changed"] is False
    assert result["components"][0]["http"] == {"path": "/healthz", "port": "http", "status": 200, "message": ""}
    assert polls(api) == 1 and clock.sleeps == []
    assert result["summary"] == "1/1 components ready"


def test_every_kind_is_listed_once_per_poll_with_the_selector(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    selector = ["app.kubernetes.io/component=good", "app.kubernetes.io/part-of=hmtest"]
    for ingress in api.data["Ingress"]:  # recorded before the test cluster had an ingress controller
        ingress["status"] = {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}
    failed, result, dummy = run_module(monkeypatch, api, recorded_at(api), label_selectors=selector)
    assert not failed, result["msg"] if failed else ""
    selected = [call for call in api.lists if call[1] == ",".join(selector)]
    assert sorted(path for path, dummy2 in selected) == sorted(p.format(namespace="demo") for dummy2, p in hc.LIST_PATHS)
    # only the Ingress backend outside the selection needed more: nothing else, no per-object GETs
    assert [call for call in api.lists if call[1] != ",".join(selector)] == []
    assert {c["name"] for c in result["components"]} == {"web", "db", "migrate", "site"}


def test_terminal_failure_stops_the_wait_at_once(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, clock = run_module(monkeypatch, api, recorded_at(api), wait_timeout=600, pull_grace_period=30)
    assert failed
    assert result["terminal"] is True and result["healthy"] is False
    assert polls(api) == 1 and clock.sleeps == []
    assert result["msg"].startswith("Namespace demo has failed: badname: InvalidImageName")
    for name in ("crash", "nokey", "never", "stuck", "orphan", "broken", "lonely", "fails", "hungry", "site"):
        assert "; {0}: ".format(name) in result["msg"]


def test_not_ready_waits_its_slice_then_fails_without_terminal(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, clock = run_module(monkeypatch, api, recorded_at(api), components=["lonely", "hungry"],
                                       wait_timeout=10, wait_sleep=3, stuck_grace_period=3600)
    assert failed and result["terminal"] is False
    assert result["msg"].startswith("Namespace demo is not healthy after 10s: hungry: Unschedulable")
    assert clock.sleeps == [3, 3, 3, 1]
    assert polls(api) == 5
    assert result["elapsed"] == 10


def test_check_mode_reports_once_and_does_not_fail(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, clock = run_module(monkeypatch, api, recorded_at(api), check_mode=True, pull_grace_period=30)
    assert not failed
    assert result["healthy"] is False and result["terminal"] is True and len(result["failing"]) == 12
    assert polls(api) == 1 and clock.sleeps == []


def test_no_wait_fails_after_one_poll(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, clock = run_module(monkeypatch, api, recorded_at(api), wait=False, components=["stuck"])
    assert failed and result["msg"] == ("Namespace demo has failed: stuck: ProvisioningFailed (claim stuck-data is Pending: "
                                        'ProvisioningFailed: storageclass.storage.k8s.io "no-such-class" not found)')
    assert polls(api) == 1


def test_http_is_asked_only_when_enabled_and_the_component_is_ready(monkeypatch):
    api = FakeApi("namespace_probes.yaml")
    failed, result, dummy = run_module(monkeypatch, api, recorded_at(api), wait=False)
    assert sorted(api.requests) == ["/api/v1/namespaces/demo/services/httpfail:http/proxy/healthz",
                                    "/api/v1/namespaces/demo/services/httpok:http/proxy/healthz"]
    comps = {c["name"]: c for c in result["components"]}
    assert comps["httpfail"]["http"]["status"] == 503 and comps["probefail"]["http"]["status"] is None
    api = FakeApi("namespace_probes.yaml")
    failed, result, dummy = run_module(monkeypatch, api, recorded_at(api), wait=False, http=False)
    assert api.requests == []
    assert {c["name"]: c["ready"] for c in result["components"]}["httpfail"] is True


@pytest.mark.parametrize("allow_empty, fails", [(False, True), (True, False)])
def test_empty_selection(monkeypatch, allow_empty, fails):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, dummy = run_module(monkeypatch, api, recorded_at(api), wait=False, allow_empty=allow_empty,
                                       label_selectors=["app.kubernetes.io/component=nothing"])
    assert failed is fails
    assert result["components"] == []
    if fails:
        assert result["failing"] == ["no object in namespace demo matches app.kubernetes.io/component=nothing"]


def test_negative_durations_are_rejected(monkeypatch):
    api = FakeApi("namespace_mixed.yaml")
    failed, result, dummy = run_module(monkeypatch, api, recorded_at(api), wait_timeout=-1)
    assert failed and result["msg"] == "wait_timeout must not be negative, got -1" and api.lists == []


def test_missing_kubernetes_library_is_reported(monkeypatch):
    monkeypatch.setattr(health, "HAS_KUBERNETES", False)
    api = FakeApi("namespace_mixed.yaml")
    failed, result, dummy = run_module(monkeypatch, api, 0)
    assert failed and "kubernetes" in result["msg"] and api.lists == []


# --------------------------------------------------------------------------------------------
# documentation == argument spec (validate-modules checks the same)


def _doc_options():
    options = yaml.safe_load(health.DOCUMENTATION)["options"]
    options.update(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    return options


def _compare(doc, spec, path):
    assert set(doc) == set(spec), path
    for name, option in spec.items():
        documented = doc[name]
        assert documented.get("type", "str") == option.get("type", "str"), (path, name)
        for key in ("default", "choices", "elements", "required"):
            assert documented.get(key, False if key == "required" else None) == option.get(
                key, False if key == "required" else None), (path, name, key)
        assert sorted(documented.get("aliases", [])) == sorted(option.get("aliases", [])), (path, name)
        if "options" in option:
            _compare(documented["suboptions"], option["options"], path + "." + name)


def test_documentation_matches_argument_spec():
    _compare(_doc_options(), health.argument_spec(), "options")


def test_connection_options_are_kubernetes_core_s():
    core = pytest.importorskip("ansible_collections.kubernetes.core.plugins.module_utils.args_common")
    ours = k8s_client.AUTH_ARG_SPEC
    assert set(ours) == set(core.AUTH_ARG_SPEC)
    for name, spec in core.AUTH_ARG_SPEC.items():
        assert ours[name].get("type", "str") == spec.get("type", "str"), name
        assert ours[name].get("aliases") == spec.get("aliases"), name
        assert bool(ours[name].get("no_log")) == bool(spec.get("no_log")), name
    assert k8s_client.AUTH_ARG_MAP == core.AUTH_ARG_MAP


# --------------------------------------------------------------------------------------------
# connection settings: options, then K8S_AUTH_* variables, as kubernetes.core reads them


@pytest.fixture
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("K8S_AUTH_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_env_variables_fill_unset_options(clean_env):
    clean_env.setenv("K8S_AUTH_HOST", "https://api.example.test:6443")
    clean_env.setenv("K8S_AUTH_API_KEY", "token-from-env")
    clean_env.setenv("K8S_AUTH_VERIFY_SSL", "no")
    clean_env.setenv("K8S_AUTH_SSL_CA_CERT", "/etc/ca.pem")
    clean_env.setenv("K8S_AUTH_CERT_FILE", "/etc/client.pem")
    auth = k8s_client.resolve_auth({"api_key": "token-from-option"})
    assert auth == {"host": "https://api.example.test:6443", "api_key": "token-from-option", "verify_ssl": False,
                    "ssl_ca_cert": "/etc/ca.pem", "cert_file": "/etc/client.pem"}


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("no", False), ("False", False), ("0", False)])
def test_boolean_env_values(clean_env, value, expected):
    clean_env.setenv("K8S_AUTH_VALIDATE_CERTS", value)
    assert k8s_client.resolve_auth({})["verify_ssl"] is expected


def test_impersonation_headers(clean_env):
    clean_env.setenv("K8S_AUTH_IMPERSONATE_GROUPS", "ops,,devs")
    assert k8s_client.resolve_impersonation({"impersonate_user": "alice"}) == {
        "Impersonate-User": "alice", "Impersonate-Group": ["ops", "devs"]}


def test_host_and_token_need_no_kubeconfig(clean_env, tmp_path):
    pytest.importorskip("kubernetes")
    clean_env.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    configuration = k8s_client.build_configuration({"host": "https://api.example.test:6443/", "api_key": "abc", "verify_ssl": False})
    assert configuration.host == "https://api.example.test:6443"
    assert configuration.verify_ssl is False
    import kubernetes

    api = k8s_client.K8sApi(kubernetes.client.ApiClient(configuration))
    assert api._headers()["Authorization"] == "Bearer abc"


def test_kubeconfig_file_and_context_are_loaded(clean_env, tmp_path):
    pytest.importorskip("kubernetes")
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "one",
        "clusters": [{"name": "c1", "cluster": {"server": "https://one.test:6443", "insecure-skip-tls-verify": True}},
                     {"name": "c2", "cluster": {"server": "https://two.test:6443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t0k3n"}}],
        "contexts": [{"name": "one", "context": {"cluster": "c1", "user": "u"}},
                     {"name": "two", "context": {"cluster": "c2", "user": "u"}}],
    }))
    configuration = k8s_client.build_configuration({"kubeconfig": str(kubeconfig), "context": "two"})
    assert configuration.host == "https://two.test:6443"
    with pytest.raises(k8s_client.GenaiStackError) as err:
        k8s_client.build_configuration({"kubeconfig": str(kubeconfig), "context": "three"})
    assert "Could not load the Kubernetes configuration" in err.value.msg


@pytest.mark.parametrize("status, body, expected", [
    (503, b'{"kind":"Status","message":"no endpoints available for service \\"x:http\\""}',
     'HTTP 503: no endpoints available for service "x:http"'),
    (500, b"<html>secret page</html>", "HTTP 500"),
    (0, b"Connection refused", "no answer (Connection refused)"),
])
def test_status_message_never_returns_an_application_body(status, body, expected):
    assert k8s_client.status_message(status, body) == expected

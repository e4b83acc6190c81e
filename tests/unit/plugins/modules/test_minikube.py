# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""genai.stack.minikube against what minikube v1.38.1 really prints.

The fixtures in tests/unit/fixtures/minikube are {source, command, rc, stdout, stderr} records
written by tests/minikube/test (GENAI_MINIKUBE_RECORD=1) from a real profile; their README
says which ones could not be recorded. The CLI is replaced by a fake that replays them for
its current state and records every call.
"""

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.genai.stack.plugins.module_utils import minikube_cli
from ansible_collections.genai.stack.plugins.module_utils.minikube_cli import MinikubeError
from ansible_collections.genai.stack.plugins.modules import minikube

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "minikube")
MINIKUBE = "/usr/local/bin/minikube"
PROFILE = "genai-minikube"
MUTATING = ("start", "stop", "delete", "unpause")


def record(name):
    """(rc, stdout, stderr) of a recorded minikube command."""
    with open(os.path.join(FIXTURES, name + ".json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    return doc["rc"], doc["stdout"], doc["stderr"]


def parse(name):
    return minikube_cli.parse_status(*record(name))


# --- parse_status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, exists, state, host",
    [
        ("status_running", True, minikube_cli.RUNNING, "Running"),
        ("status_stopped", True, minikube_cli.STOPPED, "Stopped"),
        ("status_paused", True, minikube_cli.PAUSED, "Running"),
        ("status_degraded", True, minikube_cli.DEGRADED, "Running"),
        ("status_multinode", True, minikube_cli.RUNNING, "Running"),
        ("status_not_found", False, minikube_cli.ABSENT, None),
    ],
)
def test_parse_status_of_recorded_outputs(name, exists, state, host):
    rc = record(name)[0]
    parsed = parse(name)
    assert parsed["exists"] is exists
    assert parsed["state"] == state
    assert parsed["rc"] == rc
    assert parsed["status"].get("Host") == host


def test_recorded_exit_codes_are_the_documented_bitmask():
    assert record("status_running")[0] == 0
    assert record("status_stopped")[0] == minikube_cli.EXIT_ALL_NOT_RUNNING
    assert record("status_not_found")[0] == minikube_cli.EXIT_GUEST_NOT_FOUND


def test_not_found_is_cloudevents_without_a_status():
    rc, stdout, stderr = record("status_not_found")
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert lines and all(line.get("specversion") for line in lines)
    assert any("not found" in line["data"].get("message", "") for line in lines)


@pytest.mark.parametrize(
    "rc, stdout, stderr, state",
    [
        (7, "", "", minikube_cli.ABSENT),
        (1, "", 'There is no local cluster named "minikube"\n', minikube_cli.ABSENT),
        (4, record("status_running")[1].replace("Configured", "Misconfigured"), "", minikube_cli.DEGRADED),
        (7, '{"Name":"x","Host":"Nonexistent","Kubelet":"Nonexistent","APIServer":"Nonexistent",'
            '"Kubeconfig":"Nonexistent","Worker":false}', "", minikube_cli.ABSENT),
    ],
    ids=["empty", "no-local-cluster", "kubeconfig-misconfigured", "nonexistent-json"],
)
def test_parse_status_edge_cases(rc, stdout, stderr, state):
    assert minikube_cli.parse_status(rc, stdout, stderr)["state"] == state


def test_parse_status_multinode_reports_the_control_plane():
    parsed = parse("status_multinode")
    assert parsed["status"]["Name"] == PROFILE
    assert parsed["status"]["Worker"] is False


def test_parse_status_running_status_has_every_field():
    assert set(parse("status_running")["status"]) == {"Name", "Host", "Kubelet", "APIServer", "Kubeconfig", "Worker"}


@pytest.mark.parametrize(
    "stderr, reason",
    [
        ("X Exiting due to PROVIDER_DOCKER_NOT_RUNNING: docker is not running", "PROVIDER_DOCKER_NOT_RUNNING"),
        ("X Exiting due to PROVIDER_DOCKER_NOT_FOUND: The 'docker' provider was not found", "PROVIDER_DOCKER_NOT_FOUND"),
    ],
)
def test_parse_status_unreadable_output_raises(stderr, reason):
    with pytest.raises(MinikubeError) as err:
        minikube_cli.parse_status(1, "", stderr)
    assert reason in err.value.msg
    assert err.value.details["rc"] == 1


def test_parse_status_reports_cloudevents_error_message():
    event = ('{"specversion":"1.0","id":"1","source":"https://minikube.sigs.k8s.io/","type":"io.k8s.sigs.minikube.error",'
             '"datacontenttype":"application/json","data":{"exitcode":"80","message":"Unable to get control-plane node status",'
             '"name":"GUEST_STATUS"}}')
    with pytest.raises(MinikubeError) as err:
        minikube_cli.parse_status(80, event + "\n", "")
    assert "Unable to get control-plane node status" in err.value.msg


# --- addons, profiles, defaults, refusals -------------------------------------------------------


def test_parse_addons_of_a_running_profile():
    addons = minikube_cli.parse_addons(record("addons_list_running")[1])
    assert addons["storage-provisioner"] is True
    assert addons["default-storageclass"] is True
    assert addons["ingress"] is False
    assert "dashboard" in addons


def test_parse_addons_without_a_profile_lists_every_known_addon():
    addons = minikube_cli.parse_addons(record("addons_list_no_profile")[1])
    assert {"ingress", "metrics-server", "storage-provisioner", "dashboard"} <= set(addons)
    assert not any(addons.values())


@pytest.mark.parametrize("stdout", ["", "not json", "[]"])
def test_parse_addons_rejects_unreadable_output(stdout):
    with pytest.raises(MinikubeError):
        minikube_cli.parse_addons(stdout)


def test_parse_profile():
    config = minikube_cli.parse_profile(record("profile_list_running")[1], PROFILE)
    assert config["Name"] == PROFILE
    assert config["CPUs"] >= 1 and config["Memory"] > 0
    assert config["Driver"] == "docker"
    assert minikube_cli.parse_profile(record("profile_list_running")[1], "other") == {}
    assert minikube_cli.parse_profile("", PROFILE) == {}


def test_parse_list_of_config_defaults():
    versions = minikube_cli.parse_list(record("config_defaults_kubernetes_version")[1])
    assert "v1.34.4" in versions
    assert versions == sorted(versions, key=lambda v: [int(p) for p in v.lstrip("v").split("-")[0].split(".")], reverse=True)
    assert "docker" in minikube_cli.parse_list(record("config_defaults_driver")[1])
    assert minikube_cli.parse_list("") == []


@pytest.mark.parametrize(
    "name, reason, option",
    [
        ("start_cpus_refused", "RSRC_INSUFFICIENT_CORES", "cpus"),
        ("start_memory_refused", "RSRC_INSUFFICIENT_REQ_MEMORY", "memory"),
        ("start_driver_refused", "DRV_UNSUPPORTED_OS", "driver"),
        ("start_version_refused", "K8S_OLD_UNSUPPORTED", "kubernetes_version"),
    ],
)
def test_parse_refusal_of_recorded_refusals(name, reason, option):
    rc, stdout, stderr = record(name)
    assert rc != 0
    found, message = minikube_cli.parse_refusal(stdout, stderr)
    assert found == reason
    assert message
    assert minikube_cli.refused_option(found) == option


def test_parse_refusal_reads_cloudevents():
    event = json.dumps({"specversion": "1.0", "type": "io.k8s.sigs.minikube.error",
                        "data": {"exitcode": "29", "name": "RSRC_INSUFFICIENT_CORES", "message": "Requested cpu count 64"}})
    assert minikube_cli.parse_refusal(event + "\n", "") == ("RSRC_INSUFFICIENT_CORES", "Requested cpu count 64")
    assert minikube_cli.parse_refusal("", "something else") == (None, None)
    assert minikube_cli.refused_option("GUEST_START") is None


@pytest.mark.parametrize(
    "wanted, unknown",
    [("v1.34.4", []), ("1.34.4", []), ("stable", []), ("latest", []), ("v1.99.0", ["v1.99.0"]), ("v1.10.0", ["v1.10.0"])],
)
def test_unknown_versions(wanted, unknown):
    known = minikube_cli.parse_list(record("config_defaults_kubernetes_version")[1])
    assert minikube_cli.unknown_versions(wanted, known) == unknown


def test_kube_context():
    kubeconfig = {"contexts": [{"name": PROFILE, "context": {"cluster": PROFILE}}],
                  "clusters": [{"name": PROFILE, "cluster": {"server": "https://192.168.49.2:8443"}}]}
    assert minikube_cli.kube_context(kubeconfig, PROFILE) == {"kube_context": PROFILE, "api_server": "https://192.168.49.2:8443"}
    assert minikube_cli.kube_context(kubeconfig, "other") == {}
    assert minikube_cli.kube_context(None, PROFILE) == {}


@pytest.mark.parametrize(
    "value, expected",
    [("4096", 4096), ("4096mb", 4096), ("4096MB", 4096), ("4g", 4096), ("4GiB", 4096), ("8G", 8192), ("max", None)],
)
def test_memory_mb(value, expected):
    assert minikube_cli.memory_mb(value) == expected


# --- drift and plan ------------------------------------------------------------------------------


def desired_params(**overrides):
    params = {"state": "started", "profile": PROFILE, "driver": None, "cpus": None, "memory": None,
              "kubernetes_version": None, "addons": ["ingress"], "extra_args": [], "minikube_path": MINIKUBE,
              "wait_timeout": 600}
    params.update(overrides)
    return params


def test_drift():
    config = minikube_cli.parse_profile(record("profile_list_running")[1], PROFILE)
    same = {"cpus": config["CPUs"], "memory": "{0}mb".format(config["Memory"]), "driver": config["Driver"],
            "kubernetes_version": config["KubernetesConfig"]["KubernetesVersion"]}
    assert minikube_cli.drift(desired_params(**same), config) == []
    assert minikube_cli.drift(desired_params(kubernetes_version="stable"), config) == []
    warnings = minikube_cli.drift(desired_params(cpus=config["CPUs"] + 1, driver="kvm2", memory="64g"), config)
    assert [w.split(" has ")[1].split("=")[0] for w in warnings] == ["driver", "cpus", "memory"]


RUNNING, STOPPED, PAUSED, DEGRADED, ABSENT = (parse("status_" + s) for s in ("running", "stopped", "paused", "degraded", "not_found"))
ADDONS = minikube_cli.parse_addons(record("addons_list_running")[1])
START = [MINIKUBE, "start", "-p", PROFILE, "--wait=all", "--wait-timeout=600s"]
ENABLE_INGRESS = [MINIKUBE, "addons", "enable", "ingress", "-p", PROFILE]


@pytest.mark.parametrize(
    "state, status, addons, expected",
    [
        ("started", RUNNING, dict(ADDONS, ingress=True), []),
        ("started", RUNNING, ADDONS, [ENABLE_INGRESS]),
        ("started", STOPPED, None, [START, ENABLE_INGRESS]),
        ("started", DEGRADED, dict(ADDONS, ingress=True), [START]),
        ("started", PAUSED, dict(ADDONS, ingress=True), [[MINIKUBE, "unpause", "-p", PROFILE]]),
        ("started", ABSENT, None, [START + ["--addons=ingress"]]),
        ("stopped", RUNNING, ADDONS, [[MINIKUBE, "stop", "-p", PROFILE]]),
        ("stopped", DEGRADED, ADDONS, [[MINIKUBE, "stop", "-p", PROFILE]]),
        ("stopped", STOPPED, None, []),
        ("stopped", ABSENT, None, []),
        ("absent", RUNNING, ADDONS, [[MINIKUBE, "delete", "-p", PROFILE]]),
        ("absent", STOPPED, None, [[MINIKUBE, "delete", "-p", PROFILE]]),
        ("absent", ABSENT, None, []),
    ],
)
def test_plan(state, status, addons, expected):
    assert minikube_cli.plan(desired_params(state=state), {"status": status, "addons": addons}) == expected


def test_plan_start_carries_every_setting():
    desired = desired_params(driver="docker", cpus=2, memory="4g", kubernetes_version="v1.34.4",
                             extra_args=["--container-runtime=containerd"], wait_timeout=300)
    assert minikube_cli.plan(desired, {"status": ABSENT, "addons": None}) == [[
        MINIKUBE, "start", "-p", PROFILE, "--driver=docker", "--cpus=2", "--memory=4g", "--kubernetes-version=v1.34.4",
        "--wait=all", "--wait-timeout=300s", "--addons=ingress", "--container-runtime=containerd",
    ]]


def test_plan_wait_timeout_zero_keeps_minikube_default():
    command = minikube_cli.plan(desired_params(wait_timeout=0), {"status": ABSENT, "addons": None})[0]
    assert "--wait=all" in command
    assert not [arg for arg in command if arg.startswith("--wait-timeout")]


# --- the module, end to end ----------------------------------------------------------------------


class FakeMinikube(object):
    """Replays recorded outputs for its state; mutating commands change the state."""

    def __init__(self, state="running", refuse=None):
        self.state = state
        self.enabled = {"storage-provisioner", "default-storageclass"}
        self.refuse = refuse or {}  # start flag -> fixture name of the refusal
        self.calls = []

    def __call__(self, args, **kwargs):
        assert isinstance(args, list) and args[0] == MINIKUBE
        assert kwargs.get("environ_update") == {"MINIKUBE_IN_STYLE": "false"}
        self.calls.append(args[1:])
        verb = args[1]
        if verb == "status":
            return record({"absent": "status_not_found", "invalid": "status_not_found"}.get(self.state, "status_" + self.state))
        if args[1:3] == ["addons", "list"]:
            if "-p" not in args:
                return record("addons_list_no_profile")
            assert self.state in ("running", "stopped")
            rc, stdout, stderr = record("addons_list_" + self.state)
            listed = json.loads(stdout)
            for name in listed:
                listed[name]["Status"] = "enabled" if name in self.enabled else "disabled"
            return rc, json.dumps(listed), stderr
        if args[1:3] == ["addons", "enable"]:
            self.enabled.add(args[3])
            return 0, "The '{0}' addon is enabled\n".format(args[3]), ""
        if args[1:3] == ["config", "defaults"]:
            return record("config_defaults_" + args[3].replace("-", "_"))
        if verb == "profile":
            return record("profile_list_running")
        if verb == "ip":
            assert self.state == "running"
            return record("ip_running")
        if verb == "start":
            for flag, name in self.refuse.items():
                if flag in args:
                    self.state = "invalid"
                    return record(name)
            self.state = "running"
            self.enabled.update(arg.split("=", 1)[1] for arg in args if arg.startswith("--addons="))
            return 0, "Done! kubectl is now configured to use \"{0}\" cluster\n".format(PROFILE), ""
        if verb == "stop":
            self.state = "stopped"
            return 0, "1 node stopped.\n", ""
        if verb == "delete":
            self.state = "absent"
            self.enabled = {"storage-provisioner", "default-storageclass"}
            return 0, "Removed all traces of the \"{0}\" cluster.\n".format(PROFILE), ""
        raise AssertionError("unexpected call {0}".format(args))

    def mutating(self):
        return [call for call in self.calls if call[0] in MUTATING or call[:2] == ["addons", "enable"]]


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def run_module(monkeypatch, fake, check_mode=False, warnings=None, kubeconfig=None, **params):
    def exit_json(self, **result):
        raise ExitJson(result)

    def fail_json(self, **result):
        raise FailJson(result)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, args, **kwargs: fake(args, **kwargs))
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: MINIKUBE)
    monkeypatch.setenv("KUBECONFIG", kubeconfig or os.path.join(FIXTURES, "no-such-kubeconfig"))
    if warnings is not None:
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    args = dict({"profile": PROFILE}, **params)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as outcome:
            minikube.main()
    return outcome.type is FailJson, outcome.value.args[0]


def test_running_is_unchanged_and_reports_address_and_context(monkeypatch, tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(json.dumps({
        "contexts": [{"name": PROFILE, "context": {"cluster": PROFILE, "user": PROFILE}}],
        "clusters": [{"name": PROFILE, "cluster": {"server": "https://192.168.49.2:8443"}}]}))
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, kubeconfig=str(kubeconfig), addons=["storage-provisioner"])
    assert not failed
    assert result["changed"] is False and result["commands"] == [] and fake.mutating() == []
    assert result["addons"] == {"storage-provisioner": True}
    assert result["ip"] == record("ip_running")[1].strip()
    assert result["kube_context"] == PROFILE
    assert result["api_server"] == "https://192.168.49.2:8443"
    assert result["kubeconfig"] == str(kubeconfig)
    assert result["status"]["APIServer"] == "Running"


def test_running_enables_only_the_disabled_addon(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, addons=["ingress", "storage-provisioner"])
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["addons", "enable", "ingress", "-p", PROFILE]]
    assert result["addons"] == {"ingress": True, "storage-provisioner": True}
    failed, result = run_module(monkeypatch, fake, addons=["ingress", "storage-provisioner"])
    assert result["changed"] is False


@pytest.mark.parametrize("state", ["absent", "stopped"])
def test_started_from_absent_or_stopped(monkeypatch, state):
    fake = FakeMinikube(state=state)
    failed, result = run_module(monkeypatch, fake, cpus=2, addons=["ingress"])
    assert not failed and result["changed"] is True
    assert fake.mutating()[0][:3] == ["start", "-p", PROFILE]
    assert "--cpus=2" in fake.mutating()[0] and "--wait=all" in fake.mutating()[0]
    assert fake.state == "running"
    assert result["addons"] == {"ingress": True}
    assert result["status"]["Host"] == "Running"


def test_defaults_start_without_cpus_memory_or_addons(monkeypatch):
    fake = FakeMinikube(state="absent")
    failed, result = run_module(monkeypatch, fake)
    assert not failed
    assert fake.mutating() == [["start", "-p", PROFILE, "--wait=all", "--wait-timeout=600s"]]


@pytest.mark.parametrize(
    "start, params, expected",
    [
        ("absent", {"addons": ["ingress"]}, [MINIKUBE + " start -p " + PROFILE + " --wait=all --wait-timeout=600s --addons=ingress"]),
        ("running", {"state": "stopped"}, [MINIKUBE + " stop -p " + PROFILE]),
        ("running", {"state": "absent"}, [MINIKUBE + " delete -p " + PROFILE]),
        ("stopped", {"state": "absent"}, [MINIKUBE + " delete -p " + PROFILE]),
        ("stopped", {}, [MINIKUBE + " start -p " + PROFILE + " --wait=all --wait-timeout=600s"]),
    ],
)
def test_check_mode_predicts_without_mutating(monkeypatch, start, params, expected):
    fake = FakeMinikube(state=start)
    failed, result = run_module(monkeypatch, fake, check_mode=True, **params)
    assert not failed
    assert result["changed"] is True
    assert result["commands"] == expected
    assert fake.mutating() == []
    assert fake.state == start


def test_absent_deletes_an_existing_profile_once(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, state="absent")
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["delete", "-p", PROFILE]]
    assert result["status"] == {} and result["addons"] == {} and "ip" not in result
    failed, result = run_module(monkeypatch, fake, state="absent")
    assert result["changed"] is False and len(fake.mutating()) == 1


def test_stopped_stops_a_running_profile_once(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, state="stopped")
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["stop", "-p", PROFILE]]
    assert result["status"]["Host"] == "Stopped" and "ip" not in result
    failed, result = run_module(monkeypatch, fake, state="stopped")
    assert result["changed"] is False and len(fake.mutating()) == 1


def test_different_settings_on_existing_profile_warn_without_recreate(monkeypatch):
    fake = FakeMinikube(state="running")
    config = minikube_cli.parse_profile(record("profile_list_running")[1], PROFILE)
    warnings = []
    failed, result = run_module(monkeypatch, fake, warnings=warnings, cpus=config["CPUs"] + 6, memory="64g")
    assert not failed and result["changed"] is False and fake.mutating() == []
    assert len(warnings) == 2
    assert "cpus={0}".format(config["CPUs"]) in warnings[0] and "memory=" in warnings[1]


@pytest.mark.parametrize(
    "flag, fixture_name, params, expected",
    [
        ("--cpus=64", "start_cpus_refused", {"cpus": 64}, "minikube refused cpus=64: RSRC_INSUFFICIENT_CORES"),
        ("--memory=1mb", "start_memory_refused", {"memory": "1mb"}, "minikube refused memory=1mb: RSRC_INSUFFICIENT_REQ_MEMORY"),
    ],
)
def test_refused_start_names_the_option_and_deletes_the_profile_it_left(monkeypatch, flag, fixture_name, params, expected):
    fake = FakeMinikube(state="absent", refuse={flag: fixture_name})
    failed, result = run_module(monkeypatch, fake, **params)
    assert failed
    assert result["msg"].startswith(expected)
    assert "(exit {0})".format(record(fixture_name)[0]) in result["msg"]
    assert result["option"] == list(params)[0]
    assert result["rc"] == record(fixture_name)[0]
    assert fake.mutating()[-1] == ["delete", "-p", PROFILE]
    assert fake.state == "absent" and result["cleaned_up"] is True


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"driver": "nosuchdriver"}, "minikube refused driver=nosuchdriver: not a driver"),
        ({"kubernetes_version": "v1.99.0"}, "minikube refused kubernetes_version=v1.99.0: not a Kubernetes version"),
        ({"addons": ["ingress", "nosuchaddon"]}, "minikube refused addons=ingress,nosuchaddon: nosuchaddon is not an addon"),
    ],
)
def test_unknown_driver_version_or_addon_refused_before_anything_runs(monkeypatch, params, expected):
    for start in ("absent", "running"):
        fake = FakeMinikube(state=start)
        failed, result = run_module(monkeypatch, fake, **params)
        assert failed
        assert result["msg"].startswith(expected)
        assert result["option"] == list(params)[0]
        assert fake.mutating() == []


def test_unknown_addon_refused_in_check_mode_too(monkeypatch):
    fake = FakeMinikube(state="absent")
    failed, result = run_module(monkeypatch, fake, check_mode=True, addons=["nosuchaddon"])
    assert failed and "nosuchaddon is not an addon" in result["msg"]


def test_failed_command_without_a_known_option_reports_command_and_reason(monkeypatch):
    fake = FakeMinikube(state="absent")
    stderr = "X Exiting due to GUEST_PROVISION: error provisioning guest\n"
    monkeypatch.setattr(fake, "refuse", {"start": None})

    def failing(args, **kwargs):
        if args[1] == "start":
            fake.calls.append(args[1:])
            return 80, "", stderr
        return FakeMinikube.__call__(fake, args, **kwargs)

    failed, result = run_module(monkeypatch, failing)
    assert failed
    assert result["rc"] == 80 and result["reason"] == "GUEST_PROVISION" and result["option"] is None
    assert result["cmd"].startswith(MINIKUBE + " start -p " + PROFILE)
    assert "GUEST_PROVISION: error provisioning guest" in result["msg"]


def test_unreadable_status_fails(monkeypatch):
    def broken(args, **kwargs):
        return 1, "", "permission denied: /home/user/.minikube"

    failed, result = run_module(monkeypatch, broken)
    assert failed
    assert result["rc"] == 1 and "permission denied" in result["msg"]
    assert result["cmd"] == MINIKUBE + " status -p " + PROFILE + " -o json"


def test_documentation_matches_argument_spec():
    import yaml

    options = yaml.safe_load(minikube.DOCUMENTATION)["options"]
    spec = minikube.argument_spec()
    assert set(options) == set(spec)
    for name, option in spec.items():
        assert options[name]["type"] == option["type"], name
        assert options[name].get("default") == option.get("default"), name
        assert options[name].get("choices") == option.get("choices"), name
        assert options[name].get("elements") == option.get("elements"), name


def test_fixtures_say_where_they_come_from():
    for name in sorted(os.listdir(FIXTURES)):
        if name.endswith(".json"):
            with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
                doc = json.load(handle)
            assert set(doc) == {"source", "command", "rc", "stdout", "stderr"}, name
            assert doc["command"].startswith("minikube "), name

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""genai.stack.minikube against ``minikube`` outputs in the shapes minikube prints.

Minikube cannot run on the CI machines, so the CLI is replaced by a fake that answers each
argv with a fixture from tests/unit/fixtures/minikube and records every call.
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
MUTATING = ("start", "stop", "delete", "unpause", "enable")


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as handle:
        return handle.read()


NOT_FOUND = fixture("status_not_found.txt")

# --- parse_status ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rc, stdout, stderr, exists, state, host",
    [
        (0, fixture("status_running.json"), "", True, minikube_cli.RUNNING, "Running"),
        (7, fixture("status_stopped.json"), "", True, minikube_cli.STOPPED, "Stopped"),
        (2, fixture("status_paused.json"), "", True, minikube_cli.PAUSED, "Running"),
        (2, fixture("status_degraded.json"), "", True, minikube_cli.DEGRADED, "Running"),
        (0, fixture("status_multinode.json"), "", True, minikube_cli.RUNNING, "Running"),
        # minikube prints the not-found notice on stdout; older releases and wrappers on stderr.
        (85, NOT_FOUND, "", False, minikube_cli.ABSENT, None),
        (85, "", NOT_FOUND, False, minikube_cli.ABSENT, None),
        (7, "", "", False, minikube_cli.ABSENT, None),
        (1, "", 'There is no local cluster named "minikube"\n', False, minikube_cli.ABSENT, None),
        # everything up, kubeconfig not pointing at the cluster: bit 4
        (4, fixture("status_running.json").replace("Configured", "Misconfigured"), "", True, minikube_cli.DEGRADED, "Running"),
        (7, '{"Name":"x","Host":"Nonexistent","Kubelet":"Nonexistent","APIServer":"Nonexistent",'
            '"Kubeconfig":"Nonexistent","Worker":false}', "", False, minikube_cli.ABSENT, "Nonexistent"),
    ],
    ids=["running", "stopped", "paused", "degraded", "multinode", "not-found-stdout", "not-found-stderr",
         "empty", "nonexistent-json", "no-local-cluster", "kubeconfig-misconfigured"],
)
def test_parse_status(rc, stdout, stderr, exists, state, host):
    parsed = minikube_cli.parse_status(rc, stdout, stderr)
    assert parsed["exists"] is exists
    assert parsed["state"] == state
    assert parsed["rc"] == rc
    assert parsed["status"].get("Host") == host


def test_parse_status_multinode_reports_the_control_plane():
    parsed = minikube_cli.parse_status(0, fixture("status_multinode.json"), "")
    assert parsed["status"]["Name"] == "minikube"
    assert parsed["status"]["Worker"] is False


def test_parse_status_running_status_has_every_field():
    parsed = minikube_cli.parse_status(0, fixture("status_running.json"), "")
    assert set(parsed["status"]) == {"Name", "Host", "Kubelet", "APIServer", "Kubeconfig", "Worker"}


@pytest.mark.parametrize(
    "stderr, reason",
    [
        ("X Exiting due to PROVIDER_DOCKER_NOT_RUNNING: docker is not running", "PROVIDER_DOCKER_NOT_RUNNING"),
        # a missing driver binary is an error, not a missing profile
        ('X Exiting due to PROVIDER_DOCKER_NOT_FOUND: The \'docker\' provider was not found', "PROVIDER_DOCKER_NOT_FOUND"),
    ],
)
def test_parse_status_unreadable_output_raises(stderr, reason):
    with pytest.raises(MinikubeError) as err:
        minikube_cli.parse_status(1, "", stderr)
    assert reason in err.value.msg
    assert err.value.details["rc"] == 1


# --- parse_addons / parse_profile / memory_mb --------------------------------------------------


@pytest.mark.parametrize(
    "name, ingress, metrics_server",
    [("addons_list.json", False, True), ("addons_list_enabled.json", True, True)],
)
def test_parse_addons(name, ingress, metrics_server):
    addons = minikube_cli.parse_addons(fixture(name))
    assert addons["ingress"] is ingress
    assert addons["metrics-server"] is metrics_server
    assert addons["dashboard"] is False
    assert addons["storage-provisioner"] is True


@pytest.mark.parametrize("stdout", ["", "not json", "[]"])
def test_parse_addons_rejects_unreadable_output(stdout):
    with pytest.raises(MinikubeError):
        minikube_cli.parse_addons(stdout)


def test_parse_profile():
    config = minikube_cli.parse_profile(fixture("profile_list.json"), "minikube")
    assert config["CPUs"] == 2
    assert config["Memory"] == 4000
    assert config["Driver"] == "docker"
    assert minikube_cli.parse_profile(fixture("profile_list.json"), "other") == {}
    assert minikube_cli.parse_profile("", "minikube") == {}


@pytest.mark.parametrize(
    "value, expected",
    [("4096", 4096), ("4096mb", 4096), ("4096MB", 4096), ("4g", 4096), ("4GiB", 4096), ("8G", 8192), ("max", None)],
)
def test_memory_mb(value, expected):
    assert minikube_cli.memory_mb(value) == expected


# --- drift ---------------------------------------------------------------------------------------


def desired_params(**overrides):
    params = {"state": "started", "profile": "minikube", "driver": None, "cpus": None, "memory": None, "kubernetes_version": None,
              "addons": ["ingress", "metrics-server"], "extra_args": [], "minikube_path": MINIKUBE, "wait_timeout": 600}
    params.update(overrides)
    return params


@pytest.mark.parametrize(
    "overrides, options",
    [
        ({}, []),
        ({"cpus": 2, "memory": "4000mb", "driver": "docker", "kubernetes_version": "1.30.0"}, []),
        ({"kubernetes_version": "stable"}, []),
        ({"cpus": 4}, ["cpus"]),
        ({"memory": "8g"}, ["memory"]),
        ({"driver": "kvm2", "kubernetes_version": "v1.29.4"}, ["driver", "kubernetes_version"]),
    ],
)
def test_drift(overrides, options):
    config = minikube_cli.parse_profile(fixture("profile_list.json"), "minikube")
    warnings = minikube_cli.drift(desired_params(**overrides), config)
    assert len(warnings) == len(options)
    for option, warning in zip(options, warnings):
        assert "{0}=".format(option) in warning


# --- plan ----------------------------------------------------------------------------------------

RUNNING = minikube_cli.parse_status(0, fixture("status_running.json"), "")
STOPPED = minikube_cli.parse_status(7, fixture("status_stopped.json"), "")
PAUSED = minikube_cli.parse_status(2, fixture("status_paused.json"), "")
DEGRADED = minikube_cli.parse_status(2, fixture("status_degraded.json"), "")
ABSENT = minikube_cli.parse_status(85, NOT_FOUND, "")
ADDONS_PARTIAL = minikube_cli.parse_addons(fixture("addons_list.json"))
ADDONS_ENABLED = minikube_cli.parse_addons(fixture("addons_list_enabled.json"))

START = [MINIKUBE, "start", "-p", "minikube", "--wait=all", "--wait-timeout=600s"]
ENABLE_INGRESS = [MINIKUBE, "addons", "enable", "ingress", "-p", "minikube"]


@pytest.mark.parametrize(
    "state, status, addons, expected",
    [
        ("started", RUNNING, ADDONS_ENABLED, []),
        ("started", RUNNING, ADDONS_PARTIAL, [ENABLE_INGRESS]),
        ("started", STOPPED, ADDONS_PARTIAL, [START, ENABLE_INGRESS]),
        ("started", DEGRADED, ADDONS_ENABLED, [START]),
        ("started", PAUSED, ADDONS_ENABLED, [[MINIKUBE, "unpause", "-p", "minikube"]]),
        ("started", ABSENT, None, [START + ["--addons=ingress", "--addons=metrics-server"]]),
        ("stopped", RUNNING, ADDONS_ENABLED, [[MINIKUBE, "stop", "-p", "minikube"]]),
        ("stopped", DEGRADED, ADDONS_ENABLED, [[MINIKUBE, "stop", "-p", "minikube"]]),
        ("stopped", STOPPED, ADDONS_ENABLED, []),
        ("stopped", ABSENT, None, []),
        ("absent", RUNNING, ADDONS_ENABLED, [[MINIKUBE, "delete", "-p", "minikube"]]),
        ("absent", STOPPED, ADDONS_ENABLED, [[MINIKUBE, "delete", "-p", "minikube"]]),
        ("absent", ABSENT, None, []),
    ],
)
def test_plan(state, status, addons, expected):
    assert minikube_cli.plan(desired_params(state=state), {"status": status, "addons": addons}) == expected


def test_plan_start_carries_every_setting():
    desired = desired_params(profile="genai", driver="docker", cpus=4, memory="8g", kubernetes_version="v1.30.0",
                             addons=["ingress"], extra_args=["--container-runtime=containerd"], wait_timeout=300)
    assert minikube_cli.plan(desired, {"status": ABSENT, "addons": None}) == [[
        MINIKUBE, "start", "-p", "genai", "--driver=docker", "--cpus=4", "--memory=8g", "--kubernetes-version=v1.30.0",
        "--wait=all", "--wait-timeout=300s", "--addons=ingress", "--container-runtime=containerd",
    ]]


def test_plan_enables_every_addon_when_they_are_unknown():
    commands = minikube_cli.plan(desired_params(), {"status": STOPPED, "addons": None})
    assert commands[1:] == [ENABLE_INGRESS, [MINIKUBE, "addons", "enable", "metrics-server", "-p", "minikube"]]


# --- the module, end to end ----------------------------------------------------------------------


class FakeMinikube(object):
    """Answers ``minikube`` argv with recorded outputs; mutating commands change its state."""

    def __init__(self, state="running", addons="addons_list_enabled.json", fail=None):
        self.state = state
        self.addons = json.loads(fixture(addons))
        self.fail = fail or {}
        self.calls = []

    def status(self):
        if self.state == "absent":
            return 85, NOT_FOUND, ""
        if self.state == "stopped":
            return 7, fixture("status_stopped.json"), ""
        return 0, fixture("status_running.json"), ""

    def __call__(self, module, args, **kwargs):
        assert isinstance(args, list) and args[0] == MINIKUBE
        assert kwargs.get("environ_update") == {"MINIKUBE_IN_STYLE": "false"}
        self.calls.append(args[1:])
        verb = args[1]
        if verb in self.fail:
            return self.fail[verb]
        if verb == "status":
            return self.status()
        if verb == "addons" and args[2] == "list":
            if self.state == "absent":
                return 85, NOT_FOUND, ""
            return 0, json.dumps(self.addons), ""
        if verb == "addons" and args[2] == "enable":
            self.addons[args[3]]["Status"] = "enabled"
            return 0, "The '{0}' addon is enabled\n".format(args[3]), ""
        if verb == "profile":
            return 0, fixture("profile_list.json"), ""
        if verb == "ip":
            assert self.state == "running"
            return 0, "192.168.49.2\n", ""
        if verb == "start":
            self.state = "running"
            for arg in args:
                if arg.startswith("--addons="):
                    self.addons[arg.split("=", 1)[1]]["Status"] = "enabled"
            return 0, "Done! kubectl is now configured to use \"minikube\" cluster\n", ""
        if verb == "stop":
            self.state = "stopped"
            return 0, "1 node stopped.\n", ""
        if verb == "delete":
            self.state = "absent"
            self.addons = json.loads(fixture("addons_list.json"))
            return 0, "Removed all traces of the \"minikube\" cluster.\n", ""
        raise AssertionError("unexpected call {0}".format(args))

    def mutating(self):
        return [call for call in self.calls if call[0] in MUTATING or call[:2] == ["addons", "enable"]]


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def run_module(monkeypatch, fake, check_mode=False, warnings=None, **params):
    def exit_json(self, **result):
        raise ExitJson(result)

    def fail_json(self, **result):
        raise FailJson(result)

    def run_command(module_self, args, **kwargs):
        return fake(module_self, args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: MINIKUBE)
    if warnings is not None:
        monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    args = dict(params)
    if check_mode:
        args["_ansible_check_mode"] = True
    with patch_module_args(args):
        with pytest.raises((ExitJson, FailJson)) as outcome:
            minikube.main()
    return outcome.type is FailJson, outcome.value.args[0]


def test_running_with_addons_enabled_is_unchanged(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake)
    assert not failed
    assert result["changed"] is False
    assert result["commands"] == []
    assert fake.mutating() == []
    assert result["addons"] == {"ingress": True, "metrics-server": True}
    assert result["ip"] == "192.168.49.2"
    assert result["kube_context"] == "minikube"
    assert result["status"]["APIServer"] == "Running"


def test_running_enables_only_the_disabled_addon(monkeypatch):
    fake = FakeMinikube(state="running", addons="addons_list.json")
    failed, result = run_module(monkeypatch, fake)
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["addons", "enable", "ingress", "-p", "minikube"]]
    assert result["commands"] == [MINIKUBE + " addons enable ingress -p minikube"]
    assert result["addons"] == {"ingress": True, "metrics-server": True}
    # a second run converges
    failed, result = run_module(monkeypatch, fake)
    assert result["changed"] is False


@pytest.mark.parametrize("state", ["absent", "stopped"])
def test_started_from_absent_or_stopped(monkeypatch, state):
    fake = FakeMinikube(state=state, addons="addons_list.json")
    failed, result = run_module(monkeypatch, fake, profile="minikube", cpus=2)
    assert not failed and result["changed"] is True
    assert fake.mutating()[0][:3] == ["start", "-p", "minikube"]
    assert "--cpus=2" in fake.mutating()[0] and "--wait=all" in fake.mutating()[0]
    assert fake.state == "running"
    assert result["addons"] == {"ingress": True, "metrics-server": True}
    assert result["ip"] == "192.168.49.2"
    assert result["status"]["Host"] == "Running"


@pytest.mark.parametrize(
    "start, params, expected",
    [
        ("absent", {}, [MINIKUBE + " start -p minikube --wait=all --wait-timeout=600s --addons=ingress --addons=metrics-server"]),
        ("running", {"state": "stopped"}, [MINIKUBE + " stop -p minikube"]),
        ("running", {"state": "absent"}, [MINIKUBE + " delete -p minikube"]),
        ("stopped", {"state": "absent"}, [MINIKUBE + " delete -p minikube"]),
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


def test_absent_deletes_an_existing_profile(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, state="absent")
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["delete", "-p", "minikube"]]
    assert result["status"] == {} and result["addons"] == {} and "ip" not in result
    failed, result = run_module(monkeypatch, fake, state="absent")
    assert result["changed"] is False and fake.mutating() == [["delete", "-p", "minikube"]]


def test_stopped_stops_a_running_profile_once(monkeypatch):
    fake = FakeMinikube(state="running")
    failed, result = run_module(monkeypatch, fake, state="stopped")
    assert not failed and result["changed"] is True
    assert fake.mutating() == [["stop", "-p", "minikube"]]
    assert result["status"]["Host"] == "Stopped" and "ip" not in result
    failed, result = run_module(monkeypatch, fake, state="stopped")
    assert result["changed"] is False and len(fake.mutating()) == 1


def test_different_settings_on_existing_profile_warn_without_recreate(monkeypatch):
    fake = FakeMinikube(state="running")
    warnings = []
    failed, result = run_module(monkeypatch, fake, warnings=warnings, cpus=8, memory="16g")
    assert not failed and result["changed"] is False
    assert fake.mutating() == []
    assert len(warnings) == 2
    assert any("cpus=2" in w for w in warnings) and any("memory=4000mb" in w for w in warnings)


def test_failed_command_reports_command_rc_and_stderr(monkeypatch):
    stderr = "X Exiting due to PROVIDER_DOCKER_NOT_RUNNING: \"docker version\" exit status 1\n"
    fake = FakeMinikube(state="absent", fail={"start": (69, "", stderr)})
    failed, result = run_module(monkeypatch, fake)
    assert failed
    assert result["rc"] == 69
    assert result["stderr"] == stderr
    assert result["cmd"].startswith(MINIKUBE + " start -p minikube")
    assert "PROVIDER_DOCKER_NOT_RUNNING" in result["msg"]


def test_unreadable_status_fails(monkeypatch):
    fake = FakeMinikube(fail={"status": (1, "", "permission denied: /home/user/.minikube")})
    failed, result = run_module(monkeypatch, fake)
    assert failed
    assert result["rc"] == 1 and "permission denied" in result["msg"]
    assert result["cmd"] == MINIKUBE + " status -p minikube -o json"
    assert fake.mutating() == []


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


def test_plan_wait_timeout_zero_keeps_minikube_default():
    command = minikube_cli.plan(desired_params(wait_timeout=0), {"status": ABSENT, "addons": None})[0]
    assert "--wait=all" in command
    assert not [arg for arg in command if arg.startswith("--wait-timeout")]


def test_parse_status_reports_cloudevents_error_message():
    event = ('{"specversion":"1.0","id":"1","source":"https://minikube.sigs.k8s.io/","type":"io.k8s.sigs.minikube.error",'
             '"datacontenttype":"application/json","data":{"exitcode":"80","message":"Unable to get control-plane node status",'
             '"name":"GUEST_STATUS"}}')
    with pytest.raises(MinikubeError) as err:
        minikube_cli.parse_status(80, event + "\n", "")
    assert "Unable to get control-plane node status" in err.value.msg

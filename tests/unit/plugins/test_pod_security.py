# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Pod Security Standards checks (plugins/module_utils/pod_security.py) and their use by
the preflight of genai.stack.apply for a namespace that does not exist yet (issue 9, case G).

Expected reasons and details are the words of the API server's PodSecurity admission
(k8s.io/pod-security-admission ``policy/check_*.go``), as its "would violate PodSecurity"
warnings and pod refusals print them: every case of CASES that is a valid pod (all but
host-process and proc-mount, which the API server's validation refuses first) was
dry-run on a v1.34 API server at warn=restricted and warn=baseline and its warning was the
exact string ``violation()`` makes.
"""

import copy

import pytest

from ansible_collections.genai.stack.plugins.module_utils import pod_security
from ansible_collections.genai.stack.plugins.module_utils.apply_engine import Applier
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

from test_apply import FakeServer, actions, params, statefulset

NS = "shop"


def restricted_spec():
    """A pod spec as the renderer writes it for a component with run_as_non_root."""
    return {"securityContext": {"runAsNonRoot": True, "runAsUser": 999, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "redis", "image": "redis:1",
                            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                        {"name": "config", "configMap": {"name": "redis"}}]}


def container_context(spec):
    return spec["containers"][0]["securityContext"]


# case -> (change to the restricted spec, check ID, reason, detail, refused at baseline too)
CASES = {
    "no-runAsNonRoot": (lambda s: s["securityContext"].pop("runAsNonRoot"), "runAsNonRoot", "runAsNonRoot != true",
                        'pod or container "redis" must set securityContext.runAsNonRoot=true', False),
    "runAsNonRoot-false": (lambda s: s["securityContext"].update(runAsNonRoot=False), "runAsNonRoot",
                           "runAsNonRoot != true", "pod must not set securityContext.runAsNonRoot=false", False),
    "runAsUser-0": (lambda s: container_context(s).update(runAsUser=0), "runAsUser", "runAsUser=0",
                    'container "redis" must not set runAsUser=0', False),
    "privilege-escalation": (lambda s: container_context(s).pop("allowPrivilegeEscalation"), "allowPrivilegeEscalation",
                             "allowPrivilegeEscalation != false",
                             'container "redis" must set securityContext.allowPrivilegeEscalation=false', False),
    "no-drop-all": (lambda s: container_context(s).pop("capabilities"), "capabilities_restricted",
                    "unrestricted capabilities", 'container "redis" must set securityContext.capabilities.drop=["ALL"]',
                    False),
    "add-chown": (lambda s: container_context(s)["capabilities"].update(add=["CHOWN"]), "capabilities_restricted",
                  "unrestricted capabilities", 'container "redis" must not include "CHOWN" in '
                  "securityContext.capabilities.add", False),
    "no-seccomp": (lambda s: s["securityContext"].pop("seccompProfile"), "seccompProfile_restricted", "seccompProfile",
                   'pod or container "redis" must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                   '"Localhost"', False),
    "emptydir-and-nfs": (lambda s: s["volumes"].append({"name": "share", "nfs": {"server": "x", "path": "/"}}),
                         "restrictedVolumes", "restricted volume types",
                         'volume "share" uses restricted volume type "nfs"', False),
    "privileged": (lambda s: container_context(s).update(privileged=True, allowPrivilegeEscalation=None),
                   "privileged", "privileged",
                   'container "redis" must not set securityContext.privileged=true', True),
    "host-network": (lambda s: s.update(hostNetwork=True, hostPID=True), "hostNamespaces", "host namespaces",
                     "hostNetwork=true, hostPID=true", True),
    "host-port": (lambda s: s["containers"][0].update(ports=[{"containerPort": 6379, "hostPort": 6379}]), "hostPorts",
                  "hostPort", 'container "redis" uses hostPort 6379', True),
    "host-path": (lambda s: s["volumes"].append({"name": "logs", "hostPath": {"path": "/var/log"}}), "hostPathVolumes",
                  "hostPath volumes", 'volume "logs"', True),
    "net-admin": (lambda s: container_context(s)["capabilities"].update(add=["NET_ADMIN"]), "capabilities_baseline",
                  "non-default capabilities",
                  'container "redis" must not include "NET_ADMIN" in securityContext.capabilities.add', True),
    "unconfined-seccomp": (lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}),
                           "seccompProfile_baseline", "seccompProfile",
                           'pod must not set securityContext.seccompProfile.type to "Unconfined"', True),
    "proc-mount": (lambda s: container_context(s).update(procMount="Unmasked"), "procMount", "procMount",
                   'container "redis" must not set securityContext.procMount to "Unmasked"', True),
    "sysctl": (lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "sysctls",
               "forbidden sysctls", "kernel.msgmax", True),
    "selinux-user": (lambda s: s["securityContext"].update(seLinuxOptions={"user": "system_u"}), "seLinuxOptions",
                     "seLinuxOptions", 'pod set forbidden securityContext.seLinuxOptions: user may not be set', True),
    "host-process": (lambda s: container_context(s).update(windowsOptions={"hostProcess": True}), "hostProcess",
                     "hostProcess", 'container "redis" must not set securityContext.windowsOptions.hostProcess=true',
                     True),
    "apparmor-unconfined": (lambda s: s["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
                            "appArmorProfile", "forbidden AppArmor profile",
                            'pod must not set AppArmor profile type to "Unconfined"', True),
}


def test_the_renderers_restricted_pod_is_allowed_at_every_level():
    for level in pod_security.LEVELS:
        assert pod_security.evaluate(level, "latest", {}, restricted_spec()) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_check_names_what_the_api_server_names(case):
    change, check_id, reason, detail, baseline_too = CASES[case]
    spec = restricted_spec()
    change(spec)
    level = "baseline" if baseline_too else "restricted"
    assert pod_security.evaluate(level, "latest", {}, spec) == [(check_id, reason, detail)]
    assert pod_security.evaluate("restricted", "latest", {}, spec) != []
    assert bool(pod_security.evaluate("baseline", "latest", {}, spec)) is baseline_too
    assert pod_security.evaluate("privileged", "latest", {}, spec) == []


@pytest.mark.parametrize("case, restricted", [
    ("host-path", ("restrictedVolumes", "restricted volume types", 'volume "logs" uses restricted volume type "hostPath"')),
    ("net-admin", ("capabilities_restricted", "unrestricted capabilities",
                   'container "redis" must not include "NET_ADMIN" in securityContext.capabilities.add')),
    ("unconfined-seccomp", ("seccompProfile_restricted", "seccompProfile",
                            'pod must not set securityContext.seccompProfile.type to "Unconfined"'))])
def test_restricted_checks_replace_their_baseline_counterparts(case, restricted):
    spec = restricted_spec()
    CASES[case][0](spec)
    assert pod_security.evaluate("restricted", "latest", {}, spec) == [restricted]


def test_a_pod_without_security_context_fails_four_restricted_checks_in_the_api_servers_words():
    spec = {"containers": [{"name": "redis", "image": "redis:1"}, {"name": "exporter", "image": "exporter:1"}]}
    findings = pod_security.evaluate("restricted", "latest", {}, spec)
    assert [f[0] for f in findings] == ["allowPrivilegeEscalation", "capabilities_restricted", "runAsNonRoot",
                                        "seccompProfile_restricted"]
    assert pod_security.violation("restricted", "latest", findings).startswith(
        'would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (containers "redis", '
        '"exporter" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities')
    assert pod_security.evaluate("baseline", "latest", {}, spec) == []


def test_init_containers_are_checked_and_container_settings_win_over_the_pods():
    spec = restricted_spec()
    spec["initContainers"] = [{"name": "wait-for-mysql", "image": "busybox:1",
                               "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": False,
                                                   "capabilities": {"drop": ["ALL"]}}}]
    assert pod_security.evaluate("restricted", "latest", {}, spec) == [
        ("runAsNonRoot", "runAsNonRoot != true",
         'container "wait-for-mysql" must not set securityContext.runAsNonRoot=false')]
    spec["securityContext"].pop("runAsNonRoot")
    spec["initContainers"][0]["securityContext"]["runAsNonRoot"] = True
    assert pod_security.evaluate("restricted", "latest", {}, spec)[0][2] == (
        'pod or container "redis" must set securityContext.runAsNonRoot=true')


def test_windows_pods_are_exempt_from_the_linux_only_restricted_checks():
    spec = {"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "iis", "image": "iis:1"}]}
    assert pod_security.evaluate("restricted", "latest", {}, spec) == []


def test_version_leaves_out_rules_newer_than_it():
    spec = restricted_spec()
    spec["securityContext"]["sysctls"] = [{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]
    assert pod_security.evaluate("baseline", "latest", {}, spec) == []
    assert pod_security.evaluate("baseline", "v1.34", {}, spec) == []
    assert pod_security.evaluate("baseline", "v1.31", {}, spec) == [
        ("sysctls", "forbidden sysctls", "net.ipv4.tcp_rmem")]


@pytest.mark.parametrize("level, version", [("strict", "latest"), ("restricted", "1.30"), ("baseline", "v2.0")])
def test_unknown_level_or_version_raises(level, version):
    with pytest.raises(ValueError):
        pod_security.evaluate(level, version, {}, {})


@pytest.mark.parametrize("kind, path", [
    ("Deployment", ("spec", "template")), ("StatefulSet", ("spec", "template")), ("DaemonSet", ("spec", "template")),
    ("Job", ("spec", "template")), ("CronJob", ("spec", "jobTemplate", "spec", "template")), ("Pod", ())])
def test_pod_template_of_each_workload_kind(kind, path):
    template = {"metadata": {"annotations": {"a": "b"}}, "spec": restricted_spec()}
    obj = template
    for key in reversed(path):
        obj = {key: obj}
    obj = dict(obj, kind=kind)
    assert pod_security.pod_template(obj) == ({"annotations": {"a": "b"}}, restricted_spec())
    assert pod_security.pod_template({"kind": "Service", "spec": {}}) is None


# --------------------------------------------------------------------------------------------
# the preflight of a namespace that does not exist yet


def namespace(labels=None):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": labels or {}}}


def redis(pod_context=None):
    obj = statefulset()
    spec = obj["spec"]["template"]["spec"]
    spec.update(restricted_spec(), containers=restricted_spec()["containers"], volumes=[])
    if pod_context is not None:
        spec["securityContext"] = pod_context
    return obj


def run(server, definitions, **options):
    check_mode = options.pop("check_mode", False)
    return Applier(server, params(definitions=definitions, **options), check_mode=check_mode,
                   sleep=lambda s: None).run()


@pytest.mark.parametrize("check_mode", [True, False])
def test_fresh_namespace_refuses_what_its_enforce_level_would_refuse_with_nothing_applied(check_mode):
    # case G: Redis with security_context {} (no runAsNonRoot) in a fresh restricted namespace
    server = FakeServer(namespaces=("default",))
    labels = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}
    with pytest.raises(GenaiStackError) as err:
        run(server, [namespace(labels), redis(pod_context={"seccompProfile": {"type": "RuntimeDefault"}})],
            check_mode=check_mode)
    refusals = err.value.details["refusals"]
    assert len(refusals) == 1
    refusal = refusals[0]
    assert (refusal["component"], refusal["kind"], refusal["name"], refusal["field"], refusal["reason"]) == (
        "redis", "StatefulSet", "redis", "spec.template.spec", "forbidden by PodSecurity")
    assert refusal["message"] == (
        'redis: StatefulSet redis: its pods would be refused by PodSecurity restricted of namespace shop: would '
        'violate PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "redis" must set '
        'securityContext.runAsNonRoot=true)')
    assert "security_context" in refusal["remedy"]
    assert server.writes() == []


def test_fresh_namespace_refusal_reads_as_the_api_servers_warning_refusal():
    # the same pod refused by the real admission (a namespace that exists, its warning) and
    # by the evaluation of a fresh namespace gives the same refusal
    pod_context = {"seccompProfile": {"type": "RuntimeDefault"}}
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    fresh = FakeServer(namespaces=("default",))
    with pytest.raises(GenaiStackError) as fresh_err:
        run(fresh, [namespace(labels), redis(pod_context)])
    existing = FakeServer()
    existing.objects["/api/v1/namespaces/shop"]["metadata"]["labels"] = labels
    spec = redis(pod_context)["spec"]["template"]["spec"]
    warning = pod_security.violation("restricted", "latest", pod_security.evaluate("restricted", "latest", {}, spec))
    existing.warnings["/apis/apps/v1/namespaces/shop/statefulsets/redis"] = [warning]
    with pytest.raises(GenaiStackError) as existing_err:
        run(existing, [namespace(labels), redis(pod_context)])
    assert fresh_err.value.details["refusals"] == existing_err.value.details["refusals"]


@pytest.mark.parametrize("labels", [
    {}, {"pod-security.kubernetes.io/enforce": "privileged"}, {"pod-security.kubernetes.io/enforce": "baseline"},
    {"pod-security.kubernetes.io/warn": "restricted"}])
def test_fresh_namespace_that_does_not_enforce_the_failing_level_accepts(labels):
    server = FakeServer(namespaces=("default",))
    result = run(server, [namespace(labels), redis(pod_context={})])
    assert actions(result) == {("Namespace", NS): "created", ("StatefulSet", "redis"): "created"}


def test_fresh_namespace_with_a_restricted_pod_is_created():
    server = FakeServer(namespaces=("default",))
    labels = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.34"}
    result = run(server, [namespace(labels), redis()])
    assert actions(result) == {("Namespace", NS): "created", ("StatefulSet", "redis"): "created"}


def test_cronjob_in_a_fresh_namespace_names_its_pod_template_field():
    server = FakeServer(namespaces=("default",))
    spec = copy.deepcopy(restricted_spec())
    spec["containers"][0]["securityContext"]["privileged"] = True
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob",
               "metadata": {"name": "cleanup", "namespace": NS, "labels": {"app.kubernetes.io/name": "cleanup"}},
               "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}}}
    with pytest.raises(GenaiStackError) as err:
        run(server, [namespace({"pod-security.kubernetes.io/enforce": "baseline"}), cronjob])
    refusal = err.value.details["refusals"][0]
    assert (refusal["component"], refusal["field"]) == ("cleanup", "spec.jobTemplate.spec.template.spec")
    assert 'privileged (container "redis" must not set securityContext.privileged=true)' in refusal["message"]


def test_fresh_namespace_with_an_unknown_version_label_is_refused():
    server = FakeServer(namespaces=("default",))
    labels = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "1.30"}
    with pytest.raises(GenaiStackError) as err:
        run(server, [namespace(labels), redis()])
    assert err.value.details["refusals"][0]["field"] == "metadata.labels"
    assert server.writes() == []


def test_existing_namespace_is_left_to_the_api_servers_admission():
    # the namespace exists: only the API server's warnings count, not this module's rules
    server = FakeServer()
    server.objects["/api/v1/namespaces/shop"]["metadata"]["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
    result = run(server, [redis(pod_context={})])
    assert actions(result) == {("StatefulSet", "redis"): "created"}


def test_apparmor_annotation_of_the_pod_template_is_checked():
    metadata = {"annotations": {"container.apparmor.security.beta.kubernetes.io/redis": "unconfined"}}
    assert pod_security.evaluate("baseline", "latest", metadata, restricted_spec()) == [
        ("appArmorProfile", "forbidden AppArmor profile",
         'container.apparmor.security.beta.kubernetes.io/redis="unconfined"')]
    metadata["annotations"]["container.apparmor.security.beta.kubernetes.io/redis"] = "localhost/redis"
    assert pod_security.evaluate("restricted", "latest", metadata, restricted_spec()) == []


def test_selinux_types_by_version():
    spec = restricted_spec()
    container_context(spec)["seLinuxOptions"] = {"type": "container_engine_t"}
    assert pod_security.evaluate("baseline", "latest", {}, spec) == []
    assert pod_security.evaluate("baseline", "v1.30", {}, spec) == [
        ("seLinuxOptions", "seLinuxOptions",
         'container "redis" set forbidden securityContext.seLinuxOptions: type "container_engine_t"')]


def test_findings_come_in_the_api_servers_order_baseline_checks_first():
    # as the API server (v1.34) printed it for this pod at restricted
    spec = restricted_spec()
    container_context(spec).update(privileged=True, allowPrivilegeEscalation=None)
    assert pod_security.violation("restricted", "latest", pod_security.evaluate("restricted", "latest", {}, spec)) == (
        'would violate PodSecurity "restricted:latest": privileged (container "redis" must not set '
        'securityContext.privileged=true), allowPrivilegeEscalation != false (container "redis" must set '
        'securityContext.allowPrivilegeEscalation=false)')

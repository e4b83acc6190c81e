"""Graceful shutdown: lifecycle hooks and the grace period of a component, rendered as
Kubernetes has them and refused (naming the variable) where the kubelet would misbehave."""

import pytest
from ansible_collections.genai.stack.plugins.module_utils import render
from ansible_collections.genai.stack.plugins.module_utils.system import System, SystemDefinitionError, resolve_secrets
from systems import load


def pod_spec_of(components, settings, name):
    system = System(components, settings)
    manifest = render.workload(system, system.components[name], resolve_secrets(system, []))
    if manifest["kind"] == "CronJob":
        return manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return manifest["spec"]["template"]["spec"]


def errors_of(components, settings):
    with pytest.raises(SystemDefinitionError) as err:
        System(components, settings)
    return err.value.errors


def test_nothing_is_rendered_by_default():
    components, settings = load("genai")
    spec = pod_spec_of(components, settings, "gateway")
    assert "terminationGracePeriodSeconds" not in spec
    assert "lifecycle" not in spec["containers"][0]


@pytest.mark.parametrize("hook, rendered", [
    ({"sleep": {"seconds": 5}}, {"sleep": {"seconds": 5}}),
    ({"sleep": {"seconds": "5"}}, {"sleep": {"seconds": 5}}),
    ({"exec": ["sh", "-c", "kill -USR1 1"]}, {"exec": {"command": ["sh", "-c", "kill -USR1 1"]}}),
    ({"exec": {"command": ["/bin/drain", 10]}}, {"exec": {"command": ["/bin/drain", "10"]}}),
    ({"http_get": {}}, {"httpGet": {"path": "/", "port": "http"}}),
    ({"http_get": {"path": "/drain", "port": 8000, "scheme": "HTTP",
                   "http_headers": [{"name": "X-Drain", "value": "1"}]}},
     {"httpGet": {"httpHeaders": [{"name": "X-Drain", "value": "1"}], "path": "/drain", "port": 8000,
                  "scheme": "HTTP"}}),
    ({"http_get": {"path": "/drain", "port": "http"}}, {"httpGet": {"path": "/drain", "port": "http"}}),
])
def test_hooks_render_as_kubernetes_lifecycle_handlers(hook, rendered):
    components, settings = load("genai")
    components["gateway"]["lifecycle"] = {"pre_stop": hook, "post_start": hook}
    container = pod_spec_of(components, settings, "gateway")["containers"][0]
    assert container["lifecycle"] == {"postStart": rendered, "preStop": rendered}


def test_grace_period_is_a_pod_field_next_to_the_pre_stop_sleep():
    components, settings = load("genai")
    components["gateway"].update(termination_grace_period_seconds=45,
                                 lifecycle={"pre_stop": {"sleep": {"seconds": 10}}, "post_start": None})
    spec = pod_spec_of(components, settings, "gateway")
    assert spec["terminationGracePeriodSeconds"] == 45
    assert spec["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 10}}}
    # the escape hatches still win
    components["gateway"]["pod_spec"] = {"terminationGracePeriodSeconds": 60}
    assert pod_spec_of(components, settings, "gateway")["terminationGracePeriodSeconds"] == 60


def test_a_statefulset_and_a_cronjob_get_them_too():
    components, settings = load("genai")
    components["mysql"].update(termination_grace_period_seconds=120,
                               lifecycle={"pre_stop": {"exec": ["mysqladmin", "shutdown"]}})
    spec = pod_spec_of(components, settings, "mysql")
    assert spec["terminationGracePeriodSeconds"] == 120
    assert spec["containers"][0]["lifecycle"] == {"preStop": {"exec": {"command": ["mysqladmin", "shutdown"]}}}
    components["gc"] = {"tier": "worker", "workload": "CronJob", "schedule": "@hourly",
                        "image": {"repository": "busybox", "tag": "1.36"}, "termination_grace_period_seconds": 5}
    assert pod_spec_of(components, settings, "gc")["terminationGracePeriodSeconds"] == 5


@pytest.mark.parametrize("lifecycle, grace, problems", [
    ({"pre_stop": {"sleep": {"seconds": 5}, "exec": ["true"]}}, None,
     ["genai_components.gateway.lifecycle.pre_stop: give exactly one handler (sleep, exec or http_get), "
      "got sleep and exec"]),
    ({"post_start": {}}, None,
     ["genai_components.gateway.lifecycle.post_start: give exactly one handler (sleep, exec or http_get), got none"]),
    ({"pre_stop": {"tcp_socket": {"port": 8000}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.tcp_socket: unknown field (known fields: exec, http_get, sleep)",
      "genai_components.gateway.lifecycle.pre_stop: give exactly one handler (sleep, exec or http_get), got none"]),
    ({"pre_stop": {"http_get": {"path": "/drain", "port": "web"}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.http_get.port: 'web' names no port of the component "
      "(its ports: http)"]),
    ({"pre_stop": {"http_get": {"path": "drain"}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.http_get.path: must start with '/', got 'drain'"]),
    ({"pre_stop": {"sleep": {"seconds": 0}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.sleep.seconds: expected an integer >= 1, got 0"]),
    ({"pre_stop": {"sleep": {}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.sleep.seconds: required"]),
    ({"pre_stop": {"sleep": {"seconds": 30}}}, None,
     ["genai_components.gateway.lifecycle.pre_stop.sleep.seconds: sleeps 30 s, but the pod has only 30 s to stop "
      "(termination_grace_period_seconds, default 30): the application would be killed before it gets SIGTERM; "
      "sleep less or raise termination_grace_period_seconds"]),
    ({"pre_stop": {"sleep": {"seconds": 20}}}, 15,
     ["genai_components.gateway.lifecycle.pre_stop.sleep.seconds: sleeps 20 s, but the pod has only 15 s to stop "
      "(termination_grace_period_seconds): the application would be killed before it gets SIGTERM; "
      "sleep less or raise termination_grace_period_seconds"]),
    ({"pre_stop": {"sleep": {"seconds": 40}}}, 60, []),
    ({"pre_stop": {"sleep": {"seconds": 5}}}, -1,
     ["genai_components.gateway.termination_grace_period_seconds: expected an integer >= 0, got -1"]),
    ({"prestop": {"sleep": {"seconds": 5}}}, None,
     ["genai_components.gateway.lifecycle.prestop: unknown field (known fields: post_start, pre_stop)"]),
])
def test_what_the_kubelet_would_misbehave_on_is_refused_naming_the_variable(lifecycle, grace, problems):
    components, settings = load("genai")
    components["gateway"]["lifecycle"] = lifecycle
    if grace is not None:
        components["gateway"]["termination_grace_period_seconds"] = grace
    if problems:
        assert errors_of(components, settings) == problems
    else:
        System(components, settings)


def test_a_component_without_ports_needs_an_http_get_port():
    components, settings = load("genai")
    components["worker"]["lifecycle"] = {"pre_stop": {"http_get": {"path": "/drain"}}}
    assert errors_of(components, settings) == [
        "genai_components.worker.lifecycle.pre_stop.http_get.port: required for a component without ports"]

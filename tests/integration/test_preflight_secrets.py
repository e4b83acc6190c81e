"""The preflight dry-runs the Secrets too, and the Grafana admin Secret is the renderer's (issue 9).

Small systems layered over inventories/local (``-e @vars``: no Ingress, none of the genai
system's overrides), each in its own namespace ``<prefix>sec-*`` (prefix ``t-``, or
GENAI_TEST_NAMESPACE_PREFIX):

- fresh: a Secret the API server refuses (an extra Secret of type kubernetes.io/tls without
  ``tls.crt``) stops site.yml in the preflight, naming the Secret, its component and why;
  the namespace is never created, and no secret value appears in the output (plain or base64);
- live: on a system whose foundation is applied, check mode reports the Secrets (counts only);
  then an immutable Secret whose value changes, and a Secret whose ``type`` differs from the
  rendered one, stop the run in the preflight: the ConfigMap changed in the same run and the
  Secret keep their values, nothing else is created, no value is printed;
- quota: a ResourceQuota on secrets that a new Secret would exceed stops the run the same way;
- grafana: a grafana-secrets as the monitoring role created it before keeps its password
  through the foundation and monitoring tiers, render.yml with genai_render_secrets writes that
  value (and prints none), and teardown without purge keeps the Secret.

Needs the test images localhost/genai-stack-test/{app,prometheus,grafana}:1.0.0.
"""
import base64
import json
import os
import subprocess
import time

import yaml
from clusterlib import ANSIBLE_PLAYBOOK, NAMESPACE_PREFIX, REPO, namespace_exists, needs_cluster, system_vars
from clusterlib import kubectl as run_kubectl

pytestmark = needs_cluster

PREFIX = NAMESPACE_PREFIX
OUTPUT = os.path.join(REPO, "tests", "output", "preflight-secrets")
APP = {"repository": "localhost/genai-stack-test/app", "tag": "1.0.0"}
SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
NON_ROOT = {"run_as_non_root": True, "run_as_user": 1000, "run_as_group": 1000, "fs_group": 1000}
REFUSED = "The API server would refuse 1 object(s); nothing was applied"


def kubectl(*args, check=True):
    return run_kubectl(*args, check=check, timeout=300)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def playbook(variables, *playbooks_and_args):
    """ansible-playbook -v on inventories/local with ``variables`` as extra vars: (rc, output), every run
    of whitespace in the output made one space (the YAML callback wraps long messages where their
    length puts a line end)."""
    os.makedirs(OUTPUT, exist_ok=True)
    vars_file = os.path.join(OUTPUT, "{}-{}.yml".format(variables["genai_namespace"], int(time.time() * 1000)))
    with open(vars_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump(variables, handle)
    cmd = [ANSIBLE_PLAYBOOK, *playbooks_and_args, "-v", "-i", "inventories/local", "-e", "@" + vars_file]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200, check=False)
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def assert_no_value(output, *values):
    for value in values:
        for form in (value, b64(value)):
            assert form not in output, f"a secret value ({form[:4]}...) appears in the output"


def purge(namespace):
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)


def api(**extra):
    record = {"tier": "backend", "image": dict(APP), "ports": [{"name": "http", "port": 8000}],
              "health_path": "/healthz", "resources": SMALL, "security_context": NON_ROOT}
    record.update(extra)
    return record


def get(namespace, kind, name):
    proc = kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def test_fresh_system_with_a_refused_secret_applies_nothing():
    namespace = PREFIX + "sec-fresh"
    component_value, tls_value = "fresh-api-key-7Hq2Zt9", "fresh-tls-key-Pw4Lx8"
    variables = system_vars(namespace, namespace, {"api": api(secrets={"API_KEY": {"value": component_value}})},
                            foundation_extra_secrets=[{
                                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                                "metadata": {"name": "api-tls", "labels": {"app.kubernetes.io/name": "api"}},
                                "data": {"tls.key": b64(tls_value)}}])
    purge(namespace)
    try:
        rc, out = playbook(variables, "site.yml")
        assert rc != 0, out[-6000:]
        assert REFUSED in out, out[-6000:]
        assert "api: Secret api-tls: HTTP 422" in out and "tls.crt" in out, out[-6000:]
        assert "preflight | Fail naming the Secrets the API server would refuse" in out
        assert "Apply the tier with server-side apply" not in out, "a tier was applied"
        assert not namespace_exists(namespace), f"namespace {namespace} was created"
        assert_no_value(out, component_value, tls_value)
    finally:
        purge(namespace)


def test_live_system_secret_refusals_change_nothing():
    namespace = PREFIX + "sec-live"
    first, second = "live-api-key-Kd82Lm3q", "live-api-key-Zr51Np7w"
    before = system_vars(namespace, namespace, {"api": api(env={"LEVEL": "info"}, secrets={"API_KEY": {"value": first}})})
    after = system_vars(namespace, namespace, {"api": api(env={"LEVEL": "debug"}, secrets={"API_KEY": {"value": second}})})
    purge(namespace)
    try:
        rc, out = playbook(before, os.path.join("playbooks", "foundation.yml"))
        assert rc == 0, out[-6000:]
        assert_no_value(out, first)

        # check mode: the preflight is the report, the Secrets counted
        rc, out = playbook(before, os.path.join("playbooks", "validate.yml"), "--check")
        assert rc == 0, out[-6000:]
        assert "and 1 Secrets (unchanged 1)" in " ".join(out.split()), out[-4000:]
        assert_no_value(out, first)

        # an immutable Secret whose value changes: refused, nothing of the run applied
        kubectl("-n", namespace, "patch", "secret", "api-secrets", "--type=merge", "-p", '{"immutable": true}')
        rc, out = playbook(after, "site.yml")
        assert rc != 0, out[-6000:]
        assert REFUSED in out and "api: Secret api-secrets: " in out, out[-6000:]
        assert "immutable field" in out, out[-6000:]
        assert get(namespace, "configmap", "api-config")["data"] == {"LEVEL": "info"}
        assert get(namespace, "secret", "api-secrets")["data"] == {"API_KEY": b64(first)}
        assert get(namespace, "deployment", "api") is None, "the backend tier was applied"
        assert_no_value(out, first, second)

        # a Secret whose type is not the rendered one (type is immutable): refused
        live = get(namespace, "secret", "api-secrets")
        kubectl("-n", namespace, "delete", "secret", "api-secrets")
        replaced = {"apiVersion": "v1", "kind": "Secret", "type": "example.com/other",
                    "metadata": {"name": "api-secrets", "namespace": namespace, "labels": live["metadata"]["labels"]},
                    "data": live["data"]}
        run_kubectl("apply", "-f", "-", input_text=json.dumps(replaced))
        rc, out = playbook(before, "site.yml")
        assert rc != 0, out[-6000:]
        assert REFUSED in out and "api: Secret api-secrets: " in out and "(field type; immutable field)" in out, \
            out[-6000:]
        assert get(namespace, "secret", "api-secrets")["type"] == "example.com/other"
        assert get(namespace, "deployment", "api") is None, "the backend tier was applied"
        assert_no_value(out, first)
    finally:
        purge(namespace)


def test_live_system_quota_on_secrets_stops_the_run():
    namespace = PREFIX + "sec-quota"
    value, extra_value = "quota-api-key-Jm27Rc5v", "quota-extra-Ty63Wb9k"
    variables = system_vars(namespace, namespace, {"api": api(secrets={"API_KEY": {"value": value}})})
    more = dict(variables, foundation_extra_secrets=[{
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "api-extra", "labels": {"app.kubernetes.io/name": "api"}},
        "data": {"EXTRA": b64(extra_value)}}])
    purge(namespace)
    try:
        rc, out = playbook(variables, os.path.join("playbooks", "foundation.yml"))
        assert rc == 0, out[-6000:]
        run_kubectl("apply", "-f", "-", input_text=json.dumps({
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "secrets", "namespace": namespace},
            "spec": {"hard": {"secrets": "1"}}}))
        rc, out = playbook(more, "site.yml")
        assert rc != 0, out[-6000:]
        assert REFUSED in out and "api: Secret api-extra: HTTP 403" in out and "exceeded quota" in out, out[-6000:]
        assert get(namespace, "secret", "api-extra") is None
        assert get(namespace, "deployment", "api") is None, "the backend tier was applied"
        assert_no_value(out, value, extra_value)
    finally:
        purge(namespace)


def test_grafana_password_is_kept_through_the_upgrade(tmp_path):
    namespace = PREFIX + "sec-grafana"
    password = "grafana-kept-Vb83Qs6Rt1"
    variables = system_vars(namespace, namespace, {"api": api()}, genai_monitoring_enabled=True, monitoring_wait=False)
    old = {  # as roles/monitoring/tasks/secrets.yml created it
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "grafana-secrets", "namespace": namespace, "labels": {
            "app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": namespace,
            "app.kubernetes.io/component": "monitoring", "app.kubernetes.io/part-of": namespace,
            "app.kubernetes.io/managed-by": "genai-stack", "app.kubernetes.io/version": "1.0.0"}},
        "data": {"GF_SECURITY_ADMIN_PASSWORD": b64(password)},
    }
    purge(namespace)
    try:
        kubectl("create", "namespace", namespace)
        run_kubectl("apply", "--server-side", "--field-manager=genai-stack", "-f", "-", input_text=json.dumps(old))

        rc, out = playbook(variables, os.path.join("playbooks", "validate.yml"), os.path.join("playbooks", "foundation.yml"),
                           os.path.join("playbooks", "monitoring.yml"))
        assert rc == 0, out[-6000:]
        assert_no_value(out, password)
        secret = get(namespace, "secret", "grafana-secrets")
        assert secret["data"] == {"GF_SECURITY_ADMIN_PASSWORD": b64(password)}
        assert get(namespace, "deployment", "grafana") is not None
        # the inventory's monitoring images, not the renderer's defaults
        prometheus = get(namespace, "deployment", "prometheus")
        assert prometheus["spec"]["template"]["spec"]["containers"][0]["image"] == \
            "localhost/genai-stack-test/prometheus:1.0.0"

        render_dir = tmp_path / "render"
        rc, out = playbook(dict(variables, genai_render_secrets=True, genai_render_dir=str(render_dir)),
                           os.path.join("playbooks", "render.yml"))
        assert rc == 0, out[-6000:]
        assert_no_value(out, password)
        rendered = {d["metadata"]["name"]: d for d in yaml.safe_load_all((render_dir / "15-secrets.yaml").read_text()) if d}
        assert rendered["grafana-secrets"]["data"] == {"GF_SECURITY_ADMIN_PASSWORD": b64(password)}
        assert "localhost/genai-stack-test/grafana:1.0.0" in (render_dir / "70-monitoring.yaml").read_text()

        rc, out = playbook(variables, os.path.join("playbooks", "teardown.yml"))
        assert rc == 0, out[-6000:]
        grafana = get(namespace, "deployment", "grafana")
        assert grafana is None or grafana["metadata"].get("deletionTimestamp"), "teardown left Grafana"
        assert get(namespace, "secret", "grafana-secrets")["data"] == {"GF_SECURITY_ADMIN_PASSWORD": b64(password)}
    finally:
        purge(namespace)

"""The playbooks run the way AWX runs them: ansible-runner, K8S_AUTH_* only, survey answers.

Against the cluster named by KUBECONFIG (or .cluster/kubeconfig of the local test cluster),
with its admin credentials only to prepare and to inspect:
- applies extensions/awx/rbac.yml for a test namespace (ServiceAccount, Role, RoleBinding,
  ClusterRole for that one namespace) and mints a token for the ServiceAccount (TokenRequest);
- builds an ansible-runner private data directory as AWX does for a job whose Kubernetes
  credential ("OpenShift or Kubernetes API Bearer Token") injects K8S_AUTH_HOST,
  K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL and K8S_AUTH_SSL_CA_CERT (no kubeconfig anywhere:
  KUBECONFIG unset, HOME empty), the job template's extra_vars plus the survey answers as
  extra vars, the repository as project and inventories/local as inventory;
- runs playbooks/site.yml then playbooks/verify.yml with ansible_runner.run(), asserts both
  succeed and that verify's health report says healthy;
- asserts that no value of the generated Secrets (nor the token) appears in any job event
  or any file of the artifacts directory;
- tears down without purge (PVCs and Secrets kept), then with purge (namespace gone).
"""

import base64
import json
import os
import re
import shutil
import sys
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBECONFIG = os.environ.get("KUBECONFIG") or os.path.join(
    REPO, ".cluster", "kubeconfig"
)
NAMESPACE = os.environ.get("GENAI_AWX_TEST_NAMESPACE", "genai-awx")
SA = "genai-stack-deployer"
MANAGED = "app.kubernetes.io/managed-by=genai-stack"
RUN_TIMEOUT = int(os.environ.get("GENAI_AWX_TEST_TIMEOUT", "1800"))

kubernetes = pytest.importorskip("kubernetes")
ansible_runner = pytest.importorskip("ansible_runner")
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def _admin_api_client():
    if not os.path.exists(KUBECONFIG):
        pytest.skip(
            f"no cluster: {KUBECONFIG} does not exist (tests/cluster/cluster up, or set KUBECONFIG)"
        )
    try:
        api = config.new_client_from_config(config_file=KUBECONFIG)
        client.VersionApi(api).get_code(_request_timeout=10)
    except Exception as exc:  # noqa: BLE001 - any failure means there is no cluster to test against
        pytest.skip(f"no cluster reachable through {KUBECONFIG}: {exc}")
    return api


def _unsafe_representer(dumper, data):
    return dumper.represent_scalar("!unsafe", str(data))


class _Unsafe(str):
    """A survey answer: AWX marks launch-time answers !unsafe (ALLOW_JINJA_IN_EXTRA_VARS=template)."""


class _ExtraVarsDumper(yaml.SafeDumper):
    pass


_ExtraVarsDumper.add_representer(_Unsafe, _unsafe_representer)


class _AwxVarsLoader(yaml.SafeLoader):
    pass


_AwxVarsLoader.add_constructor(
    "!unsafe", lambda loader, node: loader.construct_scalar(node)
)


def _awx_vars():
    with open(
        os.path.join(REPO, "extensions", "awx", "vars", "main.yml"), encoding="utf-8"
    ) as handle:
        main = yaml.load(handle, Loader=_AwxVarsLoader)
    with open(
        os.path.join(REPO, "extensions", "awx", "vars", "surveys.yml"), encoding="utf-8"
    ) as handle:
        surveys = yaml.safe_load(handle)
    return main, surveys


def _rbac_documents(namespace):
    """extensions/awx/rbac.yml retargeted exactly as docs/awx.md says, with
    sed -E 's/(namespace|name): genai$/\\1: NEW/; s/\\[genai\\]/[NEW]/; s/deployer-genai$/deployer-NEW/'
    """
    with open(
        os.path.join(REPO, "extensions", "awx", "rbac.yml"), encoding="utf-8"
    ) as handle:
        text = handle.read()
    text = re.sub(
        r"(namespace|name): genai$", rf"\1: {namespace}", text, flags=re.MULTILINE
    )
    text = re.sub(r"\[genai\]", f"[{namespace}]", text)
    text = re.sub(r"deployer-genai$", f"deployer-{namespace}", text, flags=re.MULTILINE)
    docs = [d for d in yaml.safe_load_all(text) if d]
    docs = [item for d in docs for item in (d.get("items", []) if d.get("kind") == "List" else [d])]
    assert "genai" not in json.dumps(docs).replace("genai-stack", "").replace(
        namespace, ""
    ), docs
    return docs


def _wait_namespace_gone(core, namespace, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespace(namespace)
        except ApiException as exc:
            if exc.status == 404:
                return
            raise
        time.sleep(2)
    raise AssertionError(f"namespace {namespace} still exists after {timeout}s")


def _delete_cluster_objects(api, docs):
    rbac = client.RbacAuthorizationV1Api(api)
    for doc in docs:
        try:
            if doc["kind"] == "ClusterRole":
                rbac.delete_cluster_role(doc["metadata"]["name"])
            elif doc["kind"] == "ClusterRoleBinding":
                rbac.delete_cluster_role_binding(doc["metadata"]["name"])
        except ApiException as exc:
            if exc.status != 404:
                raise


def _apply_rbac(api, docs):
    from kubernetes import utils

    for doc in docs:
        utils.create_from_dict(api, doc)


@pytest.fixture(scope="module")
def cluster():
    api = _admin_api_client()
    core = client.CoreV1Api(api)
    docs = _rbac_documents(NAMESPACE)
    try:
        core.delete_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
    _wait_namespace_gone(core, NAMESPACE)
    _delete_cluster_objects(api, docs)
    _apply_rbac(api, docs)
    yield {"api": api, "core": core, "docs": docs}
    try:
        core.delete_namespace(NAMESPACE)
    except ApiException as exc:
        if exc.status != 404:
            raise
    _delete_cluster_objects(api, docs)


@pytest.fixture(scope="module")
def token(cluster):
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=7200)
    )
    answer = cluster["core"].create_namespaced_service_account_token(
        SA, NAMESPACE, request
    )
    return answer.status.token


@pytest.fixture(scope="module")
def job(cluster, token, tmp_path_factory):
    """A private data directory laid out as AWX lays it out for a job, and a runner for it."""
    pdd = tmp_path_factory.mktemp("awx-job")
    # An empty HOME: no ~/.kube/config, no ~/.ansible of the user.
    home = tmp_path_factory.mktemp("home")
    (pdd / "env").mkdir()
    admin_cfg = cluster["api"].configuration
    ca_file = pdd / "k8s_ca.crt"
    shutil.copyfile(admin_cfg.ssl_ca_cert, ca_file)
    envvars = {
        "K8S_AUTH_HOST": admin_cfg.host,
        "K8S_AUTH_API_KEY": token,
        "K8S_AUTH_VERIFY_SSL": "True",
        "K8S_AUTH_SSL_CA_CERT": str(ca_file),
        "HOME": str(home),
        "PATH": os.path.dirname(sys.executable)
        + os.pathsep
        + os.environ.get("PATH", ""),
        "ANSIBLE_NOCOLOR": "1",
    }
    awx_vars, surveys = _awx_vars()

    def run(playbook, survey, answers, ident, jt_extra_vars=None):
        if survey:
            spec_vars = {q["variable"] for q in surveys[survey]["spec"]}
            assert set(answers) <= spec_vars, (
                f"answers to questions the survey does not ask: {set(answers) - spec_vars}"
            )
        extravars = dict(jt_extra_vars or {})
        extravars.update(
            {k: _Unsafe(v) if isinstance(v, str) else v for k, v in answers.items()}
        )
        (pdd / "env" / "extravars").write_text(
            yaml.dump(extravars, Dumper=_ExtraVarsDumper)
        )
        (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
        result = ansible_runner.run(
            private_data_dir=str(pdd),
            project_dir=REPO,
            playbook=playbook,
            inventory=os.path.join(REPO, "inventories", "local"),
            ident=ident,
            suppress_env_files=True,  # as AWX does (AWX_RUNNER_OMIT_ENV_FILES)
            timeout=RUN_TIMEOUT,
            quiet=True,
        )
        events = list(result.events)
        return result, events

    saved = {
        k: os.environ.pop(k)
        for k in list(os.environ)
        if k == "KUBECONFIG" or k.startswith("K8S_AUTH_")
    }
    try:
        yield {"run": run, "pdd": pdd, "awx_vars": awx_vars, "token": token}
    finally:
        os.environ.update(saved)


PROBE = """
- name: Probe the cluster with the credential's environment only
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Read the target namespace
      kubernetes.core.k8s_info:
        api_version: v1
        kind: Namespace
        name: "{{ genai_namespace }}"
      register: probe_target
    - name: Read namespace kube-system (the ServiceAccount may not)
      kubernetes.core.k8s_info:
        api_version: v1
        kind: Namespace
        name: kube-system
      register: probe_other
      ignore_errors: true
    - name: Check that the token, not an admin kubeconfig, was used
      ansible.builtin.assert:
        that:
          - probe_target.resources | length == 1
          - probe_other is failed
          - "'403' in probe_other.msg or 'Forbidden' in probe_other.msg"
"""


def test_jobs_reach_the_cluster_with_the_service_account_token_only(job):
    """K8S_AUTH_* from the credential work, and nothing more privileged is picked up."""
    probe = job["pdd"] / "probe.yml"
    probe.write_text(PROBE)
    result, events = job["run"](
        str(probe), None, {"genai_namespace": NAMESPACE}, "probe"
    )
    _assert_successful(result, events, "probe")


DEPLOY_ANSWERS = {
    "genai_namespace": NAMESPACE,
    "genai_image_tag": "1.0.0",
    "genai_awx_replicas_gateway": 2,
    "genai_awx_replicas_chat_service": 2,
    "genai_awx_replicas_ai_service": 1,
    "genai_awx_replicas_worker": 1,
    "genai_awx_replicas_frontend": 2,
    "genai_awx_api_host": f"api.{NAMESPACE}.local",
    "genai_awx_app_host": f"app.{NAMESPACE}.local",
}


def _failures(events):
    lines = []
    for event in events:
        if event.get("event") in (
            "runner_on_failed",
            "runner_on_unreachable",
        ) and not event["event_data"].get("ignore_errors"):
            data = event["event_data"]
            lines.append(f"{data.get('task')}: {(data.get('res') or {}).get('msg')}")
    return "\n".join(lines) or "\n".join(e.get("stdout", "") for e in events[-30:])


def _assert_successful(result, events, what):
    assert result.status == "successful" and result.rc == 0, (
        f"{what}: {result.status} rc={result.rc}\n{_failures(events)}"
    )


SENSITIVE_KEY = re.compile(r"PASS|SECRET|TOKEN|KEY|DSN|URL|URI", re.IGNORECASE)


def _secret_values(core):
    """Values of the collection's Secrets that are secret: passwords, keys, DSNs holding a
    password, and anything long (generated values); not public certificates, and not
    short plain values a Secret may also carry (a user or database name)."""
    values = set()
    for secret in core.list_namespaced_secret(NAMESPACE, label_selector=MANAGED).items:
        for key, data in (secret.data or {}).items():
            if key in ("tls.crt", "ca.crt"):
                continue
            value = base64.b64decode(data).decode("utf-8", "replace")
            if len(value) >= 16 or (len(value) >= 6 and SENSITIVE_KEY.search(key)):
                values.add(value)
    return values


@pytest.fixture(scope="module")
def deployed(job):
    result, events = job["run"](
        "playbooks/site.yml",
        "genai_awx_survey_deploy",
        DEPLOY_ANSWERS,
        "deploy",
        jt_extra_vars=job["awx_vars"]["genai_awx_deploy_extra_vars"],
    )
    _assert_successful(result, events, "Deploy (playbooks/site.yml)")
    return result, events


@pytest.fixture(scope="module")
def verified(job, deployed):
    answers = {"genai_namespace": NAMESPACE, "verify_wait_timeout": 120}
    result, events = job["run"](
        "playbooks/verify.yml", "genai_awx_survey_verify", answers, "verify"
    )
    _assert_successful(result, events, "Verify (playbooks/verify.yml)")
    return result, events


def test_deploy_runs_with_a_service_account_token_only(deployed):
    _result, events = deployed
    tasks = {
        e["event_data"].get("task_action")
        for e in events
        if e.get("event") == "runner_on_ok"
    }
    # Every tier is applied by genai.stack.apply (roles/common/tasks/tier.yml).
    assert "genai.stack.apply" in tasks, f"the deploy applied nothing: task actions {sorted(t for t in tasks if t)}"


def test_verify_reports_the_stack_healthy(verified):
    _result, events = verified
    reports = [
        e["event_data"]["res"]
        for e in events
        if e.get("event") == "runner_on_ok"
        and e["event_data"].get("task_action") == "genai.stack.health"
    ]
    assert reports, "verify ran no genai.stack.health task"
    report = reports[-1]
    assert report.get("healthy") is True, report.get("summary") or report
    assert report.get("components"), report
    assert all(c.get("ready") for c in report["components"]), report["failing"]


def test_no_secret_value_in_job_events_or_artifacts(cluster, job, deployed, verified):
    values = _secret_values(cluster["core"])
    assert values, f"no generated Secret labelled {MANAGED} in {NAMESPACE}"

    def needles(secrets):
        return set(secrets) | {base64.b64encode(v.encode()).decode() for v in secrets}

    secret_needles, token_needles = needles(values), needles({job["token"]})
    leaks = []
    for ident, (_result, events) in (("deploy", deployed), ("verify", verified)):
        text = json.dumps(events)
        leaks += [
            f"job events of {ident}"
            for needle in secret_needles | token_needles
            if needle in text
        ]
    artifacts = job["pdd"] / "artifacts"
    files = [
        os.path.join(root, name)
        for root, _dirs, names in os.walk(artifacts)
        for name in names
    ]
    assert any("job_events" in f for f in files), (
        f"no job events written under {artifacts}"
    )
    for path in files:
        with open(path, "rb") as handle:
            content = handle.read().decode("utf-8", "replace")
        # ansible-runner always records the job's environment (the credential's token with it)
        # in artifacts/<ident>/command, mode 0600; AWX deletes the private data directory after
        # the job and keeps only the events. Secret values must not be there either.
        searched = (
            secret_needles
            if os.path.basename(path) == "command"
            else secret_needles | token_needles
        )
        leaks += [
            os.path.relpath(path, job["pdd"])
            for needle in searched
            if needle in content
        ]
    assert not leaks, f"a Secret value or the token appears in: {sorted(set(leaks))}"


def test_teardown_keeps_data_then_purge_removes_the_namespace(
    cluster, job, deployed, verified
):
    core = cluster["core"]
    apps = client.AppsV1Api(cluster["api"])
    pvcs_before = {
        p.metadata.name
        for p in core.list_namespaced_persistent_volume_claim(NAMESPACE).items
    }
    secrets_before = {
        s.metadata.name
        for s in core.list_namespaced_secret(NAMESPACE, label_selector=MANAGED).items
    }
    answers = {"genai_namespace": NAMESPACE, "genai_teardown_purge": "false"}
    result, events = job["run"](
        "playbooks/teardown.yml", "genai_awx_survey_teardown", answers, "teardown"
    )
    _assert_successful(result, events, "Teardown (keep)")
    managed = "app.kubernetes.io/part-of=genai"
    assert not apps.list_namespaced_deployment(NAMESPACE, label_selector=managed).items
    assert not apps.list_namespaced_stateful_set(
        NAMESPACE, label_selector=managed
    ).items
    assert {
        p.metadata.name
        for p in core.list_namespaced_persistent_volume_claim(NAMESPACE).items
    } >= pvcs_before
    assert {
        s.metadata.name
        for s in core.list_namespaced_secret(NAMESPACE, label_selector=MANAGED).items
    } >= secrets_before

    answers = {"genai_namespace": NAMESPACE, "genai_teardown_purge": "true"}
    result, events = job["run"](
        "playbooks/teardown.yml", "genai_awx_survey_teardown", answers, "purge"
    )
    _assert_successful(result, events, "Teardown (purge)")
    _wait_namespace_gone(core, NAMESPACE, timeout=120)

"""Offline checks of the AWX objects as code (extensions/awx), without a controller.

- the playbook passes `ansible-playbook --syntax-check`;
- every awx.awx task's arguments, templated with the playbook's vars files, validate against
  the module's real argument spec (captured from the installed awx.awx collection when its
  main() builds the module) and are documented in its DOCUMENTATION;
- every survey is a valid AWX survey spec;
- every survey answer is a variable the job template's playbook accepts (an option or
  default of one of its roles, or a genai_* setting those defaults read), or is mapped into
  one by the job template's own extra_vars.
"""

import importlib
import os
import re
import subprocess
import sys

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX_DIR = os.path.join(REPO, "extensions", "awx")
PLAYBOOK = os.path.join(AWX_DIR, "configure.yml")
BIN = os.path.dirname(sys.executable)
SURVEY_TYPES = {
    "text",
    "textarea",
    "password",
    "integer",
    "float",
    "multiplechoice",
    "multiselect",
}
DUMMY_ENV = {
    "GENAI_AWX_K8S_HOST": "https://192.0.2.10:6443",
    "GENAI_AWX_K8S_TOKEN": "dummy-token",
    "GENAI_AWX_K8S_CA_CERT": "-----BEGIN CERTIFICATE-----\ndummy\n-----END CERTIFICATE-----\n",
}


class _Captured(Exception):
    def __init__(self, spec, kwargs):
        super().__init__("captured")
        self.spec = spec
        self.kwargs = kwargs


def module_argument_spec(name):
    """The argument spec awx.awx.<name> really builds (AUTH_ARGSPEC included), and its kwargs."""
    from ansible_collections.awx.awx.plugins.module_utils import controller_api

    def capture(self, argument_spec=None, **kwargs):
        spec = dict(controller_api.ControllerModule.AUTH_ARGSPEC)
        spec.update(argument_spec or {})
        raise _Captured(spec, kwargs)

    original = controller_api.ControllerModule.__init__
    controller_api.ControllerModule.__init__ = capture
    try:
        module = importlib.import_module(
            f"ansible_collections.awx.awx.plugins.modules.{name}"
        )
        try:
            module.main()
        except _Captured as captured:
            kwargs = {
                k: v
                for k, v in captured.kwargs.items()
                if k
                in (
                    "mutually_exclusive",
                    "required_together",
                    "required_one_of",
                    "required_if",
                    "required_by",
                )
            }
            return captured.spec, kwargs
    finally:
        controller_api.ControllerModule.__init__ = original
    raise AssertionError(f"awx.awx.{name} did not build its module")


def _suboption_problems(value, options, where):
    """Keys of nested dicts (e.g. workflow_nodes) against the documented suboptions."""
    problems = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, dict):
            continue
        for key, sub in item.items():
            if key not in options:
                problems.append(f"{where}: unknown suboption {key!r}")
            elif options[key].get("suboptions"):
                problems.extend(
                    _suboption_problems(
                        sub, options[key]["suboptions"], f"{where}.{key}"
                    )
                )
    return problems


def module_doc_options(name):
    module = importlib.import_module(
        f"ansible_collections.awx.awx.plugins.modules.{name}"
    )
    return yaml.safe_load(module.DOCUMENTATION).get("options") or {}


def documented_options(name):
    module = importlib.import_module(
        f"ansible_collections.awx.awx.plugins.modules.{name}"
    )
    doc = yaml.safe_load(module.DOCUMENTATION)
    options = dict(doc.get("options") or {})
    fragments = doc.get("extends_documentation_fragment") or []
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        collection, _sep, frag = fragment.rpartition(".")
        frag_module = importlib.import_module(
            f"ansible_collections.{collection}.plugins.doc_fragments.{frag}"
        )
        options.update(
            yaml.safe_load(frag_module.ModuleDocFragment.DOCUMENTATION)["options"]
        )
    names = set(options)
    for option in options.values():
        names.update(option.get("aliases") or [])
    return names


@pytest.fixture(scope="module")
def loader():
    init_plugin_loader()
    return DataLoader()


@pytest.fixture(scope="module")
def play(loader):
    plays = loader.load_from_file(PLAYBOOK, trusted_as_template=True)
    assert len(plays) == 1
    return plays[0]


@pytest.fixture(scope="module")
def play_vars(loader, play):
    variables = {}
    for path in play["vars_files"]:
        variables.update(
            loader.load_from_file(os.path.join(AWX_DIR, path), trusted_as_template=True)
        )
    return variables


@pytest.fixture(scope="module")
def templar(loader, play_vars):
    old = {k: os.environ.get(k) for k in DUMMY_ENV}
    os.environ.update(DUMMY_ENV)
    yield Templar(loader=loader, variables=play_vars)
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def awx_tasks(play):
    for task in play["tasks"]:
        module = next((k for k in task if k.startswith("awx.awx.")), None)
        if module:
            yield task["name"], module.split(".")[-1], task[module]


def job_templates(play, templar):
    """name -> templated arguments of every awx.awx.job_template task."""
    return {
        templar.template(args["name"]): templar.template(args)
        for _name, module, args in awx_tasks(play)
        if module == "job_template"
    }


def test_syntax_check():
    env = dict(
        os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), **DUMMY_ENV
    )
    proc = subprocess.run(
        [os.path.join(BIN, "ansible-playbook"), "--syntax-check", PLAYBOOK],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_object_kind_is_defined(play):
    modules = {module for _name, module, _args in awx_tasks(play)}
    assert modules >= {
        "execution_environment",
        "credential",
        "project",
        "inventory",
        "inventory_source",
        "job_template",
        "workflow_job_template",
    }


def test_arguments_match_the_module_argument_specs(play, templar):
    problems = []
    for name, module, args in awx_tasks(play):
        spec, kwargs = module_argument_spec(module)
        documented = documented_options(module)
        undocumented = sorted(set(args) - documented)
        if undocumented:
            problems.append(
                f"{name}: awx.awx.{module} does not document {undocumented}"
            )
        params = templar.template(args)
        for key, option in module_doc_options(module).items():
            if option.get("suboptions") and key in params:
                problems.extend(
                    _suboption_problems(
                        params[key], option["suboptions"], f"{name}: {key}"
                    )
                )
        result = ArgumentSpecValidator(spec, **kwargs).validate(params)
        problems.extend(f"{name}: {msg}" for msg in result.error_messages)
    assert not problems, "\n".join(problems)


def test_job_templates_run_existing_playbooks_with_the_kubernetes_credential(
    play, templar, play_vars
):
    jts = job_templates(play, templar)
    expected = {
        templar.template(play_vars[v]): p
        for v, p in (
            ("genai_awx_jt_deploy", "playbooks/site.yml"),
            ("genai_awx_jt_verify", "playbooks/verify.yml"),
            ("genai_awx_jt_teardown", "playbooks/teardown.yml"),
            ("genai_awx_jt_minikube", "playbooks/minikube.yml"),
        )
    }
    credential = templar.template(play_vars["genai_awx_k8s_credential_name"])
    ee = templar.template(play_vars["genai_awx_ee_name"])
    for name, playbook in expected.items():
        assert name in jts, f"no job template {name!r}"
        jt = jts[name]
        assert jt["playbook"] == playbook
        assert jt["execution_environment"] == ee
        assert jt["ask_variables_on_launch"] is True
        assert jt["survey_enabled"] is True and jt["survey_spec"]["spec"]
        assert 0 < jt["timeout"] < 4 * 3600, "AWX kills jobs after 4 hours"
        if playbook != "playbooks/minikube.yml":
            assert jt["credentials"] == [credential]


@pytest.mark.parametrize(
    "playbook",
    [
        "playbooks/site.yml",
        "playbooks/verify.yml",
        "playbooks/teardown.yml",
        "playbooks/minikube.yml",
    ],
)
def test_job_template_playbooks_exist(playbook):
    if playbook == "playbooks/minikube.yml" and not os.path.exists(
        os.path.join(REPO, playbook)
    ):
        pytest.skip("playbooks/minikube.yml is not in the repository yet")
    assert os.path.isfile(os.path.join(REPO, playbook))


def test_inventory_is_sourced_from_the_repository(play, templar):
    sources = [
        templar.template(args)
        for _n, module, args in awx_tasks(play)
        if module == "inventory_source"
    ]
    assert len(sources) == 1
    source = sources[0]
    assert source["source"] == "scm"
    path = os.path.join(REPO, source["source_path"])
    assert os.path.isdir(path) and os.path.isfile(os.path.join(path, "hosts.yml")), path


def test_workflow_runs_verify_after_a_successful_deploy(play, templar, play_vars):
    workflows = [
        templar.template(args)
        for _n, module, args in awx_tasks(play)
        if module == "workflow_job_template"
    ]
    assert len(workflows) == 1
    nodes = {n["identifier"]: n for n in workflows[0]["workflow_nodes"]}
    deploy = templar.template(play_vars["genai_awx_jt_deploy"])
    verify = templar.template(play_vars["genai_awx_jt_verify"])
    assert nodes["deploy"]["unified_job_template"]["name"] == deploy
    assert nodes["verify"]["unified_job_template"]["name"] == verify
    assert nodes["deploy"]["related"]["success_nodes"] == [{"identifier": "verify"}]
    assert "related" not in nodes["verify"]


def _survey_problems(survey):
    problems = []
    for key in ("name", "description", "spec"):
        if key not in survey:
            problems.append(f"missing {key}")
    seen = set()
    for question in survey.get("spec", []):
        var = question.get("variable", "")
        where = f"{survey.get('name')}/{var}"
        for key in ("question_name", "variable", "type", "required"):
            if key not in question:
                problems.append(f"{where}: missing {key}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            problems.append(f"{where}: not a valid variable name")
        if var in seen:
            problems.append(f"{where}: asked twice")
        seen.add(var)
        qtype = question.get("type")
        if qtype not in SURVEY_TYPES:
            problems.append(f"{where}: type {qtype!r} is not an AWX survey type")
        default = question.get("default")
        if qtype in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where}: needs a list of choices")
            elif default not in (None, "") and default not in choices:
                problems.append(f"{where}: default {default!r} is not a choice")
        if (
            qtype == "integer"
            and default not in (None, "")
            and (
                not isinstance(default, int)
                or not question.get("min", default)
                <= default
                <= question.get("max", default)
            )
        ):
            problems.append(
                f"{where}: default {default!r} is not an integer within min/max"
            )
        if (
            qtype in ("text", "textarea")
            and isinstance(default, str)
            and not question.get("min", 0) <= len(default) <= question.get("max", 1024)
        ):
            problems.append(
                f"{where}: default {default!r} is not within min/max length"
            )
    return problems


def test_surveys_are_valid_awx_survey_specs(play, templar):
    surveys = [jt["survey_spec"] for jt in job_templates(play, templar).values()]
    surveys += [
        templar.template(args)["survey_spec"]
        for _n, module, args in awx_tasks(play)
        if module == "workflow_job_template"
    ]
    problems = [p for survey in surveys for p in _survey_problems(survey)]
    assert not problems, "\n".join(problems)


# --- survey variables against the variables the playbooks accept ---------------------------


def _roles_of_playbook(path, seen=None):
    seen = set() if seen is None else seen
    roles = set()
    with open(path, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle) or []
    for entry in plays:
        imported = entry.get("ansible.builtin.import_playbook") or entry.get(
            "import_playbook"
        )
        if imported:
            target = os.path.join(os.path.dirname(path), imported)
            if target not in seen:
                seen.add(target)
                roles |= _roles_of_playbook(target, seen)
            continue
        for role in entry.get("roles", []):
            roles.add((role["role"] if isinstance(role, dict) else role).split(".")[-1])
    return _with_dependencies(roles)


def _with_dependencies(roles):
    todo, found = list(roles), set()
    while todo:
        role = todo.pop()
        if role in found:
            continue
        found.add(role)
        meta = os.path.join(REPO, "roles", role, "meta", "main.yml")
        if os.path.exists(meta):
            with open(meta, encoding="utf-8") as handle:
                for dep in (yaml.safe_load(handle) or {}).get("dependencies") or []:
                    todo.append(
                        (dep["role"] if isinstance(dep, dict) else dep).split(".")[-1]
                    )
    return found


def _accepted_variables(roles):
    """Options and defaults of the roles, and the genai_* settings their defaults read."""
    accepted = set()
    for role in roles:
        defaults = os.path.join(REPO, "roles", role, "defaults", "main.yml")
        if os.path.exists(defaults):
            with open(defaults, encoding="utf-8") as handle:
                text = handle.read()
            accepted |= set(yaml.safe_load(text) or {})
            for expr in re.findall(r"\{\{(.*?)\}\}", text, re.DOTALL):
                accepted |= set(re.findall(r"\b(genai_[a-z0-9_]+)\b", expr))
        specs = os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")
        if os.path.exists(specs):
            with open(specs, encoding="utf-8") as handle:
                for entry in (
                    (yaml.safe_load(handle) or {}).get("argument_specs", {}).values()
                ):
                    accepted |= set((entry or {}).get("options") or {})
    return accepted


def _survey_cases():
    loader = DataLoader()
    plays = loader.load_from_file(PLAYBOOK, trusted_as_template=True)
    variables = {}
    for path in plays[0]["vars_files"]:
        variables.update(
            loader.load_from_file(os.path.join(AWX_DIR, path), trusted_as_template=True)
        )
    cases = []
    for _n, module, args in awx_tasks(plays[0]):
        if module != "job_template":
            continue
        survey_var = args["survey_spec"].strip("{} ")
        extra_var = (args.get("extra_vars") or "").strip("{} ") or None
        for question in variables[survey_var]["spec"]:
            cases.append(
                pytest.param(
                    args["playbook"],
                    extra_var,
                    question["variable"],
                    id=f"{os.path.basename(args['playbook'])}-{question['variable']}",
                )
            )
    return cases


@pytest.mark.parametrize(("playbook", "extra_vars_name", "variable"), _survey_cases())
def test_survey_variable_is_accepted_by_the_playbook(
    play_vars, playbook, extra_vars_name, variable
):
    path = os.path.join(REPO, playbook)
    if not os.path.exists(path):
        pytest.skip(f"{playbook} is not in the repository yet")
    accepted = _accepted_variables(_roles_of_playbook(path))
    if variable in accepted:
        return
    # A genai_awx_* answer must be mapped by the job template's extra_vars into variables
    # the playbook accepts.
    extra_vars = play_vars.get(extra_vars_name) or {} if extra_vars_name else {}
    mapped_into = [
        key
        for key, value in extra_vars.items()
        if re.search(rf"\b{re.escape(variable)}\b", str(value))
    ]
    assert mapped_into, (
        f"{playbook} accepts no variable {variable!r} and the job template maps it nowhere"
    )
    missing = [key for key in mapped_into if key not in accepted]
    assert not missing, (
        f"{variable!r} is mapped into {missing}, which no role of {playbook} accepts (yet)"
    )

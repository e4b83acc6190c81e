"""The reference docs cannot drift from their sources, and every role's defaults match its
argument_specs.

- The generated sections of the role READMEs (variables tables from ``meta/argument_specs.yml``,
  the component record and ``genai_ingress`` tables from the schema) equal what
  ``scripts/docs.py`` renders now. ``GENAI_UPDATE_DOCS=1`` rewrites them instead of failing.
- ``defaults/main.yml`` of every role holds exactly the options of its argument_specs, with
  matching types, choices and defaults (a Jinja expression stands for any type).
"""

import importlib.util
import os

import pytest
import yaml

from systems import ROOT

ROLES = sorted(r for r in os.listdir(os.path.join(ROOT, "roles")) if os.path.isdir(os.path.join(ROOT, "roles", r)))
TYPES = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list, "float": (int, float), "path": str, "raw": object}


def _docs():
    spec = importlib.util.spec_from_file_location("genai_docs", os.path.join(ROOT, "scripts", "docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load(role, *parts):
    path = os.path.join(ROOT, "roles", role, *parts)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return yaml.safe_load(handle)


def test_generated_readme_sections_are_up_to_date():
    stale = []
    for path, wanted in _docs().rendered().items():
        with open(path) as handle:
            current = handle.read()
        if current != wanted:
            stale.append(os.path.relpath(path, ROOT))
            if os.environ.get("GENAI_UPDATE_DOCS") == "1":
                with open(path, "w") as handle:
                    handle.write(wanted)
    if os.environ.get("GENAI_UPDATE_DOCS") != "1":
        assert stale == [], "run: GENAI_UPDATE_DOCS=1 pytest tests/unit/test_docs.py (or python3 scripts/docs.py)"


def test_every_role_readme_has_a_generated_variables_table():
    rendered = _docs().rendered()
    readmes = [os.path.join(ROOT, "roles", r, "README.md") for r in ROLES]
    for path in readmes:
        if os.path.isfile(path):
            assert "<!-- BEGIN GENERATED variables" in rendered[path], path
    assert "<!-- BEGIN GENERATED component-record" in rendered[os.path.join(ROOT, "roles", "common", "README.md")]


def test_component_table_lists_every_field_of_the_schema():
    docs = _docs()
    from ansible_collections.genai.stack.plugins.module_utils import schema

    table = docs.schema_table(schema.COMPONENT)
    for field in schema.COMPONENT["properties"]:
        assert f"| `{field}` |" in table, field


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role):
    specs = _load(role, "meta", "argument_specs.yml")
    defaults = _load(role, "defaults", "main.yml") or {}
    if specs is None:
        assert defaults == {}, f"roles/{role}: defaults without meta/argument_specs.yml"
        return
    options = specs["argument_specs"]["main"].get("options") or {}
    assert sorted(defaults) == sorted(options), f"roles/{role}: defaults/main.yml and argument_specs differ"
    for name, spec in options.items():
        value = defaults[name]
        if isinstance(value, str) and "{{" in value:
            continue
        if value is None and "default" not in spec and not spec.get("required"):
            continue  # unset by default: another source's default applies (its description says which)
        kind = spec.get("type", "str")
        assert isinstance(value, TYPES[kind]) and not (kind == "int" and isinstance(value, bool)), f"{role}: {name}"
        if "choices" in spec:
            assert value in spec["choices"], f"{role}: {name}"
        if "default" in spec:
            assert spec["default"] == value, f"{role}: {name}"
        if kind == "list":
            assert "elements" in spec, f"{role}: {name}"

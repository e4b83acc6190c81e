"""roles/common: meta/argument_specs.yml matches defaults/main.yml exactly."""

import os

import yaml

from systems import ROOT, common_defaults

TYPES = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list}


def specs():
    with open(os.path.join(ROOT, "roles", "common", "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def test_every_default_is_specified_and_nothing_else():
    assert sorted(specs()) == sorted(common_defaults())


def test_types_choices_and_defaults_match():
    defaults = common_defaults()
    for name, spec in specs().items():
        value = defaults[name]
        assert isinstance(value, TYPES[spec["type"]]), name
        if "choices" in spec:
            assert value in spec["choices"], name
        if "default" in spec:
            assert spec["default"] == value, name
        else:
            # the two big records are documented in prose and in defaults/main.yml
            assert name in ("genai_components", "genai_ingress"), name
        if spec["type"] == "list":
            assert "elements" in spec, name

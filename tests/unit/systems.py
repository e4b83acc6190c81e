"""Load the YAML fixtures of tests/unit/fixtures/systems."""

import copy
import os

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "systems")
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
NAMES = ("genai", "rag_system", "chat4all")


def load(name):
    """(components, settings) of a fixture system; fresh copies every call."""
    with open(os.path.join(FIXTURES, name + ".yml")) as handle:
        data = yaml.safe_load(handle)
    return copy.deepcopy(data["components"]), copy.deepcopy(data["settings"])


def common_defaults():
    with open(os.path.join(ROOT, "roles", "common", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)

"""Load the test images' programs (tests/images) as modules for their unit tests."""

import importlib.util
import os

import pytest

IMAGES_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "images"))


def load(name, relpath):
    spec = importlib.util.spec_from_file_location(name, os.path.join(IMAGES_DIR, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def standin():
    return load("genai_standin", "standin/standin.py")


@pytest.fixture(scope="session")
def oci():
    return load("genai_oci", "oci.py")


@pytest.fixture(scope="session")
def images_dir():
    return IMAGES_DIR

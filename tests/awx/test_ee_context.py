"""The execution environment definition produces a build context with the collection's needs.

No image is built here (no container engine); `ansible-builder create` writes the context
(Containerfile/Dockerfile and _build/) an `ansible-builder build` would use, and
`ansible-builder introspect` shows what it reads from the collection's own
meta/execution-environment.yml when genai.stack is installed in the image.
"""

import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
BUILDER = os.path.join(BIN, "ansible-builder")


def _requirement_names(path):
    names = set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(
                    line.split()[0].split(">")[0].split("=")[0].split("<")[0].lower()
                )
    return names


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    out = tmp_path_factory.mktemp("ee") / "context"
    proc = subprocess.run(
        [
            BUILDER,
            "create",
            "-f",
            os.path.join(REPO, "extensions", "ee", "execution-environment.yml"),
            "--context",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_context_has_a_containerfile(context):
    files = [f for f in ("Containerfile", "Dockerfile") if (context / f).exists()]
    assert files, f"no Containerfile/Dockerfile in {sorted(os.listdir(context))}"
    text = (context / files[0]).read_text()
    assert "quay.io/centos/centos:stream10" in text
    assert "ansible-core" in text and "ansible-runner" in text
    assert "git-core" in text, (
        "ansible-galaxy needs git to install genai.stack from its repository"
    )


def test_context_installs_the_collections(context):
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    names = {c["name"] for c in galaxy["collections"]}
    assert any("genai.stack" in n for n in names), names
    assert {"kubernetes.core", "community.crypto"} <= names


def test_context_has_the_collection_python_and_system_requirements(context):
    python = _requirement_names(context / "_build" / "requirements.txt")
    assert python >= _requirement_names(
        os.path.join(REPO, "meta", "ee-requirements.txt")
    )
    assert "kubernetes" in python
    bindep = (context / "_build" / "bindep.txt").read_text()
    assert "ca-certificates" in bindep


def test_collection_requirements_have_no_pinned_or_capped_versions():
    for name in ("ee-requirements.txt", "ee-bindep.txt"):
        with open(os.path.join(REPO, "meta", name), encoding="utf-8") as handle:
            for line in handle:
                spec = line.split("#", 1)[0]
                for op in ("==", "<", "~=", "!=", "==="):
                    assert op not in spec, (
                        f"meta/{name}: {line.strip()!r} pins or caps a version"
                    )


def test_introspection_reads_the_collection_metadata():
    """What ansible-builder finds when genai.stack is installed in the image."""
    with open(
        os.path.join(REPO, "meta", "execution-environment.yml"), encoding="utf-8"
    ) as handle:
        meta = yaml.safe_load(handle)
    assert meta["dependencies"] == {
        "python": "meta/ee-requirements.txt",
        "system": "meta/ee-bindep.txt",
    }
    proc = subprocess.run(
        [BUILDER, "introspect", "--sanitize", os.path.join(REPO, "collections")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = yaml.safe_load(proc.stdout.split("---", 1)[1])
    python = {
        line.split()[0]
        for line in found["python"]
        if "from collection genai.stack" in line
    }
    assert {"kubernetes>=24.2.0", "jsonpatch"} <= python, found
    assert any(
        "ca-certificates" in line and "genai.stack" in line for line in found["system"]
    ), found

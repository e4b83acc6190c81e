"""Unit tests of tests/docker/runc_caps_clamp.py: the OCI spec edits dockerd's runtime wrapper makes."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

WRAPPER = os.path.join(os.path.dirname(__file__), "..", "docker", "runc_caps_clamp.py")
_spec = importlib.util.spec_from_file_location("runc_caps_clamp", WRAPPER)
clamp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clamp)

# This machine's root: every capability up to CAP_CHECKPOINT_RESTORE except CAP_SYS_RESOURCE (bit 24).
STATUS_NO_SYS_RESOURCE = "Name:\tx\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\n"


def privileged_spec(oom=None):
    every = list(clamp.CAP_NAMES)
    process = {"args": ["/sbin/init"], "capabilities": {s: list(every) for s in clamp.CAP_SETS}}
    if oom is not None:
        process["oomScoreAdj"] = oom
    return {"ociVersion": "1.0.2", "process": process}


def test_held_capabilities_reads_the_bounding_mask():
    held = clamp.held_capabilities(STATUS_NO_SYS_RESOURCE)
    assert "CAP_SYS_RESOURCE" not in held
    assert {"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHECKPOINT_RESTORE"} <= held
    assert len(held) == len(clamp.CAP_NAMES) - 1


def test_held_capabilities_without_capbnd_is_an_error():
    with pytest.raises(ValueError):
        clamp.held_capabilities("Name:\tx\n")


def test_privileged_spec_loses_sys_resource_in_every_set():
    spec = privileged_spec()
    changes = clamp.clamp_spec(spec, clamp.held_capabilities(STATUS_NO_SYS_RESOURCE), 0)
    caps = spec["process"]["capabilities"]
    for name in clamp.CAP_SETS:
        assert "CAP_SYS_RESOURCE" not in caps[name]
        assert "CAP_SYS_ADMIN" in caps[name]
        assert len(caps[name]) == len(clamp.CAP_NAMES) - 1
    assert len(changes) == len(clamp.CAP_SETS)
    assert all("CAP_SYS_RESOURCE" in c for c in changes)


def test_unknown_capability_names_are_kept():
    spec = {"process": {"capabilities": {"bounding": ["CAP_FUTURE_THING", "CAP_SYS_RESOURCE"]}}}
    clamp.clamp_spec(spec, {"CAP_CHOWN"}, 0)
    assert spec["process"]["capabilities"]["bounding"] == ["CAP_FUTURE_THING"]


def test_negative_oom_score_adj_is_raised_to_the_floor():
    spec = privileged_spec(oom=-998)
    changes = clamp.clamp_spec(spec, set(clamp.CAP_NAMES), 0)
    assert spec["process"]["oomScoreAdj"] == 0
    assert changes == ["oomScoreAdj: -998 -> 0"]


def test_spec_within_limits_is_untouched():
    spec = privileged_spec(oom=500)
    before = json.dumps(spec, sort_keys=True)
    assert clamp.clamp_spec(spec, set(clamp.CAP_NAMES), 0) == []
    assert json.dumps(spec, sort_keys=True) == before


def test_spec_without_process_is_untouched():
    spec = {"ociVersion": "1.0.2"}
    assert clamp.clamp_spec(spec, set(), 0) == []
    assert spec == {"ociVersion": "1.0.2"}


@pytest.mark.parametrize(
    "args, command, bundle",
    [
        (["--root", "/run/x", "--log", "l.json", "--log-format", "json", "create", "--bundle", "/b", "id"], "create", "/b"),
        (["run", "-b", "/b2", "id"], "run", "/b2"),
        (["create", "--bundle=/b3", "id"], "create", "/b3"),
        (["--debug", "start", "id"], "start", None),
        (["--root", "create", "state"], "state", None),
    ],
)
def test_command_and_bundle_of_a_runc_command_line(args, command, bundle):
    assert clamp.command_of(args) == command
    assert clamp.bundle_of(args) == bundle


def test_wrapper_edits_the_bundle_then_runs_the_real_runc(tmp_path):
    """End to end: the wrapper rewrites config.json and execs GENAI_REAL_RUNC with the same arguments."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(privileged_spec(oom=-999)))
    fake_runc = tmp_path / "runc"
    seen = tmp_path / "argv"
    fake_runc.write_text("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\n" % seen)
    fake_runc.chmod(0o755)
    env = dict(os.environ, GENAI_REAL_RUNC=str(fake_runc))
    args = ["--root", "/run/r", "create", "--bundle", str(bundle), "ctr-1"]
    subprocess.run([sys.executable, WRAPPER] + args, env=env, check=True)
    assert seen.read_text().split("\n")[:-1] == args
    spec = json.loads((bundle / "config.json").read_text())
    with open("/proc/self/oom_score_adj") as fh:
        floor = int(fh.read())
    assert spec["process"]["oomScoreAdj"] == max(-999, floor)
    with open("/proc/self/status") as fh:
        held = clamp.held_capabilities(fh.read())
    assert set(spec["process"]["capabilities"]["bounding"]) == held


def test_exec_process_file_is_clamped_too(tmp_path):
    """`docker exec` runs `runc exec --process FILE`: the capabilities there are clamped as well."""
    process = privileged_spec(oom=-5)["process"]
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps(process))
    fake_runc = tmp_path / "runc"
    fake_runc.write_text("#!/bin/sh\nexit 0\n")
    fake_runc.chmod(0o755)
    env = dict(os.environ, GENAI_REAL_RUNC=str(fake_runc))
    args = ["--root", "/run/r", "exec", "--process", str(pfile), "--detach", "ctr-1"]
    assert clamp.process_file_of(args) == str(pfile)
    subprocess.run([sys.executable, WRAPPER] + args, env=env, check=True)
    edited = json.loads(pfile.read_text())
    with open("/proc/self/status") as fh:
        held = clamp.held_capabilities(fh.read())
    for name in clamp.CAP_SETS:
        assert set(edited["capabilities"][name]) == held

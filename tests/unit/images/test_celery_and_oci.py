"""The `celery` stand-in's exit codes and the OCI layout writer's determinism."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time

import pytest


def run_celery(images_dir, heartbeat, *args):
    env = dict(os.environ, STANDIN_HEARTBEAT=str(heartbeat), STANDIN_CHECK_INTERVAL="5")
    return subprocess.run([sys.executable, os.path.join(images_dir, "standin", "celery"), *args],
                          env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize("beat, expected", [
    ({"ready": True, "age": 1}, 0),
    ({"ready": False, "age": 1, "failing": ["CELERY_BROKER_URL"]}, 69),
    ({"ready": True, "age": 120}, 69),
    (None, 69),
])
def test_celery_inspect_ping(images_dir, tmp_path, beat, expected):
    heartbeat = tmp_path / "hb.json"
    if beat is not None:
        heartbeat.write_text(json.dumps({"time": time.time() - beat["age"], "ready": beat["ready"],
                                         "failing": beat.get("failing", [])}))
    for args in (["-A", "app", "inspect", "ping"], ["--app=app", "status"], ["-A", "app", "inspect", "ping", "-d", "x"]):
        result = run_celery(images_dir, heartbeat, *args)
        assert result.returncode == expected, (args, result.stdout, result.stderr)
    if expected == 0:
        assert "pong" in result.stdout
    if beat and not beat["ready"]:
        assert "CELERY_BROKER_URL" in result.stderr


def test_celery_unknown_command_fails(images_dir, tmp_path):
    assert run_celery(images_dir, tmp_path / "none", "-A", "app", "purge").returncode == 64
    assert run_celery(images_dir, tmp_path / "none", "--version").returncode == 0


def make_rootfs(root):
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "dev").mkdir()
    (root / "tmp").mkdir()
    (root / "tmp" / "junk").write_text("left out")
    (root / "usr" / "bin" / "tool").write_text("#!/bin/sh\n")
    os.chmod(root / "usr" / "bin" / "tool", 0o4755)  # setuid
    os.link(root / "usr" / "bin" / "tool", root / "usr" / "bin" / "tool-link")
    os.symlink("usr/bin", root / "bin")
    os.mkfifo(root / "dev" / "fifo")
    (root / ".genai-stamp").write_text("testkey\n")


def test_rootfs_layer_is_deterministic_and_keeps_file_kinds(oci, tmp_path):
    root = tmp_path / "rootfs"
    make_rootfs(root)
    first = oci.write_rootfs_layer(str(root), str(tmp_path / "a.tar"))
    second = oci.write_rootfs_layer(str(root), str(tmp_path / "b.tar"))
    assert first == second
    assert first[1] == os.path.getsize(tmp_path / "a.tar")
    os.utime(root / "usr" / "bin" / "tool", (1, 1))  # mtimes of the rootfs are content
    assert oci.write_rootfs_layer(str(root), str(tmp_path / "c.tar"))[0] != first[0]
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert "dev/fifo" not in members and "dev" in members  # device nodes/fifos out, dir kept
    assert "tmp/junk" not in members and "tmp" in members
    assert ".genai-stamp" not in members
    assert members["bin"].issym() and members["bin"].linkname == "usr/bin"
    assert members["usr/bin/tool"].mode & 0o4000
    link = members["usr/bin/tool-link"]
    assert link.islnk() and link.linkname == "usr/bin/tool"
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    names = list(members)
    assert names == ["bin", "dev", "tmp", "usr", "usr/bin", "usr/bin/tool", "usr/bin/tool-link"]


def test_build_writes_oci_layouts_with_one_shared_layer(oci, tmp_path):
    root = tmp_path / "rootfs"
    make_rootfs(root)
    out = tmp_path / "out"
    assert sorted(oci.build(str(root), str(out))) == sorted(oci.IMAGES)
    assert oci.build(str(root), str(out)) == []  # up to date: nothing rebuilt
    digests = {}
    base_layers = set()
    for name in oci.IMAGES:
        layout = out / "oci" / name
        assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
        index = json.loads((layout / "index.json").read_text())
        desc = index["manifests"][0]
        ref = f"localhost/genai-stack-test/{name}:1.0.0"
        assert desc["annotations"] == {"org.opencontainers.image.ref.name": ref, "io.containerd.image.name": ref}
        manifest = json.loads((layout / "blobs" / "sha256" / desc["digest"][7:]).read_bytes())
        config = json.loads((layout / "blobs" / "sha256" / manifest["config"]["digest"][7:]).read_bytes())
        labels = config["config"]["Labels"]
        assert labels["io.genai-stack.test-image"] == "true"
        assert labels["org.opencontainers.image.title"] == f"genai-stack-test/{name}"
        assert config["config"]["Entrypoint"][0] == "/usr/bin/tini"
        assert config["rootfs"]["diff_ids"] == [layer["digest"] for layer in manifest["layers"]]
        for blob in (layout / "blobs" / "sha256").iterdir():  # every blob is what its name says
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
        base_layers.add(manifest["layers"][0]["digest"])
        digests[name] = desc["digest"]
        assert not ref.endswith(":latest")
    assert len(base_layers) == 1
    assert len(set(digests.values())) == len(oci.IMAGES)
    # A rebuild from scratch gives the same digests.
    out2 = tmp_path / "out2"
    oci.build(str(root), str(out2))
    for name, digest in digests.items():
        assert json.loads((out2 / "oci" / name / "index.json").read_text())["manifests"][0]["digest"] == digest
    # One archive of several images holds the shared layer once.
    buf = io.BytesIO()
    oci.stream(str(out), ["app", "redis"], buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tar:
        names = tar.getnames()
        index = json.load(tar.extractfile("index.json"))
    assert len(index["manifests"]) == 2
    assert sum(1 for n in names if n.endswith(next(iter(base_layers))[7:])) == 1


def test_image_specs(oci):
    assert oci.IMAGES["app"]["user"] == "1000:1000"
    assert oci.IMAGES["mysql"]["ports"] == [3306] and not oci.IMAGES["mysql"]["stand_in"]
    assert oci.IMAGES["postgres"]["env"]["PGDATA"] == "/var/lib/postgresql/data"
    assert oci.IMAGES["qdrant"]["ports"] == [6333, 6334] and oci.IMAGES["qdrant"]["stand_in"]
    for spec in oci.IMAGES.values():
        for src, _mode in spec["files"].values():
            assert os.path.exists(os.path.join(os.path.dirname(oci.__file__), src))

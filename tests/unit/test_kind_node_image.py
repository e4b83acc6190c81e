"""Unit tests of the kind node image pieces: tests/kind/node_images.py (control-plane images)
and tests/kind/node/iptables-wrapper (kube-proxy's backend choice)."""

import hashlib
import importlib.util
import io
import json
import os
import subprocess
import tarfile

import pytest

KIND = os.path.join(os.path.dirname(__file__), "..", "kind")
_spec = importlib.util.spec_from_file_location("node_images", os.path.join(KIND, "node_images.py"))
node_images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(node_images)

VERSIONS = {"KUBE_VERSION": "v1.34.4", "ETCD_VERSION": "v3.6.16", "COREDNS_VERSION": "v1.14.7", "PAUSE_VERSION": "3.10"}


def test_read_versions_skips_comments(tmp_path):
    f = tmp_path / "versions.env"
    f.write_text("# pinned\nKUBE_VERSION=v1.34.4\n\nETCD_VERSION = v3.6.16\n")
    assert node_images.read_versions(str(f)) == {"KUBE_VERSION": "v1.34.4", "ETCD_VERSION": "v3.6.16"}


def test_refs_are_test_image_names_with_the_built_versions():
    refs = node_images.refs(VERSIONS)
    assert "localhost/genai-stack-test/kind/kube-apiserver:v1.34.4" in refs
    assert "localhost/genai-stack-test/kind/etcd:v3.6.16" in refs
    assert "localhost/genai-stack-test/kind/coredns:v1.14.7" in refs
    assert "localhost/genai-stack-test/kind/pause:3.10" in refs
    assert len(refs) == 7
    assert all(r.startswith("localhost/genai-stack-test/kind/") for r in refs)


def test_parse_ldd_keeps_absolute_paths_only():
    text = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007f)\n"
        "\tlibmissing.so.1 => not found\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
    )
    assert node_images.parse_ldd(text) == ["/lib/x86_64-linux-gnu/libxtables.so.12", "/lib64/ld-linux-x86-64.so.2"]


def test_resolve_in_rootfs_keeps_absolute_links_inside(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/lib/x86_64-linux-gnu/ld-2.so").write_bytes(b"ld")
    (root / "usr/lib64").mkdir()
    (root / "usr/lib64/ld-linux-x86-64.so.2").symlink_to("/lib/x86_64-linux-gnu/ld-2.so")
    (root / "lib").symlink_to("usr/lib")
    (root / "lib64").symlink_to("usr/lib64")
    assert node_images.resolve_in_rootfs(str(root), "lib64/ld-linux-x86-64.so.2") == "usr/lib/x86_64-linux-gnu/ld-2.so"


def test_resolve_in_rootfs_detects_loops(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError):
        node_images.resolve_in_rootfs(str(tmp_path), "a")


def members(data):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_binary_layer_holds_the_binary_with_its_parents(tmp_path):
    (tmp_path / "etcd").write_bytes(b"E")
    (tmp_path / "etcdctl").write_bytes(b"C")
    spec = node_images.image_specs(VERSIONS)["etcd"]
    layer = node_images.build_layer("etcd", spec, str(tmp_path), "/nonexistent")
    m = members(layer)
    assert m["usr/local/bin/etcd"].mode == 0o755
    assert m["usr/local/bin"].isdir() and m["usr/local"].isdir() and m["usr"].isdir()
    # Deterministic: the same inputs give the same digest.
    assert layer == node_images.build_layer("etcd", spec, str(tmp_path), "/nonexistent")


def test_image_config_is_labelled_as_a_test_image(tmp_path):
    (tmp_path / "coredns").write_bytes(b"D")
    spec = node_images.image_specs(VERSIONS)["coredns"]
    layer = node_images.build_layer("coredns", spec, str(tmp_path), "/nonexistent")
    ref, config, manifest = node_images.image_blobs("coredns", spec, layer)
    cfg = json.loads(config)
    assert ref == "localhost/genai-stack-test/kind/coredns:v1.14.7"
    assert cfg["config"]["Entrypoint"] == ["/coredns"]
    assert cfg["config"]["Labels"]["io.genai-stack.test-image"] == "true"
    assert cfg["config"]["Labels"]["org.opencontainers.image.description"].startswith("TEST IMAGE")
    assert cfg["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]
    man = json.loads(manifest)
    assert man["config"]["digest"] == "sha256:" + hashlib.sha256(config).hexdigest()
    assert man["layers"][0]["size"] == len(layer)


def test_archive_is_an_oci_layout_naming_every_image(tmp_path):
    images = []
    for name in ("pause", "coredns"):
        (tmp_path / name).write_bytes(name.encode())
        spec = node_images.image_specs(VERSIONS)[name]
        layer = node_images.build_layer(name, spec, str(tmp_path), "/nonexistent")
        ref, config, manifest = node_images.image_blobs(name, spec, layer)
        images.append((ref, [layer, config], manifest))
    out = tmp_path / "images.tar"
    node_images.write_archive(str(out), images)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        index = json.load(tar.extractfile("index.json"))
        assert json.load(tar.extractfile("oci-layout")) == {"imageLayoutVersion": "1.0.0"}
        for entry in index["manifests"]:
            blob = tar.extractfile("blobs/sha256/" + entry["digest"].split(":")[1]).read()
            assert entry["size"] == len(blob)
            for desc in [json.loads(blob)["config"]] + json.loads(blob)["layers"]:
                assert "blobs/sha256/" + desc["digest"].split(":")[1] in names
    assert sorted(e["annotations"]["io.containerd.image.name"] for e in index["manifests"]) == [
        "localhost/genai-stack-test/kind/coredns:v1.14.7", "localhost/genai-stack-test/kind/pause:3.10"]


@pytest.fixture
def fake_xtables(tmp_path):
    """Fake xtables-legacy-multi / xtables-nft-multi: `*-save` prints RULES_<mode> rule lines,
    any other call records its arguments."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for mode in ("legacy", "nft"):
        script = bindir / ("xtables-%s-multi" % mode)
        script.write_text(
            "#!/bin/sh\n"
            "case $1 in *-save) i=0; while [ $i -lt ${RULES_%s:-0} ]; do echo '-A X -j ACCEPT'; i=$((i+1)); done; "
            "echo '*filter'; exit 0;; esac\n"
            "echo %s \"$@\" >> \"$CALLS\"\n" % (mode.upper(), mode))
        script.chmod(0o755)
    wrapper = bindir / "iptables-restore"
    wrapper.symlink_to(os.path.abspath(os.path.join(KIND, "node", "iptables-wrapper")))
    return tmp_path, bindir


@pytest.mark.parametrize("legacy, nft, expected", [(0, 3, "nft"), (5, 2, "legacy"), (0, 0, "legacy")])
def test_iptables_wrapper_picks_the_backend_with_more_rules(fake_xtables, legacy, nft, expected):
    tmp, bindir = fake_xtables
    calls = tmp / "calls"
    env = dict(os.environ, PATH="%s:/usr/bin:/bin" % bindir, RULES_LEGACY=str(legacy), RULES_NFT=str(nft),
               CALLS=str(calls), IPTABLES_MODE_FILE=str(tmp / "mode"))
    subprocess.run([str(bindir / "iptables-restore"), "--noflush"], env=env, check=True)
    assert calls.read_text().split() == [expected, "iptables-restore", "--noflush"]
    assert (tmp / "mode").read_text().strip() == expected
    # The choice is kept: later calls do not count again.
    env["RULES_LEGACY"], env["RULES_NFT"] = str(nft + 10), str(legacy)
    subprocess.run([str(bindir / "iptables-restore"), "-w"], env=env, check=True)
    assert calls.read_text().split()[-3:] == [expected, "iptables-restore", "-w"]

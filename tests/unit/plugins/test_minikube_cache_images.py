# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/minikube/cache_images.py: the offline cache minikube v1.38.1 reads for Kubernetes v1.34.4."""

import importlib.util
import json
import os
import tarfile

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "minikube", "cache_images.py")
spec = importlib.util.spec_from_file_location("cache_images", SCRIPT)
cache_images = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cache_images)

KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubeadm", "kubelet",
                 "kubectl", "etcd", "etcdctl", "coredns", "pause")


@pytest.fixture()
def inputs(tmp_path):
    kube, mk, rootfs = tmp_path / "kube", tmp_path / "mk", tmp_path / "rootfs"
    for directory in (kube, mk, rootfs / "usr" / "sbin", rootfs / "dev"):
        directory.mkdir(parents=True)
    for name in KUBE_BINARIES:
        (kube / name).write_bytes(b"\x7fELF " + name.encode())
    (mk / "storage-provisioner").write_bytes(b"\x7fELF storage-provisioner")
    (rootfs / "usr" / "sbin" / "iptables").write_bytes(b"iptables")
    (rootfs / "dev" / "null").write_bytes(b"")
    return tmp_path, kube, mk, rootfs


def archive(home, ref):
    name, tag = ref.rsplit(":", 1)
    return home / "cache" / "images" / "amd64" / (name + "_" + tag)


def test_every_image_kubeadm_and_minikube_ask_for_is_cached(inputs):
    tmp, kube, mk, rootfs = inputs
    home = tmp / "home"
    cache_images.main(str(home), str(kube), str(mk), str(rootfs))
    repo = "localhost/genai-stack-test/minikube"
    expected = [repo + "/kube-apiserver:v1.34.4", repo + "/kube-controller-manager:v1.34.4", repo + "/kube-scheduler:v1.34.4",
                repo + "/kube-proxy:v1.34.4", repo + "/etcd:3.6.5-0", repo + "/coredns/coredns:v1.12.1",
                repo + "/pause:3.10.1", repo + "/k8s-minikube/storage-provisioner:v5"]
    for ref in expected:
        assert archive(home, ref).is_file(), ref
    for name in ("kubeadm", "kubelet", "kubectl"):
        assert (home / "cache" / "linux" / "amd64" / "v1.34.4" / name).read_bytes() == (kube / name).read_bytes()
    images_dir = home / "cache" / "images" / "amd64"
    assert sorted(str(p.relative_to(images_dir)) for p in images_dir.rglob("*") if p.is_file()) == sorted(
        str(archive(home, ref).relative_to(images_dir)) for ref in expected)


def test_archives_are_docker_archives_of_test_images(inputs):
    tmp, kube, mk, rootfs = inputs
    home = tmp / "home"
    cache_images.main(str(home), str(kube), str(mk), str(rootfs))
    ref = "localhost/genai-stack-test/minikube/kube-proxy:v1.34.4"
    with tarfile.open(archive(home, ref)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == [ref]
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert config["config"]["Labels"]["io.genai-stack.test-image"] == "true"
        assert config["config"]["Labels"]["org.opencontainers.image.description"].startswith("TEST IMAGE")
        assert len(manifest[0]["Layers"]) == 2 == len(config["rootfs"]["diff_ids"])
        base = tarfile.open(fileobj=tar.extractfile(manifest[0]["Layers"][0]))
        names = base.getnames()
        assert "usr/sbin/iptables" in names and "dev/null" not in names
        top = tarfile.open(fileobj=tar.extractfile(manifest[0]["Layers"][1]))
        assert top.extractfile("usr/local/bin/kube-proxy").read() == (kube / "kube-proxy").read_bytes()
    with tarfile.open(archive(home, "localhost/genai-stack-test/minikube/coredns/coredns:v1.12.1")) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert config["config"]["Entrypoint"] == ["/coredns"]
        # minikube caches it as coredns/coredns; kubeadm asks for coredns under the same repository
        assert manifest[0]["RepoTags"] == ["localhost/genai-stack-test/minikube/coredns/coredns:v1.12.1",
                                           "localhost/genai-stack-test/minikube/coredns:v1.12.1"]
        assert len(manifest[0]["Layers"]) == 1


def test_unchanged_inputs_are_not_rewritten(inputs, capsys):
    tmp, kube, mk, rootfs = inputs
    home = tmp / "home"
    cache_images.main(str(home), str(kube), str(mk), str(rootfs))
    assert capsys.readouterr().out.count("cached ") == 8
    cache_images.main(str(home), str(kube), str(mk), str(rootfs))
    assert capsys.readouterr().out == ""
    (kube / "etcd").write_bytes(b"\x7fELF a newer etcd")
    cache_images.main(str(home), str(kube), str(mk), str(rootfs))
    assert capsys.readouterr().out == "cached localhost/genai-stack-test/minikube/etcd:3.6.5-0\n"

"""Fill minikube's offline cache so that ``minikube start`` downloads nothing.

Usage: python3 cache_images.py MINIKUBE_HOME KUBE_BIN_DIR MINIKUBE_BIN_DIR NODE_ROOTFS

minikube looks for (pkg/minikube/download/binary.go, pkg/minikube/image/cache.go):
- $MINIKUBE_HOME/cache/linux/amd64/<k8s version>/{kubeadm,kubelet,kubectl}: used as they are;
- $MINIKUBE_HOME/cache/images/amd64/<repository>/<name>_<tag>: docker-archive tarballs, loaded
  into the node with ``ctr -n=k8s.io images import`` and skipped from pulling when present.
With ``--image-repository=R`` the kubeadm images are R/<name> (pkg/minikube/bootstrapper/images):
kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy (the Kubernetes version),
etcd:3.6.5-0, coredns/coredns:v1.12.1, pause:3.10.1, and the addon image
R/k8s-minikube/storage-provisioner:v5. Tags are what minikube v1.38.1 asks for with Kubernetes
v1.34.4; the binaries in them are this project's builds (tests/cluster/versions.env: etcd and
CoreDNS are newer than the tags say), so every image says TEST IMAGE and what it holds.

Static Go binaries get one layer each; kube-proxy also gets the node's root filesystem as a
base layer for iptables and conntrack. Each archive is rewritten only when its inputs changed
(a stamp in $MINIKUBE_HOME/cache/genai-stack-inputs, outside the directories minikube reads).
"""

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

REPOSITORY = os.environ.get("MINIKUBE_IMAGE_REPOSITORY", "localhost/genai-stack-test/minikube")
KUBE_VERSION = os.environ.get("KUBE_VERSION", "v1.34.4")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SKIP_DIRS = ("dev", "proc", "sys", "tmp", "run")
# Further names in the same archive: minikube caches CoreDNS as R/coredns/coredns, but kubeadm,
# given the image repository R, asks for R/coredns (its preflight pulls it offline otherwise).
ALIASES = {REPOSITORY + "/coredns/coredns:v1.12.1": [REPOSITORY + "/coredns:v1.12.1"]}


def images(kube_bin, minikube_bin):
    """{ref: (binaries [(source, path in image)], entrypoint, with_rootfs)}."""
    kube = {}
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"):
        kube["{0}/{1}:{2}".format(REPOSITORY, name, KUBE_VERSION)] = (
            [(os.path.join(kube_bin, name), "usr/local/bin/" + name)], None, name == "kube-proxy")
    kube[REPOSITORY + "/etcd:3.6.5-0"] = (
        [(os.path.join(kube_bin, b), "usr/local/bin/" + b) for b in ("etcd", "etcdctl")], None, False)
    kube[REPOSITORY + "/coredns/coredns:v1.12.1"] = ([(os.path.join(kube_bin, "coredns"), "coredns")], ["/coredns"], False)
    kube[REPOSITORY + "/pause:3.10.1"] = ([(os.path.join(kube_bin, "pause"), "pause")], ["/pause"], False)
    kube[REPOSITORY + "/k8s-minikube/storage-provisioner:v5"] = (
        [(os.path.join(minikube_bin, "storage-provisioner"), "storage-provisioner")], ["/storage-provisioner"], False)
    return kube


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def binaries_layer(binaries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for _source, path in binaries:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for directory in sorted(dirs):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(info)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o1777, 0
        tar.addfile(tmp)
        for source, path in binaries:
            with open(source, "rb") as handle:
                data = handle.read()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def rootfs_layer(rootfs, out):
    """The node's root filesystem as one tar layer at ``out``; returns its digest."""
    def keep(info):
        top = info.name.split("/", 1)[0]
        if top in SKIP_DIRS and "/" in info.name:
            return None
        if info.isdev() or info.isfifo():
            return None
        info.uid = info.gid = info.uid if info.uid < 65536 else 0
        info.uname = info.gname = ""
        return info

    digest = hashlib.sha256()
    with open(out, "wb") as raw:
        class Hashing(object):
            def write(self, data):
                digest.update(data)
                return raw.write(data)

        with tarfile.open(fileobj=Hashing(), mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for entry in sorted(os.listdir(rootfs)):
                tar.add(os.path.join(rootfs, entry), arcname=entry, filter=keep)
    return "sha256:" + digest.hexdigest()


def inputs_of(ref, binaries, entrypoint, rootfs):
    parts = [ref, json.dumps(entrypoint), rootfs or "", " ".join(ALIASES.get(ref, []))]
    for source, path in binaries:
        st = os.stat(source)
        parts.append("{0} {1} {2} {3}".format(source, path, st.st_size, int(st.st_mtime)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def write_archive(out, ref, binaries, entrypoint, base_layer):
    """A docker-archive (manifest.json, config, layers) of the image at ``out``."""
    layers = []
    if base_layer:
        layers.append(base_layer)
    data = binaries_layer(binaries)
    layers.append((sha256(data), data))
    description = "TEST IMAGE built by genai.stack tests/minikube from this project's {0}; tag is what minikube expects".format(
        ", ".join(os.path.basename(source) for source, dummy in binaries))
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": [PATH_ENV], "Entrypoint": entrypoint,
                   "Labels": {"io.genai-stack.test-image": "true", "io.genai-stack.stand-in": "false",
                              "org.opencontainers.image.description": description}},
        "rootfs": {"type": "layers", "diff_ids": [digest for digest, dummy in layers]},
    }, sort_keys=True).encode()
    config_name = sha256(config)[7:] + ".json"
    layer_names = [digest[7:] + "/layer.tar" for digest, dummy in layers]
    tags = [ref] + ALIASES.get(ref, [])
    manifest = json.dumps([{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]).encode()
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, payload=None, path=None):
            info = tarfile.TarInfo(name)
            info.mtime, info.mode = 0, 0o644
            if path:
                info.size = os.path.getsize(path)
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        add(config_name, config)
        for name, (_digest, payload) in zip(layer_names, layers):
            if isinstance(payload, bytes):
                add(name, payload)
            else:
                add(name, path=payload)
        add("manifest.json", manifest)
    os.replace(tmp, out)


def main(minikube_home, kube_bin, minikube_bin, rootfs):
    binaries_dir = os.path.join(minikube_home, "cache", "linux", "amd64", KUBE_VERSION)
    os.makedirs(binaries_dir, exist_ok=True)
    for name in ("kubeadm", "kubelet", "kubectl"):
        target = os.path.join(binaries_dir, name)
        source = os.path.join(kube_bin, name)
        if not os.path.exists(target) or os.path.getsize(target) != os.path.getsize(source):
            shutil.copy2(source, target)
            os.chmod(target, 0o755)
    base = None
    for ref, (binaries, entrypoint, with_rootfs) in sorted(images(kube_bin, minikube_bin).items()):
        name, tag = ref.rsplit(":", 1)
        out = os.path.join(minikube_home, "cache", "images", "amd64", name + "_" + tag)
        inputs = inputs_of(ref, binaries, entrypoint, rootfs if with_rootfs else None)
        stamp = os.path.join(minikube_home, "cache", "genai-stack-inputs", (name + "_" + tag).replace("/", "_"))
        if os.path.exists(out) and os.path.exists(stamp) and open(stamp).read() == inputs:
            continue
        os.makedirs(os.path.dirname(out), exist_ok=True)
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        if with_rootfs and base is None:
            layer_path = os.path.join(minikube_home, "cache", "rootfs-layer.tar")
            base = (rootfs_layer(rootfs, layer_path), layer_path)
        write_archive(out, ref, binaries, entrypoint, base if with_rootfs else None)
        with open(stamp, "w") as handle:
            handle.write(inputs)
        print("cached " + ref)
    if base:
        os.unlink(base[1])


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(*sys.argv[1:])

"""Write the control-plane images of the genai.stack TEST kind node as one OCI archive.

kubeadm runs the control plane from images: kube-apiserver, kube-controller-manager,
kube-scheduler, etcd, kube-proxy and CoreDNS, plus containerd's pod sandbox (pause).
kind's node images carry them preloaded; here they are built from the binaries of
tests/cluster/build.sh (no registry), one small layer each, under
``localhost/genai-stack-test/kind/<name>:<version>`` with the project's test-image labels.
The kube-proxy image also carries iptables (the xtables binaries, their modules and the
shared libraries they load, copied from the node's root filesystem) behind a wrapper that
picks the legacy or nft backend as kind's node does.

Usage:
  node_images.py archive --bin-dir DIR --rootfs DIR --versions FILE --out FILE.tar
  node_images.py refs --versions FILE

The archive is an OCI image layout tarball (``ctr images import`` reads it); each image's
index entry carries ``io.containerd.image.name`` = its full ref.
"""
import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = "localhost/genai-stack-test/kind"
FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IPTABLES_LINKS = ("iptables", "iptables-save", "iptables-restore",
                  "ip6tables", "ip6tables-save", "ip6tables-restore")
LABELS = {
    "io.genai-stack.test-image": "true",
    "io.genai-stack.stand-in": "false",
}


def read_versions(path):
    """KEY=VALUE lines of tests/cluster/versions.env -> dict (comments and blanks skipped)."""
    out = {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                out[key.strip()] = value.strip()
    return out


def image_specs(versions):
    """name -> {tag, files: {path in image: (source kind, source)}, entrypoint, user}.

    Tags are the versions actually built (kubeadm is told them through its config:
    imageRepository, etcd.local.imageTag, dns.imageTag).
    """
    kube = versions["KUBE_VERSION"]

    def bin_(name):
        return ("bin", name)  # a file of the binary directory

    return {
        "kube-apiserver": {"tag": kube, "files": {"usr/local/bin/kube-apiserver": bin_("kube-apiserver")}},
        "kube-controller-manager": {"tag": kube, "files": {
            "usr/local/bin/kube-controller-manager": bin_("kube-controller-manager")}},
        "kube-scheduler": {"tag": kube, "files": {"usr/local/bin/kube-scheduler": bin_("kube-scheduler")}},
        "kube-proxy": {"tag": kube, "iptables": True, "files": {"usr/local/bin/kube-proxy": bin_("kube-proxy")}},
        "etcd": {"tag": versions["ETCD_VERSION"], "files": {
            "usr/local/bin/etcd": bin_("etcd"), "usr/local/bin/etcdctl": bin_("etcdctl")}},
        "coredns": {"tag": versions["COREDNS_VERSION"], "entrypoint": ["/coredns"],
                    "files": {"coredns": bin_("coredns")}},
        "pause": {"tag": versions["PAUSE_VERSION"], "entrypoint": ["/pause"], "user": "65535:65535",
                  "files": {"pause": bin_("pause")}},
    }


def refs(versions):
    return ["%s/%s:%s" % (REPOSITORY, name, spec["tag"]) for name, spec in image_specs(versions).items()]


def parse_ldd(text):
    """Absolute library paths from `ldd` output (the vdso and missing libraries are skipped)."""
    libs = []
    for line in text.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" (", 1)[0].strip()
        else:
            target = line.split(" (", 1)[0].strip()
        if target.startswith("/"):
            libs.append(target)
    return libs


def iptables_files(rootfs):
    """Paths (relative to the rootfs) kube-proxy's iptables needs: the two xtables multi-call
    binaries, every xtables module, the libraries they load (via `ldd` in a chroot), and sh."""
    wanted = ["usr/sbin/xtables-legacy-multi", "usr/sbin/xtables-nft-multi", "bin/dash"]
    moddir = "usr/lib/x86_64-linux-gnu/xtables"
    wanted += [os.path.join(moddir, m) for m in sorted(os.listdir(os.path.join(rootfs, moddir)))]
    libs = set()
    for rel in wanted:
        out = subprocess.run(["chroot", rootfs, "ldd", "/" + rel], capture_output=True, text=True, check=False).stdout
        libs.update(parse_ldd(out))
    files = set(wanted)
    for lib in libs:
        files.add(lib.lstrip("/"))
    return sorted(files)


class Layer:
    """An uncompressed, deterministic tar layer built in memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)
        self.dirs = set()

    def _dir(self, path):
        parent = os.path.dirname(path)
        if not parent or parent in self.dirs:
            return
        self._dir(parent)
        info = tarfile.TarInfo(parent)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
        self.tar.addfile(info)
        self.dirs.add(parent)

    def add_bytes(self, path, data, mode=0o755):
        self._dir(path)
        info = tarfile.TarInfo(path)
        info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
        self.tar.addfile(info, io.BytesIO(data))

    def add_symlink(self, path, target):
        self._dir(path)
        info = tarfile.TarInfo(path)
        info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, FIXED_MTIME
        self.tar.addfile(info)

    def add_dir(self, path, mode=0o755):
        self._dir(path)
        info = tarfile.TarInfo(path)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, FIXED_MTIME
        self.tar.addfile(info)
        self.dirs.add(path)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def resolve_in_rootfs(rootfs, rel):
    """Follow symbolic links of rootfs/rel as if rootfs were / (absolute targets stay inside
    it); return the resolved path relative to rootfs."""
    parts = [p for p in rel.split("/") if p]
    done = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(rootfs, *done, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError("too many levels of symbolic links: " + rel)
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        done.append(part)
    return "/".join(done)


def add_rootfs_file(layer, rootfs, rel, added):
    """Copy rootfs/rel into the layer at its resolved path, with a link at `rel` when that
    differs; `added` (a set) keeps each path once."""
    real_rel = resolve_in_rootfs(rootfs, rel)
    if real_rel not in added:
        real = os.path.join(rootfs, real_rel)
        with open(real, "rb") as fh:
            data = fh.read()
        layer.add_bytes(real_rel, data, os.stat(real).st_mode & 0o7777)
        added.add(real_rel)
    if real_rel != rel and rel not in added:
        layer.add_symlink(rel, "/" + real_rel)
        added.add(rel)
    return real_rel


def build_layer(name, spec, bin_dir, rootfs):
    layer = Layer()
    for path, (_kind, source) in sorted(spec["files"].items()):
        with open(os.path.join(bin_dir, source), "rb") as fh:
            layer.add_bytes(path, fh.read())
    if spec.get("iptables"):
        # usr-merged layout, as Debian's: /bin, /sbin, /lib, /lib64 are links into /usr.
        for top in ("bin", "sbin", "lib", "lib64"):
            layer.add_symlink(top, "usr/" + top)
        added = set()
        for rel in iptables_files(rootfs):
            if rel.startswith(("lib/", "lib64/", "bin/", "sbin/")):
                rel = "usr/" + rel
            add_rootfs_file(layer, rootfs, rel, added)
        layer.add_symlink("usr/bin/sh", "dash")
        with open(os.path.join(HERE, "node", "iptables-wrapper"), "rb") as fh:
            layer.add_bytes("usr/sbin/iptables-wrapper", fh.read())
        for link in IPTABLES_LINKS:
            layer.add_symlink("usr/sbin/" + link, "iptables-wrapper")
        # iptables takes its lock in /run (kubeadm's DaemonSet mounts /run/xtables.lock there).
        layer.add_dir("run")
        layer.add_dir("tmp", 0o1777)
    return layer.bytes()


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_blobs(name, spec, layer):
    """(config bytes, manifest bytes) of one image whose only layer is `layer`."""
    ref = "%s/%s:%s" % (REPOSITORY, name, spec["tag"])
    labels = dict(LABELS)
    labels["org.opencontainers.image.title"] = "genai-stack-test/kind/%s" % name
    labels["org.opencontainers.image.version"] = spec["tag"]
    labels["org.opencontainers.image.description"] = (
        "TEST IMAGE of the genai.stack collection: %s built from source for the kind node; not for production" % name)
    config = {"Env": ["PATH=" + PATH], "Labels": labels}
    if spec.get("entrypoint"):
        config["Entrypoint"] = spec["entrypoint"]
    if spec.get("user"):
        config["User"] = spec["user"]
    config_bytes = dumps({
        "architecture": "amd64", "os": "linux", "created": CREATED, "config": config,
        "rootfs": {"type": "layers", "diff_ids": [digest_of(layer)]},
        "history": [{"created": CREATED, "created_by": "tests/kind/node_images.py " + ref}],
    })
    manifest = dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest_of(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": digest_of(layer), "size": len(layer)}],
        "annotations": {"org.opencontainers.image.ref.name": ref},
    })
    return ref, config_bytes, manifest


def write_archive(out, images):
    """images: list of (ref, [blobs], manifest bytes) -> OCI layout tarball at out."""
    index = {"schemaVersion": 2, "manifests": []}
    blobs = {}
    for ref, image_blob_list, manifest in images:
        for blob in image_blob_list + [manifest]:
            blobs[digest_of(blob)] = blob
        index["manifests"].append({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest_of(manifest), "size": len(manifest),
            "annotations": {"io.containerd.image.name": ref,
                            "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[1]},
        })
    tmp = out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", dumps(index))
        for digest in sorted(blobs):
            add("blobs/sha256/" + digest.split(":", 1)[1], blobs[digest])
    os.replace(tmp, out)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("archive")
    a.add_argument("--bin-dir", required=True)
    a.add_argument("--rootfs", required=True)
    a.add_argument("--versions", required=True)
    a.add_argument("--out", required=True)
    r = sub.add_parser("refs")
    r.add_argument("--versions", required=True)
    args = parser.parse_args(argv)
    versions = read_versions(args.versions)
    if args.command == "refs":
        print("\n".join(refs(versions)))
        return 0
    images = []
    for name, spec in image_specs(versions).items():
        layer = build_layer(name, spec, args.bin_dir, args.rootfs)
        ref, config, manifest = image_blobs(name, spec, layer)
        images.append((ref, [layer, config], manifest))
    write_archive(args.out, images)
    for ref, blobs, _manifest in images:
        print("%s %d bytes" % (ref, len(blobs[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

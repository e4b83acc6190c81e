"""Package one static binary as a single-layer OCI image tarball for `ctr images import`.

Usage: python3 binary_image.py BINARY IMAGE_REF OUTPUT_TAR [USER]

The image holds the binary as /<basename> (mode 0755, mtime 0) and an empty /tmp; its
entrypoint is that file, its user USER (default 65532:65532). The layer is streamed
through a temporary file, so a 200 MB binary needs no more memory than a small one.
"""
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile

CHUNK = 1 << 20


class HashingWriter:
    """A file object that hashes what is written through it."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)


def write_layer(binary_path, fh):
    """Write the layer tar to fh; return (digest, size)."""
    out = HashingWriter(fh)
    name = os.path.basename(binary_path)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o1777, 0
        tar.addfile(tmp)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = os.path.getsize(binary_path), 0o755, 0
        with open(binary_path, "rb") as src:
            tar.addfile(info, src)
    return "sha256:" + out.sha.hexdigest(), out.size


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def main(binary_path, ref, out, user="65532:65532"):
    name = os.path.basename(binary_path)
    with tempfile.TemporaryFile() as layer:
        layer_digest, layer_size = write_layer(binary_path, layer)
        config = json.dumps({
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Entrypoint": ["/" + name],
                "User": user,
                "Labels": {
                    "io.genai-stack.test-image": "true",
                    "org.opencontainers.image.description": f"TEST IMAGE: {name} for the local test cluster",
                },
            },
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        }, sort_keys=True).encode()
        config_digest = digest_of(config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer_size}],
        }, sort_keys=True).encode()
        manifest_digest = digest_of(manifest)
        index = json.dumps({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": len(manifest),
                "annotations": {"io.containerd.image.name": ref,
                                "org.opencontainers.image.ref.name": ref.rsplit(":", 1)[-1]},
            }],
        }, sort_keys=True).encode()
        tmp_out = out + ".tmp"
        with tarfile.open(tmp_out, "w") as tar:
            def add(entry, data):
                info = tarfile.TarInfo(entry)
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", index)
            add("blobs/sha256/" + config_digest.split(":", 1)[1], config)
            add("blobs/sha256/" + manifest_digest.split(":", 1)[1], manifest)
            layer.seek(0)
            info = tarfile.TarInfo("blobs/sha256/" + layer_digest.split(":", 1)[1])
            info.size, info.mtime = layer_size, 0
            tar.addfile(info, layer)
        os.replace(tmp_out, out)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    main(*sys.argv[1:])

#!/usr/bin/env python3
"""Build the genai.stack TEST images as one OCI image layout (stdlib only).

Every image shares two layers: the Debian root filesystem (debootstrap) and a small
layer with the stand-in programs and entrypoints; images differ only in their config
(entrypoint, env, ports, user, labels). Output is deterministic (fixed mtimes, sorted
entries), so an unchanged input gives unchanged digests and a re-import is skipped.

Usage: build_images.py ROOTFS_DIR OUTPUT_LAYOUT_DIR  (prints "ref digest" per image)
"""
import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = "localhost/genai-stack-test"
TAG = "1.0.0"
TOOLS = {
    # path in the image: path in this directory
    "usr/local/lib/standin/standin.py": "standin/standin.py",
    "usr/local/bin/celery": "standin/celery",
    "usr/local/bin/wait-for": "standin/wait-for",
    "usr/local/bin/mysql-entrypoint": "entrypoints/mysql.sh",
    "usr/local/bin/postgres-entrypoint": "entrypoints/postgres.sh",
    "usr/local/bin/redis-entrypoint": "entrypoints/redis.sh",
}
STANDIN = ["/usr/bin/tini", "--", "python3", "/usr/local/lib/standin/standin.py"]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def standin(title, profile="", ports=(), storage=""):
    env = {"STANDIN_PROFILE": profile} if profile else {}
    if storage:
        env["STANDIN_STORAGE"] = storage
    return {"title": title, "entrypoint": STANDIN, "ports": list(ports), "env": env,
            "user": "1000:1000", "real": False}


IMAGES = {
    "app": standin("generic application stand-in (gateway, chat, ai, worker, frontend, ...)"),
    "qdrant": standin("Qdrant stand-in", "qdrant", (6333, 6334), "/qdrant/storage"),
    "minio": standin("MinIO stand-in", "minio", (9000, 9001), "/data"),
    "kafka": standin("Kafka stand-in (TCP only)", "kafka", (9092,)),
    "jaeger": standin("Jaeger stand-in", "jaeger", (16686, 4317, 4318, 14268, 14269)),
    "prometheus": standin("Prometheus stand-in", "prometheus", (9090,)),
    "grafana": standin("Grafana stand-in", "grafana", (3000,)),
    "mysql": {"title": "MariaDB with the official mysql image contract",
              "entrypoint": ["/usr/bin/tini", "--", "/usr/local/bin/mysql-entrypoint"],
              "ports": [3306], "env": {}, "user": "", "real": True},
    "postgres": {"title": "PostgreSQL 15 with the official postgres image contract",
                 "entrypoint": ["/usr/bin/tini", "--", "/usr/local/bin/postgres-entrypoint"],
                 "ports": [5432], "env": {"PGDATA": "/var/lib/postgresql/data"}, "user": "", "real": True},
    "redis": {"title": "Redis 7 server",
              "entrypoint": ["/usr/bin/tini", "--", "/usr/local/bin/redis-entrypoint"],
              "ports": [6379], "env": {}, "user": "", "real": True},
}
SKIP_DIRS = ("dev", "proc", "sys", "run", "tmp", "var/cache/apt", "var/lib/apt/lists",
             "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")
WRITABLE = ("tmp", "run", "var/run/postgresql", "var/lib/postgresql", "var/lib/mysql",
            "run/mysqld", "data", "qdrant/storage")


class HashingWriter:
    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)


def normalise(info):
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def add_dir_entry(tar, name, mode=0o1777):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(normalise(info))


def rootfs_layer(rootfs, out):
    """The Debian root filesystem as one deterministic tar layer."""
    with open(out, "wb") as raw:
        writer = HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for top in sorted(os.listdir(rootfs)):
                walk_into(tar, rootfs, top)
            for name in WRITABLE:
                if not os.path.lexists(os.path.join(rootfs, name)):
                    add_dir_entry(tar, name)
    return "sha256:" + writer.sha.hexdigest(), writer.size


def walk_into(tar, rootfs, rel):
    path = os.path.join(rootfs, rel)
    st = os.lstat(path)
    if rel in SKIP_DIRS or rel.startswith(tuple(d + "/" for d in SKIP_DIRS)):
        if stat.S_ISDIR(st.st_mode):
            # Keep the directory itself, empty; /tmp and /run writable by any uid.
            add_dir_entry(tar, rel, 0o1777 if rel in ("tmp", "run") else 0o755)
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        return  # device nodes, fifos and sockets stay out of the layer
    info = tar.gettarinfo(path, arcname=rel)
    if rel in WRITABLE and info.isdir():
        info.mode = 0o1777 if rel in ("tmp", "run") else 0o777
    if info.isreg():
        with open(path, "rb") as fh:
            tar.addfile(normalise(info), fh)
    else:
        tar.addfile(normalise(info))
    if info.isdir():
        for child in sorted(os.listdir(path)):
            walk_into(tar, rootfs, rel + "/" + child)


def tools_layer(out):
    with open(out, "wb") as raw:
        writer = HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            dirs = set()
            for dest in sorted(TOOLS):
                parts = dest.split("/")[:-1]
                for i in range(1, len(parts) + 1):
                    d = "/".join(parts[:i])
                    if d not in dirs:
                        dirs.add(d)
                        add_dir_entry(tar, d, 0o755)
                src = os.path.join(HERE, TOOLS[dest])
                info = tar.gettarinfo(src, arcname=dest)
                info.uid = info.gid = 0
                info.mode = 0o755
                with open(src, "rb") as fh:
                    tar.addfile(normalise(info), fh)
    return "sha256:" + writer.sha.hexdigest(), writer.size


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as fh:
        fh.write(data)
    return "sha256:" + digest, len(data)


def link_blob(layout, path, digest):
    target = os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])
    if not os.path.exists(target):
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)


def image_config(name, spec, diff_ids):
    ports = {f"{p}/tcp": {} for p in spec["ports"]}
    env = [f"PATH={PATH}"] + [f"{k}={v}" for k, v in sorted(spec["env"].items())]
    labels = {
        "org.opencontainers.image.title": f"genai-stack-test/{name}",
        "org.opencontainers.image.description": "TEST IMAGE for genai.stack: " + spec["title"],
        "org.opencontainers.image.version": TAG,
        "io.genai-stack.test-image": "true",
        "io.genai-stack.stand-in": "false" if spec["real"] else "true",
    }
    config = {"Entrypoint": spec["entrypoint"], "Env": env, "Labels": labels, "WorkingDir": "/"}
    if ports:
        config["ExposedPorts"] = ports
    if spec["user"]:
        config["User"] = spec["user"]
    return {"architecture": "amd64", "os": "linux", "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}}


def main(rootfs, layout, cache):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    base_path = os.path.join(cache, "rootfs-layer.tar")
    base_meta = base_path + ".json"
    stamp = os.path.join(rootfs, ".genai-stamp")
    with open(stamp) as fh:
        key = fh.read().strip()
    meta = None
    if os.path.exists(base_meta):
        with open(base_meta) as fh:
            meta = json.load(fh)
        if meta.get("key") != key or not os.path.exists(base_path):
            meta = None
    if meta is None:
        digest, size = rootfs_layer(rootfs, base_path + ".tmp")
        os.replace(base_path + ".tmp", base_path)
        meta = {"key": key, "digest": digest, "size": size}
        with open(base_meta, "w") as fh:
            json.dump(meta, fh)
    tools_path = os.path.join(cache, "tools-layer.tar")
    tools_digest, tools_size = tools_layer(tools_path)
    link_blob(layout, base_path, meta["digest"])
    link_blob(layout, tools_path, tools_digest)
    layers = [(meta["digest"], meta["size"]), (tools_digest, tools_size)]
    manifests = []
    for name in sorted(IMAGES):
        ref = f"{REPO}/{name}:{TAG}"
        config = json.dumps(image_config(name, IMAGES[name], [d for d, _ in layers]), sort_keys=True).encode()
        config_digest, config_size = write_blob(layout, config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                       for d, s in layers],
        }, sort_keys=True).encode()
        digest, size = write_blob(layout, manifest)
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": digest, "size": size,
                          "annotations": {"io.containerd.image.name": ref,
                                          "org.opencontainers.image.ref.name": TAG}})
        print(ref, digest)
    with open(os.path.join(layout, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "manifests": manifests}, fh, sort_keys=True)
    with open(os.path.join(layout, "oci-layout"), "w") as fh:
        fh.write('{"imageLayoutVersion":"1.0.0"}')


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: build_images.py ROOTFS_DIR OUTPUT_LAYOUT_DIR CACHE_DIR")
    main(*sys.argv[1:])

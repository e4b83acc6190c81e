#!/usr/bin/env python
"""Write the genai.stack TEST images as OCI image layouts (Python standard library only).

Every image has two layers:
  1. the Debian root filesystem (debootstrap, tests/images/rootfs), one tar layer whose
     digest is the same in every image (containerd stores and unpacks it once);
  2. a small layer of its own: the stand-in programs, the image's entrypoint and a
     description of the image in /etc/genai-stack-test/image.json.
Layers are uncompressed tars written deterministically: sorted entries, numeric owners
only, PAX format; the per-image layer has a fixed mtime, the rootfs layer keeps each
file's mtime from the cached rootfs (so Python's byte-code caches stay valid); device nodes,
fifos and sockets are left out; symlinks, hard links, modes and setuid bits are kept.
Unchanged inputs give unchanged digests, so builds and imports are skipped.

Cache layout (OUT = ${GENAI_STACK_CACHE:-~/.cache/genai-stack}/images):
  OUT/blobs/sha256/<digest>          every blob (layers, configs, manifests), once
  OUT/rootfs-layer.json              {key, digest, size} of the rootfs layer
  OUT/oci/<name>/                    OCI image layout of one image (oci-layout, index.json,
                                     blobs/ hard-linked from OUT/blobs); `tar -C` it to get
                                     the image's OCI tarball
  OUT/oci/<name>/inputs              content hash of the inputs it was built from

  oci.py build --rootfs DIR --out OUT      build what is out of date
  oci.py refs [--out OUT --with-digest]    "ref [digest layout-dir]" per image
  oci.py stream --out OUT NAME...          one OCI archive of those images on stdout
"""
import argparse
import hashlib
import json
import os
import shutil
import stat
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = "localhost/genai-stack-test"
TAG = "1.0.0"
FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z, every entry of the per-image layers
CREATED = "2024-01-01T00:00:00Z"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TINI = ["/usr/bin/tini", "-g", "--"]
STANDIN = TINI + ["/usr/local/bin/standin"]
ENTRYPOINT = TINI + ["/usr/local/bin/docker-entrypoint.sh"]

# Files of every per-image layer: path in the image -> (path under tests/images, mode).
COMMON_FILES = {
    "usr/local/lib/standin/standin.py": ("standin/standin.py", 0o755),
    "usr/local/bin/celery": ("standin/celery", 0o755),
    "usr/local/bin/wait-for": ("standin/wait-for", 0o755),
}
# Symbolic links of every per-image layer (`python` for the stand-in's `#!/usr/bin/env python`
# and for `command: [python, ...]` overrides).
SYMLINKS = {
    "usr/local/bin/python": "/usr/bin/python3",
    "usr/local/bin/standin": "../lib/standin/standin.py",
}
# Directories every per-image layer creates, writable by any uid.
COMMON_DIRS = {"app": 0o777, "app/logs": 0o777, "app/uploads": 0o777}
# The rootfs layer leaves out the content of these (the runtime mounts its own).
EMPTY_DIRS = ("dev", "proc", "sys", "tmp", "mnt", "media")


def standin(title, profile, ports=(), user="1000:1000", storage="", workdir="/app", extra_env=None):
    env = {"STANDIN_PROFILE": profile, "PYTHONUNBUFFERED": "1"}
    if storage:
        env["STANDIN_STORAGE"] = storage
    env.update(extra_env or {})
    return {"title": title, "stand_in": True, "entrypoint": STANDIN, "cmd": [], "ports": list(ports),
            "env": env, "user": user, "workdir": workdir, "files": {}, "packages": ["python3"],
            "volumes": [storage] if storage else []}


def server(title, entrypoint_file, cmd, ports, env, workdir, volumes, packages, files=None):
    files = dict(files or {})
    files["usr/local/bin/docker-entrypoint.sh"] = (entrypoint_file, 0o755)
    return {"title": title, "stand_in": False, "entrypoint": ENTRYPOINT, "cmd": cmd, "ports": ports,
            "env": env, "user": "", "workdir": workdir, "files": files, "packages": packages,
            "volumes": volumes}


IMAGES = {
    "app": standin("generic application stand-in (every application image of the seeds)", "app"),
    "qdrant": standin("Qdrant stand-in: HTTP 6333 (/healthz /readyz /livez /collections), TCP 6334",
                      "qdrant", (6333, 6334), user="", storage="/qdrant/storage", workdir="/qdrant"),
    "minio": standin("MinIO stand-in: 9000 /minio/health/live|ready, console 9001", "minio",
                     (9000, 9001), user="", storage="/data", workdir="/data"),
    "kafka": standin("Kafka stand-in: TCP 9092 accepts connections (no Kafka protocol)", "kafka",
                     (9092,), user="1001:0"),
    "jaeger": standin("Jaeger all-in-one stand-in: UI 16686, OTLP 4317 (TCP)/4318, 14268, admin 14269",
                      "jaeger", (16686, 4317, 4318, 14268, 14269), user="10001:0"),
    "prometheus": standin("Prometheus stand-in: 9090 /-/ready /-/healthy /api/v1/targets", "prometheus",
                          (9090,), user="65534:65534", workdir="/prometheus"),
    "grafana": standin("Grafana stand-in: 3000 /api/health", "grafana", (3000,), user="472:0",
                       workdir="/usr/share/grafana"),
    "mysql": server("MariaDB serving the official mysql image contract", "entrypoints/mysql.sh",
                    ["mysqld"], [3306], {}, "/", ["/var/lib/mysql"], ["mariadb-server", "mariadb-client"]),
    "postgres": server("PostgreSQL 15 serving the official postgres image contract", "entrypoints/postgres.sh",
                       ["postgres"], [5432],
                       {"PGDATA": "/var/lib/postgresql/data", "PG_MAJOR": "15",
                        "PATH": "/usr/lib/postgresql/15/bin:" + PATH},
                       "/", ["/var/lib/postgresql/data"], ["postgresql-15"]),
    "redis": server("Redis server (official redis image contract)", "entrypoints/redis.sh", ["redis-server"],
                    [6379], {}, "/data", ["/data"], ["redis-server", "redis-tools"],
                    files={"usr/local/bin/redis-server": ("entrypoints/redis-server", 0o755)}),
}
for _spec in IMAGES.values():
    _spec["files"] = {**COMMON_FILES, **_spec["files"]}


def ref(name):
    return f"{REPOSITORY}/{name}:{TAG}"


# ----------------------------------------------------------------------------- tar writing
class HashingWriter:
    """File object that hashes and counts what goes through it."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data):
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)


def normalise(info, mtime=None):
    if mtime is not None:
        info.mtime = mtime
    info.uname = info.gname = ""
    info.pax_headers = {}
    return info


def rootfs_entries(rootfs):
    """Relative paths of the rootfs in a fixed order (depth first, sorted by name)."""
    def walk(rel):
        yield rel
        path = os.path.join(rootfs, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            if rel in EMPTY_DIRS:
                return
            for child in sorted(os.listdir(path)):
                yield from walk(f"{rel}/{child}")

    for top in sorted(os.listdir(rootfs)):
        if top == ".genai-stamp":
            continue
        yield from walk(top)


def write_rootfs_layer(rootfs, out_path):
    """The rootfs as one tar layer; returns (digest, size)."""
    skipped = 0
    with open(out_path, "wb") as raw:
        writer = HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for rel in rootfs_entries(rootfs):
                path = os.path.join(rootfs, rel)
                mode = os.lstat(path).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                    skipped += 1  # device nodes, fifos, sockets: the runtime provides /dev
                    continue
                info = normalise(tar.gettarinfo(path, arcname=rel))
                if info.isreg():
                    with open(path, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)  # directories, symlinks, hard links (tarfile tracks inodes)
    return "sha256:" + writer.sha.hexdigest(), writer.size


def image_description(name, spec, versions):
    return {
        "ref": ref(name), "test_image": True, "stand_in": spec["stand_in"], "title": spec["title"],
        "ports": spec["ports"], "packages": {p: versions.get(p, "") for p in spec["packages"]},
        "contract": "tests/images/README.md of the genai.stack collection",
    }


def write_image_layer(name, spec, versions, out_path):
    """The per-image layer; returns (digest, size)."""
    entries = {}
    for dest, (src, mode) in spec["files"].items():
        with open(os.path.join(HERE, src), "rb") as fh:
            entries[dest] = (fh.read(), mode)
    desc = json.dumps(image_description(name, spec, versions), indent=2, sort_keys=True) + "\n"
    entries["etc/genai-stack-test/image.json"] = (desc.encode(), 0o644)
    dirs = dict(COMMON_DIRS)
    if spec["workdir"] not in ("/", "/data"):
        dirs[spec["workdir"].strip("/")] = 0o777
    for dest in entries:
        parts = dest.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.setdefault("/".join(parts[:i]), 0o755)
    with open(out_path, "wb") as raw:
        writer = HashingWriter(raw)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(set(dirs) | set(entries) | set(SYMLINKS)):
                info = tarfile.TarInfo(path)
                if path in SYMLINKS:
                    info.type, info.linkname, info.mode = tarfile.SYMTYPE, SYMLINKS[path], 0o777
                    tar.addfile(normalise(info, FIXED_MTIME))
                elif path in entries:
                    data, info.mode = entries[path]
                    info.size = len(data)
                    tar.addfile(normalise(info, FIXED_MTIME), _BytesReader(data))
                else:
                    info.type, info.mode = tarfile.DIRTYPE, dirs[path]
                    tar.addfile(normalise(info, FIXED_MTIME))
    return "sha256:" + writer.sha.hexdigest(), writer.size


class _BytesReader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n=-1):
        end = len(self.data) if n < 0 else self.pos + n
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


# ----------------------------------------------------------------------------- OCI objects
def image_config(name, spec, diff_ids):
    env = {"PATH": PATH}
    env.update(spec["env"])
    labels = {
        "org.opencontainers.image.title": f"genai-stack-test/{name}",
        "org.opencontainers.image.description": f"TEST IMAGE of genai.stack, not for production: {spec['title']}",
        "org.opencontainers.image.version": TAG,
        "org.opencontainers.image.ref.name": ref(name),
        "org.opencontainers.image.base.name": "debian:bookworm (debootstrap minbase)",
        "io.genai-stack.test-image": "true",
        "io.genai-stack.stand-in": "true" if spec["stand_in"] else "false",
    }
    config = {
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Entrypoint": spec["entrypoint"],
        "WorkingDir": spec["workdir"],
        "Labels": labels,
        "StopSignal": "SIGTERM",
    }
    if spec["cmd"]:
        config["Cmd"] = spec["cmd"]
    if spec["ports"]:
        config["ExposedPorts"] = {f"{p}/tcp": {} for p in spec["ports"]}
    if spec["user"]:
        config["User"] = spec["user"]
    if spec["volumes"]:
        config["Volumes"] = {v: {} for v in spec["volumes"]}
    return {
        "created": CREATED, "architecture": "amd64", "os": "linux", "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": CREATED, "created_by": "debootstrap --variant=minbase bookworm (tests/images/rootfs)"},
            {"created": CREATED, "created_by": f"tests/images/oci.py: {name} files and configuration"},
        ],
    }


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Store:
    def __init__(self, out):
        self.out = out
        self.blobs = os.path.join(out, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)

    def path(self, digest):
        return os.path.join(self.blobs, digest.split(":", 1)[1])

    def put(self, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if not os.path.exists(self.path(digest)):
            tmp = self.path(digest) + ".tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.path(digest))
        return digest, len(data)

    def put_file(self, writer_fn, *args):
        tmp = os.path.join(self.blobs, f".tmp-{os.getpid()}")
        digest, size = writer_fn(*args, tmp)
        os.replace(tmp, self.path(digest))
        return digest, size


def package_versions(rootfs):
    versions, pkg = {}, None
    try:
        with open(os.path.join(rootfs, "var/lib/dpkg/status"), encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("Package: "):
                    pkg = line.split(":", 1)[1].strip()
                elif line.startswith("Version: ") and pkg:
                    versions[pkg] = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return versions


def inputs_hash(name, spec, base):
    sha = hashlib.sha256()
    for part in (base["digest"], ref(name), json.dumps(spec, sort_keys=True)):
        sha.update(part.encode() + b"\0")
    for path in [os.path.abspath(__file__)] + sorted(os.path.join(HERE, src) for src, _mode in spec["files"].values()):
        with open(path, "rb") as fh:
            sha.update(fh.read() + b"\0")
    return sha.hexdigest()


def rootfs_layer(store, rootfs):
    """The rootfs layer, rebuilt only when the rootfs key changed."""
    with open(os.path.join(rootfs, ".genai-stamp")) as fh:
        key = fh.read().strip()
    meta_path = os.path.join(store.out, "rootfs-layer.json")
    try:
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta["key"] == key and os.path.exists(store.path(meta["digest"])):
            return meta, False
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.time()
    digest, size = store.put_file(write_rootfs_layer, rootfs)
    meta = {"key": key, "digest": digest, "size": size, "seconds": round(time.time() - t0, 1)}
    with open(meta_path + ".tmp", "w") as fh:
        json.dump(meta, fh)
    os.replace(meta_path + ".tmp", meta_path)
    return meta, True


def link(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def write_layout(store, name, blobs, manifest_desc):
    """OUT/oci/<name>: an OCI image layout holding one image."""
    final = os.path.join(store.out, "oci", name)
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "blobs", "sha256"))
    for digest in blobs:
        link(store.path(digest), os.path.join(tmp, "blobs", "sha256", digest.split(":", 1)[1]))
    with open(os.path.join(tmp, "oci-layout"), "wb") as fh:
        fh.write(dumps({"imageLayoutVersion": "1.0.0"}))
    with open(os.path.join(tmp, "index.json"), "wb") as fh:
        fh.write(dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [manifest_desc]}))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


def build(rootfs, out):
    store = Store(out)
    t0 = time.time()
    base, rebuilt = rootfs_layer(store, rootfs)
    print(f"rootfs layer {base['digest'][:19]} {base['size'] / 2**20:.0f} MiB "
          + (f"written ({time.time() - t0:.0f}s)" if rebuilt else "up to date"), file=sys.stderr)
    versions = package_versions(rootfs)
    built = []
    for name in sorted(IMAGES):
        spec = IMAGES[name]
        layout = os.path.join(out, "oci", name)
        key = inputs_hash(name, spec, base)
        try:
            with open(os.path.join(layout, "inputs")) as fh:
                if fh.read().strip() == key and os.path.exists(os.path.join(layout, "index.json")):
                    continue
        except OSError:
            pass
        layer_digest, layer_size = store.put_file(write_image_layer, name, spec, versions)
        config_digest, config_size = store.put(dumps(image_config(name, spec, [base["digest"], layer_digest])))
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                       for d, s in ((base["digest"], base["size"]), (layer_digest, layer_size))],
            "annotations": {"org.opencontainers.image.title": f"genai-stack-test/{name}",
                            "io.genai-stack.test-image": "true"},
        }
        manifest_digest, manifest_size = store.put(dumps(manifest))
        desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
                "size": manifest_size, "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": ref(name),
                                "io.containerd.image.name": ref(name)}}
        layout = write_layout(store, name, [base["digest"], layer_digest, config_digest, manifest_digest], desc)
        with open(os.path.join(layout, "inputs"), "w") as fh:
            fh.write(key + "\n")
        built.append(name)
    gc(store)
    print(f"images built: {', '.join(built) or 'none'}; up to date: {len(IMAGES) - len(built)}", file=sys.stderr)
    return built


def gc(store):
    """Remove blobs no image layout references any more (older builds)."""
    used = set()
    for name in IMAGES:
        blob_dir = os.path.join(store.out, "oci", name, "blobs", "sha256")
        if os.path.isdir(blob_dir):
            used.update(os.listdir(blob_dir))
    for blob in os.listdir(store.blobs):
        if blob not in used:
            os.unlink(os.path.join(store.blobs, blob))
    for entry in os.listdir(os.path.join(store.out, "oci")):
        if entry not in IMAGES:
            shutil.rmtree(os.path.join(store.out, "oci", entry), ignore_errors=True)


def manifest_digest(out, name):
    with open(os.path.join(out, "oci", name, "index.json")) as fh:
        return json.load(fh)["manifests"][0]["digest"]


def stream(out, names, fh):
    """One OCI archive holding the named images (shared blobs once) written to fh."""
    manifests, blobs = [], {}
    for name in names:
        layout = os.path.join(out, "oci", name)
        with open(os.path.join(layout, "index.json")) as index:
            manifests += json.load(index)["manifests"]
        blob_dir = os.path.join(layout, "blobs", "sha256")
        for blob in os.listdir(blob_dir):
            blobs.setdefault(blob, os.path.join(blob_dir, blob))
    with tarfile.open(fileobj=fh, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data=None, path=None, dir_=False):
            info = tarfile.TarInfo(name)
            info.mtime = FIXED_MTIME
            if dir_:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif path:
                info.size, info.mode = os.path.getsize(path), 0o644
                with open(path, "rb") as src:
                    tar.addfile(info, src)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, _BytesReader(data))
        add("oci-layout", dumps({"imageLayoutVersion": "1.0.0"}))
        add("index.json", dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                                 "manifests": manifests}))
        add("blobs", dir_=True)
        add("blobs/sha256", dir_=True)
        for blob in sorted(blobs):
            add(f"blobs/sha256/{blob}", path=blobs[blob])


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--rootfs", required=True)
    b.add_argument("--out", required=True)
    r = sub.add_parser("refs")
    r.add_argument("--out")
    r.add_argument("--with-digest", action="store_true")
    st = sub.add_parser("stream", help="write one OCI archive of the named images to stdout")
    st.add_argument("--out", required=True)
    st.add_argument("names", nargs="+", choices=sorted(IMAGES))
    args = parser.parse_args(argv)
    if args.cmd == "stream":
        stream(args.out, args.names, sys.stdout.buffer)
        return 0
    if args.cmd == "build":
        if not os.path.exists(os.path.join(args.rootfs, ".genai-stamp")):
            sys.exit(f"oci.py: {args.rootfs} is not a finished rootfs (no .genai-stamp)")
        build(args.rootfs, args.out)
        return 0
    for name in sorted(IMAGES):
        if args.with_digest:
            try:
                digest = manifest_digest(args.out, name)
            except (OSError, ValueError, KeyError, TypeError):
                sys.exit(f"oci.py: {ref(name)} is not built (run: tests/images/images build)")
            print(ref(name), digest, os.path.join(args.out, "oci", name))
        else:
            print(ref(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

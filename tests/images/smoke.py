#!/usr/bin/env python
"""Smoke test of the genai.stack TEST images in a private containerd.

Starts its own containerd (own root, state and socket under a temporary directory, CRI
disabled, so the test cluster's containerd is not touched), imports every image layout of
OUT/oci, runs each image with `ctr run` in a network namespace of its own (only its loopback
interface, brought up from the host with nsenter; no traffic leaves the namespace) and checks
the image's contract from inside that namespace. Stops everything it started, by pid.

  smoke.py --out OUT [--keep] [--only NAME[,NAME...]]
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import oci  # noqa: E402

RESULTS = []


# ----------------------------------------------------------------------------- probing
def probe_main(argv):
    """Runs inside a container's network namespace (via nsenter): one probe, JSON out."""
    kind, target = argv[0], argv[1]
    try:
        if kind == "http":
            method = argv[2] if len(argv) > 2 else "GET"
            body = argv[3].encode() if len(argv) > 3 else None
            host, _sep, rest = target.partition("/")
            conn = http.client.HTTPConnection(host, timeout=3)
            conn.request(method, "/" + rest, body=body)
            resp = conn.getresponse()
            print(json.dumps({"status": resp.status, "body": resp.read().decode("utf-8", "replace")}))
        elif kind == "tcp":
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=3):
                print(json.dumps({"status": "open"}))
    except OSError as err:
        print(json.dumps({"status": None, "error": str(err)}))
    return 0


class Smoke:
    def __init__(self, out, keep=False):
        self.out = out
        self.keep = keep
        self.dir = tempfile.mkdtemp(prefix="genai-images-smoke-")
        self.sock = os.path.join(self.dir, "containerd.sock")
        self.proc = None
        self.running = set()

    # ------------------------------------------------------------------ containerd
    def start(self):
        config = os.path.join(self.dir, "config.toml")
        with open(config, "w") as fh:
            fh.write(f"""version = 2
root = "{self.dir}/root"
state = "{self.dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{self.dir}/opt"
""")
        log = open(os.path.join(self.dir, "containerd.log"), "w")
        self.proc = subprocess.Popen(["containerd", "--config", config], stdout=log, stderr=log)
        for _attempt in range(100):
            if os.path.exists(self.sock) and self.ctr("version", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit(f"private containerd did not start; see {self.dir}/containerd.log")

    def stop(self):
        for cid in list(self.running):
            self.remove(cid)
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.keep:
            subprocess.run(["umount", "-R", "-l", os.path.join(self.dir, "root")],
                           stderr=subprocess.DEVNULL, check=False)
            shutil.rmtree(self.dir, ignore_errors=True)

    def ctr(self, *args, check=True, input_=None, timeout=300):
        cmd = ["ctr", "--address", self.sock, "-n", "smoke"] + list(args)
        res = subprocess.run(cmd, input=input_, capture_output=True, timeout=timeout, check=False)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[4:])}: {res.stderr.decode().strip()}")
        return res

    def import_all(self, names):
        refs = {name: oci.ref(name) for name in names}
        stream = subprocess.Popen([sys.executable, os.path.join(HERE, "oci.py"), "stream", "--out", self.out]
                                  + list(names), stdout=subprocess.PIPE)
        res = subprocess.run(["ctr", "--address", self.sock, "-n", "smoke", "images", "import", "-"],
                             stdin=stream.stdout, capture_output=True, check=False)
        stream.wait()
        if res.returncode != 0 or stream.returncode != 0:
            raise SystemExit(f"import failed: {res.stderr.decode()}")
        listing = self.ctr("images", "ls").stdout.decode()
        for name, ref in refs.items():
            check(f"{name}: image listed under its ref", ref in listing)
        return refs

    # ------------------------------------------------------------------ containers
    def run(self, name, cid, env=None, user=None, mounts=(), args=()):
        cmd = ["run", "-d"]
        for key, value in (env or {}).items():
            cmd += ["--env", f"{key}={value}"]
        for src, dst in mounts:
            cmd += ["--mount", f"type=bind,src={src},dst={dst},options=rbind:rw"]
        cmd += ["--log-uri", f"file://{self.dir}/{cid}.log", oci.ref(name), cid]
        if user:
            # ctr 1.6 run has no --user: start the image's own command through setpriv,
            # which is what runAsUser/runAsGroup do (no supplementary groups).
            uid, gid = user.split(":")
            args = list(args) or image_command(self.out, name)
            args = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"] + args
        cmd += list(args)
        self.ctr(*cmd)
        self.running.add(cid)
        pid = self.pid(cid)
        # The container's network namespace has only its loopback interface: bring it up.
        res = subprocess.run(["nsenter", "-t", str(pid), "-n", "ip", "link", "set", "lo", "up"],
                             capture_output=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"{cid} is {self.status(cid)} right after its start: {self.log_tail(cid)}")
        return pid

    def log_tail(self, cid, lines=15):
        try:
            with open(os.path.join(self.dir, f"{cid}.log"), errors="replace") as fh:
                return "".join(fh.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def pid(self, cid):
        for line in self.ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
            parts = line.split()
            if parts and parts[0] == cid:
                return int(parts[1])
        raise RuntimeError(f"no task {cid}")

    def status(self, cid):
        for line in self.ctr("tasks", "ls").stdout.decode().splitlines()[1:]:
            parts = line.split()
            if parts and parts[0] == cid:
                return parts[2]
        return "GONE"

    def remove(self, cid):
        self.ctr("tasks", "kill", "-s", "SIGKILL", cid, check=False)
        for _attempt in range(50):
            if self.status(cid) in ("STOPPED", "GONE"):
                break
            time.sleep(0.1)
        self.ctr("tasks", "delete", cid, check=False)
        self.ctr("containers", "delete", cid, check=False)
        self.running.discard(cid)

    def stop_gracefully(self, cid, timeout=10):
        """SIGTERM; returns seconds until the task stopped (None if it did not)."""
        t0 = time.time()
        self.ctr("tasks", "kill", "-s", "SIGTERM", cid, check=False)
        while time.time() - t0 < timeout:
            if self.status(cid) in ("STOPPED", "GONE"):
                elapsed = time.time() - t0
                self.remove(cid)
                return elapsed
            time.sleep(0.1)
        self.remove(cid)
        return None

    def exec(self, cid, *args, user=None, env=None):
        cmd = ["tasks", "exec", "--exec-id", f"x{time.monotonic_ns()}"]
        if user:
            cmd += ["--user", user]
        if env:  # ctr 1.6 tasks exec has no --env
            args = ["env"] + [f"{k}={v}" for k, v in env.items()] + list(args)
        res = self.ctr(*cmd, cid, *args, check=False, timeout=60)
        return res.returncode, (res.stdout + res.stderr).decode()

    def exec_detached(self, cid, *args, user=None):
        cmd = ["ctr", "--address", self.sock, "-n", "smoke", "tasks", "exec", "--exec-id",
               f"d{time.monotonic_ns()}"] + (["--user", user] if user else []) + [cid] + list(args)
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def probe(self, pid, *args):
        res = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, os.path.abspath(__file__),
                              "--probe"] + list(args), capture_output=True, timeout=30, check=False)
        return json.loads(res.stdout.decode() or '{"status": null}')

    def http(self, pid, target, method="GET", body=None):
        return self.probe(pid, "http", target, method, *([body] if body else []))

    def wait_for(self, what, fn, timeout=60, interval=0.5):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if fn():
                return time.time() - t0
            time.sleep(interval)
        return None


def image_command(out, name):
    """Entrypoint + Cmd of a built image."""
    with open(os.path.join(out, "oci", name, "index.json")) as fh:
        digest = json.load(fh)["manifests"][0]["digest"]
    with open(os.path.join(out, "blobs", "sha256", digest[7:])) as fh:
        config_digest = json.load(fh)["config"]["digest"]
    with open(os.path.join(out, "blobs", "sha256", config_digest[7:])) as fh:
        config = json.load(fh)["config"]
    return config.get("Entrypoint", []) + config.get("Cmd", [])


def check(what, ok, detail=""):
    RESULTS.append((what, bool(ok)))
    print(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f" -- {detail}" if detail and not ok else ""), flush=True)
    return ok


def host_dir(smoke, name, mode=0o755, owner=None):
    path = os.path.join(smoke.dir, "volumes", name)
    os.makedirs(path)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, *owner)
    return path


# ----------------------------------------------------------------------------- tests
def test_app(s):
    print("app: generic stand-in", flush=True)
    env = {"PORT": "8080", "STANDIN_PORTS": "8081", "STANDIN_CHECK_INTERVAL": "1",
           "CELERY_BROKER_URL": "redis://:s3cret@127.0.0.1:6379/0",
           "MYSQL_DSN": "mysql+pymysql://genai:pw@127.0.0.1:3306/genai_med",
           "KUBERNETES_PORT": "tcp://10.96.0.1:443", "LOG_LEVEL": "info"}
    pid = s.run("app", "app", env=env)
    s.wait_for("listen", lambda: s.http(pid, "127.0.0.1:8080/")["status"] == 200, 20)
    check("app: / answers 200", s.http(pid, "127.0.0.1:8080/")["status"] == 200)
    check("app: extra port of STANDIN_PORTS answers", s.http(pid, "127.0.0.1:8081/")["status"] == 200)
    s.wait_for("first check", lambda: "checked_at\": 0.0" not in s.http(pid, "127.0.0.1:8080/healthz")["body"], 10)
    res = s.http(pid, "127.0.0.1:8080/healthz")
    body = json.loads(res["body"])
    check("app: /healthz 503 while redis and mysql are down", res["status"] == 503, res)
    check("app: report names both dependencies (not the service link)",
          sorted(d["env"] for d in body["dependencies"]) == ["CELERY_BROKER_URL", "MYSQL_DSN"], body)
    code, out = s.exec("app", "id", "-u")
    check("app: runs as uid 1000", out.strip() == "1000", out)
    # Bring the dependencies up inside the container: a real redis with a password, a TCP port.
    s.exec_detached("app", "redis-server", "--port", "6379", "--requirepass", "s3cret", "--dir", "/tmp",
                    "--save", "")
    s.exec_detached("app", "python3", "-c",
                    "import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);"
                    "s.bind(('127.0.0.1',3306));s.listen();time.sleep(120)")
    took = s.wait_for("ready", lambda: s.http(pid, "127.0.0.1:8080/readyz")["status"] == 200, 20)
    check("app: /readyz turns 200 once redis (AUTH+PING) and mysql (TCP) answer", took is not None)
    for path in ("/health", "/ready", "/healthz"):
        check(f"app: {path} 200", s.http(pid, f"127.0.0.1:8080{path}")["status"] == 200)
    metrics = s.http(pid, "127.0.0.1:8080/metrics")
    check("app: /metrics in Prometheus text format",
          metrics["status"] == 200 and "standin_ready 1" in metrics["body"]
          and 'standin_dependency_up{env="CELERY_BROKER_URL"' in metrics["body"], metrics)
    code, out = s.exec("app", "wait-for", "-t", "5", "127.0.0.1:6379", "127.0.0.1:8080")
    check("app: wait-for host:port... succeeds", code == 0, out)
    code, out = s.exec("app", "wait-for", "-t", "3", "127.0.0.1:9")
    check("app: wait-for gives up on a closed port", code != 0, out)
    took = s.stop_gracefully("app")
    check("app: SIGTERM stops it promptly", took is not None and took < 5, f"took {took}")


def test_worker(s):
    print("app as a Celery worker (command: celery -A app worker)", flush=True)
    env = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0", "STANDIN_CHECK_INTERVAL": "1"}
    s.run("app", "worker", env=env, args=["celery", "-A", "app", "worker", "--loglevel=INFO"])
    time.sleep(2)
    code, out = s.exec("worker", "celery", "-A", "app", "inspect", "ping")
    check("worker: `celery inspect ping` fails while redis is down", code != 0, out)
    s.exec_detached("worker", "redis-server", "--port", "6379", "--dir", "/tmp", "--save", "")
    took = s.wait_for("ping", lambda: s.exec("worker", "celery", "-A", "app", "inspect", "ping")[0] == 0, 15)
    check("worker: `celery -A app inspect ping` exits 0 once redis answers", took is not None)
    code, out = s.exec("worker", "celery", "-A", "app", "status")
    check("worker: `celery status` exits 0", code == 0, out)
    took = s.stop_gracefully("worker")
    check("worker: SIGTERM stops it promptly", took is not None and took < 5, f"took {took}")


def test_mysql(s):
    print("mysql: MariaDB, official mysql contract", flush=True)
    data = host_dir(s, "mysql", 0o755, (0, 0))  # an empty volume owned by root
    env = {"MYSQL_ROOT_PASSWORD": "r00t'pw", "MYSQL_DATABASE": "genai_med", "MYSQL_USER": "genai",
           "MYSQL_PASSWORD": "userpw"}
    for attempt in ("first start", "restart"):
        pid = s.run("mysql", "mysql", env=env, mounts=[(data, "/var/lib/mysql")])
        took = s.wait_for("mysqladmin ping", lambda: s.exec(
            "mysql", "mysqladmin", "ping", "-h", "127.0.0.1", "-uroot", "-pr00t'pw")[0] == 0, 120, 1)
        check(f"mysql ({attempt}): `mysqladmin ping` over TCP as root ({took and round(took)}s)", took is not None)
        if attempt == "first start":
            code, out = s.exec("mysql", "mysql", "-h", "127.0.0.1", "-ugenai", "-puserpw", "genai_med", "-e",
                               "CREATE TABLE t (v INT); INSERT INTO t VALUES (42);")
            check("mysql: MYSQL_USER writes to MYSQL_DATABASE over TCP", code == 0, out)
            code, out = s.exec("mysql", "mysql", "-h", "127.0.0.1", "-ugenai", "-pwrong", "-e", "SELECT 1")
            check("mysql: a wrong password is refused", code != 0, out)
            listening = subprocess.run(["nsenter", "-t", str(pid), "-n", "ss", "-ltnH"],
                                       capture_output=True, check=False).stdout.decode()
            check("mysql: listens on 0.0.0.0:3306", "0.0.0.0:3306" in listening, listening)
            code, out = s.exec("mysql", "mysqladmin", "ping")
            check("mysql: `mysqladmin ping` without credentials exits 0 (exec probe style)", code == 0, out)
        else:
            code, out = s.exec("mysql", "mysql", "-h", "127.0.0.1", "-ugenai", "-puserpw", "genai_med", "-N", "-e",
                               "SELECT v FROM t")
            check("mysql: data kept across a restart on the same volume", out.strip() == "42", out)
        took = s.stop_gracefully("mysql", 30)
        check(f"mysql ({attempt}): SIGTERM shuts it down", took is not None, f"took {took}")
    owner = os.stat(os.path.join(data, "mysql")).st_uid
    check("mysql: root-owned volume handed to the mysql user", owner != 0, owner)
    # Any uid, as Kubernetes runs it with runAsUser + fsGroup (volume group-writable).
    data2 = host_dir(s, "mysql-uid", 0o777)
    s.run("mysql", "mysql-uid", env=env, user="12345:12345", mounts=[(data2, "/var/lib/mysql")])
    took = s.wait_for("ping", lambda: s.exec("mysql-uid", "mysqladmin", "ping", "-h", "127.0.0.1", "-uroot",
                                             "-pr00t'pw")[0] == 0, 120, 1)
    check("mysql: runs as an arbitrary uid (12345) on a group-writable volume", took is not None)
    s.remove("mysql-uid")


def test_postgres(s):
    print("postgres: PostgreSQL 15, official postgres contract", flush=True)
    data = host_dir(s, "pg", 0o755, (0, 0))
    env = {"POSTGRES_PASSWORD": "pgpw", "POSTGRES_USER": "app", "POSTGRES_DB": "appdb"}
    for attempt in ("first start", "restart"):
        s.run("postgres", "pg", env=env, mounts=[(data, "/var/lib/postgresql/data")])
        took = s.wait_for("pg_isready", lambda: s.exec("pg", "pg_isready", "-h", "127.0.0.1")[0] == 0, 90, 1)
        check(f"postgres ({attempt}): pg_isready over TCP ({took and round(took)}s)", took is not None)
        psql = ["psql", "-h", "127.0.0.1", "-U", "app", "-d", "appdb", "-tA", "-c"]
        if attempt == "first start":
            code, out = s.exec("pg", *psql, "CREATE TABLE t (v int); INSERT INTO t VALUES (7);",
                               env={"PGPASSWORD": "pgpw"})
            check("postgres: POSTGRES_USER writes to POSTGRES_DB with a password over TCP", code == 0, out)
            code, out = s.exec("pg", *psql, "SELECT 1", env={"PGPASSWORD": "nope"})
            check("postgres: a wrong password is refused (scram-sha-256)", code != 0 and "password" in out, out)
            code, out = s.exec("pg", "pg_isready")
            check("postgres: pg_isready without arguments (exec probe style)", code == 0, out)
        else:
            code, out = s.exec("pg", *psql, "SELECT v FROM t", env={"PGPASSWORD": "pgpw"})
            check("postgres: data kept across a restart on the same volume", out.strip() == "7", out)
        took = s.stop_gracefully("pg", 30)
        check(f"postgres ({attempt}): SIGTERM shuts it down", took is not None, f"took {took}")
    data2 = host_dir(s, "pg-uid", 0o777)
    env2 = dict(env, PGDATA="/var/lib/postgresql/data/pgdata")
    s.run("postgres", "pg-uid", env=env2, user="1000:1000", mounts=[(data2, "/var/lib/postgresql/data")])
    took = s.wait_for("ready", lambda: s.exec("pg-uid", "pg_isready", "-h", "127.0.0.1")[0] == 0, 90, 1)
    check("postgres: runs as uid 1000 with no passwd entry (PGDATA subdirectory of the volume)", took is not None)
    s.remove("pg-uid")


def test_redis(s):
    print("redis", flush=True)
    data = host_dir(s, "redis", 0o755, (0, 0))
    s.run("redis", "redis", env={"REDIS_PASSWORD": "rpw"}, mounts=[(data, "/data")])
    took = s.wait_for("ping", lambda: "PONG" in s.exec("redis", "redis-cli", "-a", "rpw", "--no-auth-warning", "ping")[1], 20)
    check("redis: redis-cli ping with REDIS_PASSWORD", took is not None)
    code, out = s.exec("redis", "redis-cli", "ping")
    check("redis: no password, no PONG", "NOAUTH" in out, out)
    code, out = s.exec("redis", "redis-cli", "-a", "rpw", "--no-auth-warning", "save")
    check("redis: SAVE writes /data/dump.rdb to the volume",
          "OK" in out and os.path.exists(os.path.join(data, "dump.rdb")), out)
    took = s.stop_gracefully("redis")
    check("redis: SIGTERM stops it", took is not None, f"took {took}")
    # A Kubernetes `command:` override, as with the official image.
    s.run("redis", "redis2", args=["redis-server", "--appendonly", "yes"])
    took = s.wait_for("ping", lambda: "PONG" in s.exec("redis2", "redis-cli", "ping")[1], 20)
    code, out = s.exec("redis2", "redis-cli", "config", "get", "protected-mode")
    check("redis: `command: [redis-server, ...]` serves other hosts (protected-mode no)",
          took is not None and "no" in out.split(), out)
    s.remove("redis2")


def test_standins(s):
    print("server stand-ins", flush=True)
    storage = host_dir(s, "qdrant", 0o755, (0, 0))
    pid = s.run("qdrant", "qdrant", env={"PORT": "6333"}, mounts=[(storage, "/qdrant/storage")])
    s.wait_for("up", lambda: s.http(pid, "127.0.0.1:6333/healthz")["status"] == 200, 20)
    for path in ("/healthz", "/livez", "/readyz"):
        check(f"qdrant: {path} 200", s.http(pid, f"127.0.0.1:6333{path}")["status"] == 200)
    root = s.http(pid, "127.0.0.1:6333/")
    check("qdrant: / answers like qdrant", root["status"] == 200 and "qdrant" in root["body"], root)
    check("qdrant: 6334 accepts TCP", s.probe(pid, "tcp", "127.0.0.1:6334")["status"] == "open")
    res = s.http(pid, "127.0.0.1:6333/collections/docs", "PUT", '{"vectors": {"size": 4}}')
    check("qdrant: PUT /collections/docs", res["status"] == 200, res)
    check("qdrant: collection listed", "docs" in s.http(pid, "127.0.0.1:6333/collections")["body"])
    check("qdrant: marker and collection written to the /qdrant/storage volume",
          os.path.exists(os.path.join(storage, ".genai-standin")) and os.path.exists(os.path.join(storage, "docs.col")))
    s.remove("qdrant")

    pid = s.run("minio", "minio", mounts=[(host_dir(s, "minio", 0o777), "/data")])
    s.wait_for("up", lambda: s.http(pid, "127.0.0.1:9000/minio/health/live")["status"] == 200, 20)
    check("minio: /minio/health/live 200", s.http(pid, "127.0.0.1:9000/minio/health/live")["status"] == 200)
    s.wait_for("ready", lambda: s.http(pid, "127.0.0.1:9000/minio/health/ready")["status"] == 200, 10)
    check("minio: /minio/health/ready 200", s.http(pid, "127.0.0.1:9000/minio/health/ready")["status"] == 200)
    check("minio: console 9001 answers", s.http(pid, "127.0.0.1:9001/")["status"] == 200)
    s.remove("minio")

    pid = s.run("kafka", "kafka")
    check("kafka: 9092 accepts TCP", s.wait_for("tcp", lambda: s.probe(pid, "tcp", "127.0.0.1:9092")["status"] == "open", 20) is not None)
    s.remove("kafka")

    pid = s.run("jaeger", "jaeger")
    s.wait_for("up", lambda: s.http(pid, "127.0.0.1:16686/")["status"] == 200, 20)
    check("jaeger: UI 16686 /", s.http(pid, "127.0.0.1:16686/")["status"] == 200)
    check("jaeger: admin 14269 /", s.http(pid, "127.0.0.1:14269/")["status"] == 200)
    check("jaeger: OTLP/HTTP 4318 POST /v1/traces", s.http(pid, "127.0.0.1:4318/v1/traces", "POST", "{}")["status"] == 200)
    check("jaeger: collector 14268 POST /api/traces", s.http(pid, "127.0.0.1:14268/api/traces", "POST", "x")["status"] == 202)
    check("jaeger: OTLP/gRPC 4317 accepts TCP", s.probe(pid, "tcp", "127.0.0.1:4317")["status"] == "open")
    s.remove("jaeger")

    conf_dir = host_dir(s, "prometheus-config", 0o755)
    with open(os.path.join(conf_dir, "prometheus.yml"), "w") as fh:
        fh.write("scrape_configs:\n  - job_name: pods\n")
    os.chmod(os.path.join(conf_dir, "prometheus.yml"), 0o644)
    pid = s.run("prometheus", "prometheus", mounts=[(conf_dir, "/etc/prometheus")],
                args=["/usr/bin/tini", "--", "/usr/local/bin/standin", "--config.file=/etc/prometheus/prometheus.yml",
                      "--storage.tsdb.path=/prometheus"])
    s.wait_for("up", lambda: s.http(pid, "127.0.0.1:9090/-/ready")["status"] == 200, 20)
    check("prometheus: /-/ready 200", s.http(pid, "127.0.0.1:9090/-/ready")["status"] == 200)
    check("prometheus: /-/healthy 200", s.http(pid, "127.0.0.1:9090/-/healthy")["status"] == 200)
    check("prometheus: /api/v1/targets", '"activeTargets"' in s.http(pid, "127.0.0.1:9090/api/v1/targets")["body"])
    check("prometheus: serves the mounted --config.file",
          "job_name: pods" in s.http(pid, "127.0.0.1:9090/api/v1/status/config")["body"])
    s.remove("prometheus")

    pid = s.run("grafana", "grafana")
    s.wait_for("up", lambda: s.http(pid, "127.0.0.1:3000/api/health")["status"] == 200, 20)
    res = s.http(pid, "127.0.0.1:3000/api/health")
    check("grafana: /api/health 200 with database ok", res["status"] == 200 and '"database": "ok"' in res["body"], res)
    s.remove("grafana")


def test_config(s):
    print("image configuration", flush=True)
    for name in sorted(oci.IMAGES):
        with open(os.path.join(s.out, "oci", name, "index.json")) as fh:
            manifest_digest = json.load(fh)["manifests"][0]["digest"]
        with open(os.path.join(s.out, "blobs", "sha256", manifest_digest[7:])) as fh:
            manifest = json.load(fh)
        with open(os.path.join(s.out, "blobs", "sha256", manifest["config"]["digest"][7:])) as fh:
            config = json.load(fh)["config"]
        RESULTS.append((f"{name}: config", config["Labels"].get("io.genai-stack.test-image") == "true"))
        yield manifest["layers"][0]["digest"]


TESTS = {"app": test_app, "worker": test_worker, "mysql": test_mysql, "postgres": test_postgres,
         "redis": test_redis, "standins": test_standins}


def main(argv):
    if argv and argv[0] == "--probe":
        return probe_main(argv[1:])
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep", action="store_true", help="keep the temporary containerd directory")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(TESTS))
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("smoke.py needs root (it runs its own containerd)")
    only = [t for t in args.only.split(",") if t] or list(TESTS)
    s = Smoke(args.out, args.keep)
    t0 = time.time()
    try:
        s.start()
        print(f"private containerd in {s.dir} (pid {s.proc.pid})", flush=True)
        base = set(test_config(s))
        check("every image shares one identical rootfs layer", len(base) == 1, base)
        t1 = time.time()
        s.import_all(sorted(oci.IMAGES))
        print(f"imported {len(oci.IMAGES)} images in {time.time() - t1:.1f}s", flush=True)
        for name in only:
            t1 = time.time()
            try:
                TESTS[name](s)
            except Exception as err:  # report and go on with the next image
                check(f"{name}: test ran without error", False, f"{type(err).__name__}: {err}")
            print(f"  ({time.time() - t1:.0f}s)", flush=True)
    finally:
        s.stop()
    failed = [w for w, ok in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed ({time.time() - t0:.0f}s)")
    for what in failed:
        print(f"FAILED: {what}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

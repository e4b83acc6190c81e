#!/usr/bin/env python
"""Stand-in server of the genai.stack TEST images (Python 3 standard library only).

One program plays every application image of the seeds ("app" profile) and the servers no
Debian/PyPI package gives us here (qdrant, minio, kafka, jaeger, prometheus, grafana
profiles). It is a test double, never a product. The contract (tests/images/README.md):

App profile
- HTTP on $PORT, plus every port of $STANDIN_PORTS (comma-separated).
- Dependencies are read from its own environment: every value that is a URL or DSN with a
  scheme and a host (comma-separated lists of them too), except the service-link variables
  Kubernetes injects (FOO_PORT=tcp://..., FOO_PORT_80_TCP=tcp://...), variables named in
  $STANDIN_IGNORE_ENV and STANDIN_* ones; plus host:port entries of $STANDIN_DEPS.
  Checks, by scheme (the part before any "+": mysql+pymysql -> mysql):
    http, https   GET <scheme>://<host>:<port>/healthz; any answer below 500 counts (2xx: healthy;
                  3xx/4xx: the server answers HTTP but has no such path or wants auth), 5xx,
                  time-outs and refused connections fail. Requests carry the header
                  X-Genai-Standin-Check: a stand-in answers them from liveness only, so two
                  stand-ins that name each other cannot keep each other unready forever.
    redis, rediss RESP PING answered +PONG (AUTH [user] password first when the URL has one).
    anything else TCP connect to host:port (default port of the scheme when none is given).
  A background thread checks every $STANDIN_CHECK_INTERVAL seconds (5); probes are answered
  from the last result at once, so a kubelet probe with a 1 s timeout never waits on a check.
- /healthz /health /ready /readyz /livez: 200 + JSON report when every dependency answers,
  503 + the same report naming the failing ones otherwise (also before the first check
  finished). Liveness paths are readiness too: a Kubernetes liveness probe on /healthz
  restarts a pod whose dependency is gone, as it would restart the real service.
- /: 200 always (a "serving" page); /metrics: Prometheus text format.
- Every HTTP answer carries X-Served-By: <component>, so a request sent through a Service or
  an Ingress shows which component answered. The component is $STANDIN_COMPONENT, else
  $GENAI_COMPONENT, else derived from the pod name ($HOSTNAME): a Deployment's pod
  <name>-<pod-template-hash>-<5 chars> and a StatefulSet's pod <name>-<ordinal> give <name>.
- No port at all: worker mode (no HTTP). In every mode the checker writes a heartbeat file
  ($STANDIN_HEARTBEAT, default /tmp/standin-heartbeat.json) that `celery inspect ping` reads.
- One log line per request and per dependency state change; SIGTERM/SIGINT stop it at once,
  unless $STANDIN_DRAIN_SECONDS > 0: then health paths answer 503 "draining" at once and
  every other path keeps being served for that many seconds before it stops (the graceful
  shutdown a rolling update without failed requests needs).

Server profiles ($STANDIN_PROFILE) add the server's default ports and paths; dependency
checks are off for them unless STANDIN_CHECK_DEPS=1 ($STANDIN_STORAGE: a directory that
must be writable, a marker file is written there; readiness fails while it is not).
"""
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "1.0.0"
CHECK_HEADER = "X-Genai-Standin-Check"
DEFAULT_PORTS = {
    "http": 80, "https": 443, "ws": 80, "wss": 443, "redis": 6379, "rediss": 6379,
    "mysql": 3306, "mariadb": 3306, "postgres": 5432, "postgresql": 5432, "pgsql": 5432,
    "amqp": 5672, "amqps": 5671, "kafka": 9092, "mongodb": 27017, "nats": 4222,
    "grpc": 443, "memcached": 11211, "s3": 9000, "minio": 9000, "qdrant": 6333,
}
SERVED_BY_HEADER = "X-Served-By"
# Characters of the random suffixes Kubernetes gives to ReplicaSet and pod names
# (k8s.io/apimachinery/pkg/util/rand: SafeEncodeString's alphabet, no vowels or 0, 1, 3).
_SAFE = "bcdfghjklmnpqrstvwxz2456789"
DEPLOYMENT_POD = re.compile(rf"^(?P<name>.+)-[{_SAFE}]{{1,10}}-[{_SAFE}]{{5}}$")
STATEFULSET_POD = re.compile(r"^(?P<name>.+)-\d+$")
HEALTH_PATHS = ("/healthz", "/health", "/ready", "/readyz", "/livez", "/live", "/healthcheck")
# Variables Kubernetes injects for every Service of the namespace (service links), e.g.
# GATEWAY_PORT=tcp://10.96.0.12:8000, GATEWAY_PORT_8000_TCP=tcp://10.96.0.12:8000.
SERVICE_LINK = re.compile(r"^[A-Z0-9_]+_PORT(_[0-9]+_(TCP|UDP|SCTP))?$")


# ----------------------------------------------------------------------------- identity
def component_name(environ):
    """The component this process serves: the name X-Served-By carries.

    $STANDIN_COMPONENT, else $GENAI_COMPONENT, else the workload name in the pod name
    ($HOSTNAME: Deployment pods are <name>-<hash>-<suffix>, StatefulSet pods <name>-<n>),
    else the host name as it is.
    """
    for var in ("STANDIN_COMPONENT", "GENAI_COMPONENT"):
        if environ.get(var, "").strip():
            return environ[var].strip()
    host = environ.get("HOSTNAME") or socket.gethostname()
    for pattern in (DEPLOYMENT_POD, STATEFULSET_POD):
        match = pattern.match(host)
        if match:
            return match.group("name")
    return host


# ----------------------------------------------------------------------------- dependencies
def scheme_base(scheme):
    """mysql+pymysql -> mysql, postgresql+asyncpg -> postgresql, Redis -> redis."""
    return scheme.split("+", 1)[0].lower()


def parse_url(value):
    """A dependency dict for one URL/DSN, or None when the value names no host."""
    value = value.strip()
    if "://" not in value:
        return None
    try:
        url = urllib.parse.urlsplit(value)
        host, port = url.hostname, url.port
    except ValueError:
        return None
    if not url.scheme or not host or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", url.scheme):
        return None
    scheme = scheme_base(url.scheme)
    return {
        "scheme": scheme,
        "host": host,
        "port": port or DEFAULT_PORTS.get(scheme, 80),
        "username": urllib.parse.unquote(url.username) if url.username else None,
        "password": urllib.parse.unquote(url.password) if url.password else None,
        "url": value,
    }


def parse_hostport(value):
    """host:port (or [v6]:port) -> a TCP dependency, or None."""
    match = re.match(r"^\[?([^\[\]]+?)\]?:(\d{1,5})$", value.strip())
    if not match:
        return None
    return {"scheme": "tcp", "host": match.group(1), "port": int(match.group(2)),
            "username": None, "password": None, "url": value.strip()}


def dependencies(environ):
    """{label: dependency} for every dependency named in the environment."""
    ignore = {n.strip() for n in environ.get("STANDIN_IGNORE_ENV", "").split(",") if n.strip()}
    deps = {}
    for name in sorted(environ):
        value = environ[name]
        if name.startswith("STANDIN_") or name in ignore or "://" not in value:
            continue
        if SERVICE_LINK.match(name) and value.startswith(("tcp://", "udp://", "sctp://")):
            continue
        parts = [p for p in value.split(",") if p.strip()] if "," in value else [value]
        found = [d for d in (parse_url(p) for p in parts) if d]
        for i, dep in enumerate(found):
            deps[name if len(found) == 1 else f"{name}[{i}]"] = dep
    for i, item in enumerate(p for p in environ.get("STANDIN_DEPS", "").split(",") if p.strip()):
        dep = parse_url(item) or parse_hostport(item)
        if dep is None:
            raise ValueError(f"STANDIN_DEPS entry {item!r} is neither a URL nor host:port")
        deps[f"STANDIN_DEPS[{i}]"] = dep
    return deps


def check_tcp(dep, timeout):
    with socket.create_connection((dep["host"], dep["port"]), timeout=timeout):
        return "tcp connect ok"


def check_http(dep, timeout):
    url = urllib.parse.urlsplit(dep["url"])
    netloc = f"[{dep['host']}]" if ":" in dep["host"] else dep["host"]
    target = urllib.parse.urlunsplit((url.scheme, f"{netloc}:{dep['port']}", "/healthz", "", ""))
    request = urllib.request.Request(target, headers={CHECK_HEADER: "1", "User-Agent": "genai-stack-standin"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as resp:
            return f"GET /healthz {resp.status}"
    except urllib.error.HTTPError as err:
        if err.code < 500:
            # It answers HTTP: no /healthz of its own (404), a redirect or an auth wall.
            return f"GET /healthz {err.code} (answers HTTP)"
        raise RuntimeError(f"GET /healthz answered {err.code}") from None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 3xx answer is an answer: do not follow
        return None


def resp_command(*words):
    out = b"*%d\r\n" % len(words)
    for word in words:
        data = word.encode() if isinstance(word, str) else word
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


def read_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise RuntimeError(f"connection closed after {data[:60]!r}")
        data += chunk
        if len(data) > 4096:
            break
    return data


def check_redis(dep, timeout):
    with socket.create_connection((dep["host"], dep["port"]), timeout=timeout) as sock:
        sock.settimeout(timeout)
        if dep["scheme"] == "rediss":
            import ssl
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock, server_hostname=dep["host"])
        if dep["password"]:
            words = ["AUTH", dep["password"]]
            if dep["username"]:
                words.insert(1, dep["username"])
            sock.sendall(resp_command(*words))
            reply = read_line(sock)
            if not reply.startswith(b"+OK"):
                raise RuntimeError(f"AUTH refused: {reply.strip()[:80]!r}")
        sock.sendall(resp_command("PING"))
        reply = read_line(sock)
        if not reply.startswith(b"+PONG"):
            raise RuntimeError(f"PING answered {reply.strip()[:80]!r}")
        return "PING +PONG"


def check(dep, timeout=2.0):
    """Check one dependency; returns a detail string, raises on failure."""
    if dep["scheme"] in ("http", "https"):
        return check_http(dep, timeout)
    if dep["scheme"] in ("redis", "rediss"):
        return check_redis(dep, timeout)
    return check_tcp(dep, timeout)


def check_all(deps, timeout=2.0):
    """Check every dependency in parallel: (all_ok, [report entries])."""
    results = {}

    def one(name, dep):
        try:
            results[name] = (True, check(dep, timeout))
        except Exception as err:  # any failure keeps the service unready
            results[name] = (False, f"{type(err).__name__}: {err}")

    threads = [threading.Thread(target=one, args=item, daemon=True) for item in deps.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    report = []
    for name, dep in deps.items():
        ok, detail = results.get(name, (False, "check did not finish"))
        report.append({"env": name, "target": f"{dep['scheme']}://{dep['host']}:{dep['port']}",
                       "ok": ok, "detail": detail})
    return all(r["ok"] for r in report), report


# ----------------------------------------------------------------------------- state
def log(msg):
    sys.stdout.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + msg + "\n")
    sys.stdout.flush()


class State:
    """Last dependency check result, shared by the HTTP handlers and the checker thread."""

    def __init__(self, deps, check_deps=True, storage=None, timeout=2.0):
        self.deps = deps if check_deps else {}
        self.storage = storage
        self.timeout = timeout
        self.ready = None          # None until the first check finished
        self.report = []
        self.storage_error = None
        self.checked_at = 0.0
        self.started = time.time()
        self.requests = {}
        self.draining = False      # True after SIGTERM while $STANDIN_DRAIN_SECONDS run
        self.lock = threading.Lock()

    def evaluate(self):
        ok, report = check_all(self.deps, self.timeout)
        if self.storage:
            self.storage_error = touch_storage(self.storage)
            ok = ok and self.storage_error is None
        with self.lock:
            if ok != self.ready:
                failing = [f"{r['env']} ({r['detail']})" for r in report if not r["ok"]]
                if self.storage_error:
                    failing.append(f"storage {self.storage} ({self.storage_error})")
                log("dependencies " + ("ready" if ok else "NOT ready: " + "; ".join(failing))
                    + f" [{len(self.deps)} checked]")
            self.ready, self.report, self.checked_at = ok, report, time.time()
        return ok

    def body(self):
        with self.lock:
            status = "starting" if self.ready is None else ("ok" if self.ready else "unavailable")
            if self.draining:
                status = "draining"
            body = {"status": status, "dependencies": list(self.report),
                    "checked_at": round(self.checked_at, 3)}
        if self.storage:
            body["storage"] = {"path": self.storage, "ok": self.storage_error is None}
            if self.storage_error:
                body["storage"]["error"] = self.storage_error
        return body

    def count(self, path, code):
        with self.lock:
            key = (path if path in TRACKED_PATHS else "other", code)
            self.requests[key] = self.requests.get(key, 0) + 1

    def metrics(self, profile):
        lines = [
            "# HELP standin_info Stand-in build information.",
            "# TYPE standin_info gauge",
            f'standin_info{{profile="{profile}",version="{VERSION}"}} 1',
            "# HELP standin_ready Whether every dependency answered at the last check.",
            "# TYPE standin_ready gauge",
            f"standin_ready {1 if self.ready else 0}",
            "# HELP standin_dependency_up Whether one dependency answered at the last check.",
            "# TYPE standin_dependency_up gauge",
        ]
        with self.lock:
            for entry in self.report:
                lines.append(f'standin_dependency_up{{env="{entry["env"]}",target="{entry["target"]}"}} '
                             f'{1 if entry["ok"] else 0}')
            lines += ["# HELP standin_http_requests_total HTTP requests served.",
                      "# TYPE standin_http_requests_total counter"]
            for (path, code), n in sorted(self.requests.items()):
                lines.append(f'standin_http_requests_total{{path="{path}",code="{code}"}} {n}')
        lines += ["# HELP process_start_time_seconds Start time of the process.",
                  "# TYPE process_start_time_seconds gauge",
                  f"process_start_time_seconds {self.started:.3f}"]
        return ("\n".join(lines) + "\n").encode()


TRACKED_PATHS = set(HEALTH_PATHS) | {"/", "/metrics"}


def touch_storage(path):
    """Write a marker into a data directory: None when it worked, else the error."""
    try:
        os.makedirs(path, exist_ok=True)
        marker = os.path.join(path, ".genai-standin")
        if not os.path.exists(marker):
            with open(marker, "w") as fh:
                fh.write(time.strftime("created %Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
        probe = os.path.join(path, f".genai-standin-probe-{os.getpid()}")
        with open(probe, "w") as fh:
            fh.write("ok\n")
        os.unlink(probe)
        return None
    except OSError as err:
        return f"{type(err).__name__}: {err}"


def write_heartbeat(path, state):
    try:
        with open(path + ".tmp", "w") as fh:
            json.dump({"time": time.time(), "ready": bool(state.ready), "pid": os.getpid(),
                       "failing": [r["env"] for r in state.report if not r["ok"]]}, fh)
        os.replace(path + ".tmp", path)
    except OSError as err:
        log(f"cannot write heartbeat {path}: {err}")


def checker(state, stop, interval, heartbeat):
    while True:
        state.evaluate()
        write_heartbeat(heartbeat, state)
        if stop.wait(interval):
            return


# ----------------------------------------------------------------------------- profiles
def text(body):
    return 200, body.encode(), "text/plain; charset=utf-8"


def js(body, code=200):
    return code, json.dumps(body).encode(), "application/json"


def qdrant_routes(handler, path, method, ctx):
    storage = ctx["state"].storage or "/qdrant/storage"
    if path == "/":
        return js({"title": "qdrant - vector search engine (genai-stack test stand-in)",
                   "version": "1.16.3-standin"})
    if path == "/healthz":
        return text("healthz check passed")
    if path == "/livez":
        return text("livez check passed")
    if path == "/readyz":
        return None  # readiness: the storage marker must be writable
    if path == "/collections" and method == "GET":
        names = sorted(d[:-4] for d in os.listdir(storage) if d.endswith(".col")) if os.path.isdir(storage) else []
        return js({"result": {"collections": [{"name": n} for n in names]}, "status": "ok", "time": 0.0})
    match = re.match(r"^/collections/([A-Za-z0-9_-]+)$", path)
    if match:
        col = os.path.join(storage, match.group(1) + ".col")
        if method == "PUT":
            with open(col, "w") as fh:
                fh.write(handler.read_body().decode("utf-8", "replace") or "{}")
            return js({"result": True, "status": "ok", "time": 0.0})
        if method == "DELETE":
            existed = os.path.exists(col)
            if existed:
                os.unlink(col)
            return js({"result": existed, "status": "ok", "time": 0.0})
        if os.path.exists(col):
            return js({"result": {"status": "green", "points_count": 0}, "status": "ok", "time": 0.0})
        return js({"status": {"error": f"Collection `{match.group(1)}` doesn't exist!"}, "time": 0.0}, 404)
    return js({"status": {"error": "Not found"}}, 404)


def minio_routes(handler, path, method, ctx):
    if path in ("/minio/health/live", "/minio/health/cluster"):
        return 200, b"", "text/plain"
    if path == "/minio/health/ready":
        return None
    if handler.server.server_address[1] == ctx["ports"].get("console"):
        return 200, b"<html><title>MinIO Console (stand-in)</title></html>", "text/html"
    return 403, (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                 b"<Message>genai-stack test stand-in: no S3 API</Message></Error>"), "application/xml"


def prometheus_routes(handler, path, method, ctx):
    if path == "/-/healthy":
        return text("Prometheus Server is Healthy.\n")
    if path == "/-/ready":
        return text("Prometheus Server is Ready.\n")
    if path == "/api/v1/targets":
        return js({"status": "success", "data": {"activeTargets": [], "droppedTargets": []}})
    if path in ("/api/v1/query", "/api/v1/query_range"):
        return js({"status": "success", "data": {"resultType": "vector", "result": []}})
    if path == "/api/v1/status/config":
        config = ctx.get("config_file")
        try:
            with open(config) as fh:
                yaml = fh.read()
        except (OSError, TypeError):
            return js({"status": "error", "error": f"cannot read config file {config!r}"}, 500)
        return js({"status": "success", "data": {"yaml": yaml}})
    if path == "/api/v1/status/buildinfo":
        return js({"status": "success", "data": {"version": "2.54.1-standin"}})
    if path == "/":
        return 302, b"", "text/plain"
    return None if path in HEALTH_PATHS else js({"status": "error", "error": "not found"}, 404)


def grafana_routes(handler, path, method, ctx):
    if path == "/api/health":
        return js({"commit": "standin", "database": "ok", "version": "11.2.0-standin"})
    if path == "/":
        return 200, b"<html><title>Grafana (genai-stack test stand-in)</title></html>", "text/html"
    return None if path in HEALTH_PATHS or path == "/metrics" else js({"message": "Not found"}, 404)


def jaeger_routes(handler, path, method, ctx):
    port = handler.server.server_address[1]
    if port == 14269 and path == "/":
        return js({"status": "Server available", "upSince": ctx["state"].started})
    if path == "/api/services":
        return js({"data": ["jaeger-all-in-one"], "total": 1, "limit": 0, "offset": 0, "errors": None})
    if path in ("/v1/traces", "/v1/metrics", "/v1/logs") and method == "POST":
        handler.read_body()
        return 200, b"{}", "application/json"
    if path == "/api/traces" and method == "POST":
        handler.read_body()
        return 202, b"", "text/plain"
    if path == "/":
        return 200, b"<html><title>Jaeger UI (genai-stack test stand-in)</title></html>", "text/html"
    return None


PROFILES = {
    # name: (http ports, raw TCP ports, role of each port, routes)
    "app": ([], [], {}, None),
    "qdrant": ([6333], [6334], {"http": 6333, "grpc": 6334}, qdrant_routes),
    "minio": ([9000, 9001], [], {"api": 9000, "console": 9001}, minio_routes),
    "kafka": ([], [9092], {"broker": 9092}, None),
    "jaeger": ([16686, 4318, 14268, 14269], [4317], {"ui": 16686}, jaeger_routes),
    "prometheus": ([9090], [], {"http": 9090}, prometheus_routes),
    "grafana": ([3000], [], {"http": 3000}, grafana_routes),
}


# ----------------------------------------------------------------------------- HTTP
def make_handler(ctx):
    state, profile, routes = ctx["state"], ctx["profile"], ctx["routes"]

    class Handler(BaseHTTPRequestHandler):
        server_version = f"genai-stack-standin/{VERSION}"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # one line per request, on stdout
            log(f"{self.address_string()} :{self.server.server_address[1]} {fmt % args}")

        def read_body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(length, 1 << 20)) if length > 0 else b""

        def send(self, code, data, ctype):
            # Counted before the answer goes out, so a client that asks /metrics next sees it.
            state.count(urllib.parse.urlsplit(self.path).path, code)
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header(SERVED_BY_HEADER, ctx.get("component") or ctx["name"])
            if code == 302:
                self.send_header("Location", "/graph")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def handle_any(self):
            path = urllib.parse.urlsplit(self.path).path
            if self.headers.get(CHECK_HEADER):
                # Another stand-in checks that this one answers: liveness only (no cascade).
                return self.send(*js({"status": "alive", "service": ctx["name"]}))
            if routes:
                answer = routes(self, path, self.command, ctx)
                if answer is not None:
                    return self.send(*answer)
            if path in HEALTH_PATHS or path in ("/minio/health/ready", "/-/ready", "/readyz"):
                body = state.body()
                body["service"] = ctx["name"]
                return self.send(*js(body, 200 if state.ready and not state.draining else 503))
            if path == "/metrics":
                return self.send(200, state.metrics(profile), "text/plain; version=0.0.4; charset=utf-8")
            if self.command in ("POST", "PUT"):
                self.read_body()
            return self.send(*js({"service": ctx["name"], "profile": profile, "path": path,
                                  "test_image": True, "message": "genai-stack test stand-in is serving"}))

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET

    def server_bind(self):
        if self.address_family == socket.AF_INET6:
            try:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            except OSError:
                pass
        super().server_bind()


class TCPSink(socketserver.ThreadingTCPServer):
    """A port that accepts connections and reads until the peer closes (kafka, gRPC)."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            log(f"{self.client_address[0]} :{self.server.server_address[1]} tcp connection")
            self.request.settimeout(300)
            try:
                while self.request.recv(65536):
                    pass
            except OSError:
                pass

    def __init__(self, port):
        super().__init__(("0.0.0.0", port), self.Handler)


def bind_http(port, handler):
    try:
        return Server(("::", port), handler)
    except OSError:
        Server.address_family = socket.AF_INET
        return Server(("0.0.0.0", port), handler)


def int_list(value, what):
    ports = []
    for raw in value.split(","):
        raw = raw.strip()
        if not raw:
            continue
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ValueError(f"{what}: {raw!r} is not a port number")
        ports.append(int(raw))
    return ports


def plan_ports(environ, profile):
    """(http ports, tcp ports) to listen on."""
    http_ports, tcp_ports = list(PROFILES[profile][0]), list(PROFILES[profile][1])
    extra = int_list(environ.get("PORT", ""), "PORT") + int_list(environ.get("STANDIN_PORTS", ""), "STANDIN_PORTS")
    for port in extra:
        if port not in http_ports and port not in tcp_ports:
            http_ports.append(port)
    return sorted(set(http_ports)), sorted(set(tcp_ports))


def arg_value(argv, name):
    for i, arg in enumerate(argv):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
    return None


def main(argv=None, environ=None):
    argv = sys.argv[1:] if argv is None else argv
    environ = dict(os.environ if environ is None else environ)
    profile = environ.get("STANDIN_PROFILE", "app") or "app"
    if profile not in PROFILES:
        log(f"error: unknown STANDIN_PROFILE {profile!r} (one of {', '.join(sorted(PROFILES))})")
        return 2
    worker = "--worker" in argv
    try:
        deps = dependencies(environ)
        http_ports, tcp_ports = ([], []) if worker else plan_ports(environ, profile)
    except ValueError as err:
        log(f"error: {err}")
        return 2
    check_deps = environ.get("STANDIN_CHECK_DEPS", "1" if profile == "app" else "0") == "1"
    interval = float(environ.get("STANDIN_CHECK_INTERVAL", "5"))
    state = State(deps, check_deps, environ.get("STANDIN_STORAGE") or None,
                  float(environ.get("STANDIN_CHECK_TIMEOUT", "2")))
    heartbeat = environ.get("STANDIN_HEARTBEAT", "/tmp/standin-heartbeat.json")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    name = environ.get("STANDIN_NAME") or environ.get("HOSTNAME") or socket.gethostname()
    mode = "worker" if not (http_ports or tcp_ports) else "server"
    named = [f"{k}={v['scheme']}://{v['host']}:{v['port']}" for k, v in state.deps.items()]
    log(f"genai-stack test stand-in {VERSION} starting: profile={profile} mode={mode} "
        f"http={http_ports} tcp={tcp_ports} uid={os.getuid()} dependencies={named}")
    ctx = {"state": state, "profile": profile, "routes": PROFILES[profile][3], "name": name,
           "ports": PROFILES[profile][2], "component": component_name(environ),
           "config_file": arg_value(argv, "--config.file")}
    servers = []
    try:
        for port in http_ports:
            servers.append(bind_http(port, make_handler(ctx)))
        for port in tcp_ports:
            servers.append(TCPSink(port))
    except OSError as err:
        log(f"error: cannot listen: {err}")
        return 1
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    if servers:
        log("listening on " + ", ".join(f":{s.server_address[1]}" for s in servers))
    thread = threading.Thread(target=checker, args=(state, stop, interval, heartbeat), daemon=True)
    thread.start()
    stop.wait()
    drain = float(environ.get("STANDIN_DRAIN_SECONDS") or 0)
    if drain > 0 and servers:
        # Graceful shutdown as a real server does it: unready at once, keep answering while
        # the endpoints and the ingress controller drop this pod, then stop.
        state.draining = True
        log(f"draining for {drain:g}s (signal)")
        time.sleep(drain)
    log("stopping (signal)")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

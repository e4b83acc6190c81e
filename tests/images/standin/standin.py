#!/usr/bin/env python3
"""Generic application stand-in for genai.stack test images (a TEST image, not a product).

It honours the environment contract of the services it stands in for:
- serves HTTP on $PORT (and on every port listed in $STANDIN_PORTS, comma-separated);
- /healthz /health /ready /readyz /livez answer 200 only while every dependency named in
  its own environment is reachable, 503 otherwise, with a JSON report per dependency;
- / always answers 200; /metrics answers Prometheus text;
- a dependency is any environment value that is a URL or DSN with a scheme and a host:
  http(s) -> GET <scheme>://<host>:<port>/healthz answered (any status below 500),
  redis(s) -> RESP PING answered +PONG (AUTH first when the URL holds a password),
  anything else (mysql, postgresql, amqp, kafka...) -> TCP connect to host:port;
  the service-link variables Kubernetes injects (X_PORT=tcp://...) are not dependencies;
- without $PORT or $STANDIN_PORTS it runs as a worker: no HTTP, it checks its dependencies
  every few seconds and writes a heartbeat file that `celery ... inspect ping` reads;
- $STANDIN_PROFILE=qdrant|minio|prometheus|grafana|jaeger|kafka adds that server's health
  paths and default ports, for the stand-ins of servers no package provides here.
"""
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORTS = {
    "http": 80, "https": 443, "redis": 6379, "rediss": 6379, "mysql": 3306, "mariadb": 3306,
    "postgres": 5432, "postgresql": 5432, "amqp": 5672, "kafka": 9092, "mongodb": 27017,
    "nats": 4222, "grpc": 443,
}
PROFILES = {
    # name: (default ports, extra always-200 health paths)
    "qdrant": ([6333, 6334], ["/healthz", "/readyz", "/livez"]),
    "minio": ([9000, 9001], ["/minio/health/live", "/minio/health/ready"]),
    "prometheus": ([9090], ["/-/ready", "/-/healthy"]),
    "grafana": ([3000], ["/api/health"]),
    "jaeger": ([16686, 4317, 4318, 14268, 14269], ["/"]),
    "kafka": ([9092], []),
}
# Variables Kubernetes injects for every Service in the namespace (service links), e.g.
# GATEWAY_PORT=tcp://10.96.0.12:8000: not dependencies the service named itself.
SERVICE_LINK = re.compile(r"^[A-Z0-9_]+_PORT(_[0-9]+_(TCP|UDP|SCTP))?$")
HEARTBEAT = os.environ.get("STANDIN_HEARTBEAT", "/tmp/standin-heartbeat")
CHECK_TIMEOUT = float(os.environ.get("STANDIN_CHECK_TIMEOUT", "2"))


def log(msg):
    sys.stdout.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + msg + "\n")
    sys.stdout.flush()


def scheme_base(scheme):
    """mysql+pymysql -> mysql; postgresql+asyncpg -> postgresql."""
    return scheme.split("+", 1)[0].lower()


def dependencies(environ):
    """Every environment value that names a dependency: {env name: parsed URL}."""
    deps = {}
    for name, value in sorted(environ.items()):
        if name.startswith("STANDIN_") or "://" not in value:
            continue
        if SERVICE_LINK.match(name) and value.startswith(("tcp://", "udp://", "sctp://")):
            continue
        try:
            url = urllib.parse.urlsplit(value.strip())
            host, port = url.hostname, url.port
        except ValueError:
            continue
        if not url.scheme or not host:
            continue
        base = scheme_base(url.scheme)
        deps[name] = {
            "scheme": base,
            "host": host,
            "port": port or DEFAULT_PORTS.get(base, 80),
            "password": urllib.parse.unquote(url.password) if url.password else None,
            "url": value.strip(),
        }
    return deps


def check_tcp(dep):
    with socket.create_connection((dep["host"], dep["port"]), timeout=CHECK_TIMEOUT):
        return "tcp connect ok"


def check_http(dep):
    url = urllib.parse.urlsplit(dep["url"])
    target = urllib.parse.urlunsplit((url.scheme, url.netloc, "/healthz", "", ""))
    try:
        with urllib.request.urlopen(target, timeout=CHECK_TIMEOUT) as resp:
            return f"GET /healthz {resp.status}"
    except urllib.error.HTTPError as err:
        if err.code < 500:
            # The service answers: it has no /healthz of its own, but it is up.
            return f"GET /healthz {err.code}"
        raise RuntimeError(f"GET /healthz {err.code}") from err


def check_redis(dep):
    with socket.create_connection((dep["host"], dep["port"]), timeout=CHECK_TIMEOUT) as sock:
        sock.settimeout(CHECK_TIMEOUT)
        if dep["password"]:
            pw = dep["password"].encode()
            sock.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw))
            reply = sock.recv(128)
            if not reply.startswith(b"+OK"):
                raise RuntimeError("AUTH refused")
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        reply = sock.recv(128)
        if not reply.startswith(b"+PONG"):
            raise RuntimeError(f"PING answered {reply[:40]!r}")
        return "PING +PONG"


def check(dep):
    scheme = dep["scheme"]
    if scheme in ("http", "https"):
        return check_http(dep)
    if scheme in ("redis", "rediss"):
        return check_redis(dep)
    return check_tcp(dep)


def check_all(deps):
    report, ok = [], True
    for name, dep in deps.items():
        try:
            detail, healthy = check(dep), True
        except Exception as err:  # any failure keeps the service unready
            detail, healthy = f"{type(err).__name__}: {err}", False
        ok = ok and healthy
        report.append({"env": name, "target": f"{dep['scheme']}://{dep['host']}:{dep['port']}",
                       "ok": healthy, "detail": detail})
    return ok, report


class State:
    def __init__(self, deps):
        self.deps = deps
        self.last = None
        self.requests = 0
        self.lock = threading.Lock()

    def evaluate(self):
        ok, report = check_all(self.deps)
        with self.lock:
            if ok != self.last:
                failing = [r["env"] + " (" + r["detail"] + ")" for r in report if not r["ok"]]
                log("dependencies " + ("ready" if ok else "NOT ready: " + ", ".join(failing)))
                self.last = ok
        return ok, report


def make_handler(state, profile_paths, storage):
    class Handler(BaseHTTPRequestHandler):
        server_version = "genai-stack-standin/1.0"

        def log_message(self, fmt, *args):
            log("%s %s" % (self.address_string(), fmt % args))

        def reply(self, code, body, ctype="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server API)
            state.requests += 1
            path = urllib.parse.urlsplit(self.path).path
            if path in ("/healthz", "/health", "/ready", "/readyz", "/livez") or path in profile_paths:
                ok, report = state.evaluate()
                body = {"status": "ok" if ok else "unavailable", "dependencies": report,
                        "service": os.environ.get("HOSTNAME", "")}
                if storage:
                    body["storage"] = storage
                self.reply(200 if ok else 503, body)
            elif path == "/metrics":
                text = (
                    "# HELP standin_requests_total Requests served.\n"
                    "# TYPE standin_requests_total counter\n"
                    f"standin_requests_total {state.requests}\n"
                    "# HELP standin_dependencies_ready Whether every dependency answers.\n"
                    "# TYPE standin_dependencies_ready gauge\n"
                    f"standin_dependencies_ready {1 if state.last else 0}\n"
                )
                self.reply(200, text.encode(), "text/plain; version=0.0.4")
            else:
                self.reply(200, {"service": "genai-stack test stand-in", "path": path,
                                 "title": os.environ.get("STANDIN_PROFILE", "app")})

        do_HEAD = do_GET

    return Handler


def prepare_storage():
    """Prove a mounted volume is writable (the Qdrant stand-in keeps a marker in it)."""
    path = os.environ.get("STANDIN_STORAGE")
    if not path:
        return None
    os.makedirs(path, exist_ok=True)
    marker = os.path.join(path, ".standin-created")
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
    with open(marker) as fh:
        return {"path": path, "created": fh.read().strip()}


def ports_from_env(environ, profile):
    ports = []
    for raw in [environ.get("PORT", "")] + environ.get("STANDIN_PORTS", "").split(","):
        raw = raw.strip()
        if raw:
            ports.append(int(raw))
    if not ports and profile in PROFILES:
        ports = list(PROFILES[profile][0])
    return sorted(set(ports))


def serve(state, ports, profile_paths, storage):
    servers = []
    for port in ports:
        server = ThreadingHTTPServer(("0.0.0.0", port), make_handler(state, profile_paths, storage))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        log(f"listening on :{port}")
    return servers


def worker_loop(state, stop):
    while not stop.is_set():
        ok, _ = state.evaluate()
        with open(HEARTBEAT + ".tmp", "w") as fh:
            json.dump({"time": time.time(), "ready": ok}, fh)
        os.replace(HEARTBEAT + ".tmp", HEARTBEAT)
        stop.wait(3)


def main():
    profile = os.environ.get("STANDIN_PROFILE", "")
    state = State(dependencies(os.environ))
    storage = prepare_storage()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ports = ports_from_env(os.environ, profile)
    log(f"stand-in starting (profile={profile or 'app'}, dependencies={sorted(state.deps)}, ports={ports})")
    if ports:
        serve(state, ports, set(PROFILES.get(profile, ([], []))[1]), storage)
        state.evaluate()
        while not stop.wait(5):
            pass
    else:
        log("no PORT: running as a worker")
        worker_loop(state, stop)
    log("stopping")


if __name__ == "__main__":
    main()

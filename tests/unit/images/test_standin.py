"""Unit tests of the stand-in's dependency parsing, checks and HTTP contract.

Servers are started on 127.0.0.1 by the tests themselves; nothing leaves the loopback."""

import http.client
import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


# ----------------------------------------------------------------------------- helpers
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server():
    """Start an HTTP server on 127.0.0.1 answering /healthz with a chosen status."""
    servers = []

    def start(status=200, location=None):
        seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                seen.append((self.path, dict(self.headers)))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], seen

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redis_server():
    """A minimal RESP server: AUTH [user] password, PING."""
    servers = []

    def start(password=None, username=None, reply_ping=b"+PONG\r\n"):
        received = []

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    self.serve_resp()
                except (OSError, ValueError):
                    pass  # the client hung up (the check's time-out or a failed check)

            def serve_resp(self):
                authed = password is None
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    if not line.startswith(b"*"):
                        return  # not RESP (e.g. an HTTP client): hang up
                    count = int(line[1:])
                    words = []
                    for _word in range(count):
                        self.rfile.readline()
                        words.append(self.rfile.readline().rstrip(b"\r\n").decode())
                    received.append(words)
                    if words[0] == "AUTH":
                        user_ok = username is None or (len(words) == 3 and words[1] == username)
                        if words[-1] == password and user_ok:
                            authed = True
                            self.wfile.write(b"+OK\r\n")
                        else:
                            self.wfile.write(b"-WRONGPASS invalid username-password pair\r\n")
                    elif words[0] == "PING":
                        self.wfile.write(reply_ping if authed else b"-NOAUTH Authentication required.\r\n")

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1], received

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------------------- parsing
def test_dependencies_from_env_values(standin):
    env = {
        "MYSQL_DSN": "mysql+pymysql://genai:p%40ss@mysql.genai.svc.cluster.local/genai_med",
        "DATABASE_URL": "postgresql+asyncpg://app:pw@postgres:5433/app",
        "CELERY_BROKER_URL": "redis://:secret@redis.genai.svc.cluster.local:6379/0",
        "CHAT_SERVICE_URL": "http://chat-service.genai.svc.cluster.local:8003",
        "OPENAI_BASE": "https://api.example.test/v1",
        "KAFKA": "kafka://kafka:9092",
        "LOG_LEVEL": "info",
        "QDRANT_HOST": "qdrant.genai.svc.cluster.local",
        "EMPTY": "",
    }
    deps = standin.dependencies(env)
    assert sorted(deps) == ["CELERY_BROKER_URL", "CHAT_SERVICE_URL", "DATABASE_URL", "KAFKA", "MYSQL_DSN", "OPENAI_BASE"]
    assert deps["MYSQL_DSN"]["scheme"] == "mysql"
    assert (deps["MYSQL_DSN"]["host"], deps["MYSQL_DSN"]["port"]) == ("mysql.genai.svc.cluster.local", 3306)
    assert deps["MYSQL_DSN"]["password"] == "p@ss"
    assert (deps["DATABASE_URL"]["scheme"], deps["DATABASE_URL"]["port"]) == ("postgresql", 5433)
    assert deps["CELERY_BROKER_URL"]["password"] == "secret"
    assert deps["CELERY_BROKER_URL"]["username"] is None
    assert deps["CHAT_SERVICE_URL"]["port"] == 8003
    assert deps["OPENAI_BASE"]["port"] == 443
    assert deps["KAFKA"]["port"] == 9092


def test_service_links_and_ignored_names_are_not_dependencies(standin):
    env = {
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "REDIS_PORT": "tcp://10.96.4.4:6379",
        "STANDIN_HEARTBEAT": "file:///tmp/x",
        "SENTRY_DSN": "https://key@sentry.example.test/1",
        "STANDIN_IGNORE_ENV": "SENTRY_DSN, OTHER",
        "UPSTREAM": "tcp://gateway:8000",
    }
    deps = standin.dependencies(env)
    # A *_PORT name with a tcp:// value is a Kubernetes service link; any other name is not.
    assert list(deps) == ["UPSTREAM"]
    assert (deps["UPSTREAM"]["scheme"], deps["UPSTREAM"]["port"]) == ("tcp", 8000)


def test_comma_lists_and_standin_deps(standin):
    env = {"REDIS_NODES": "redis://a:6379,redis://b:6380", "STANDIN_DEPS": "db:5432,[::1]:9000,http://x:81"}
    deps = standin.dependencies(env)
    assert [(d["host"], d["port"]) for d in deps.values()] == [
        ("a", 6379), ("b", 6380), ("db", 5432), ("::1", 9000), ("x", 81)]
    assert deps["STANDIN_DEPS[2]"]["scheme"] == "http"
    with pytest.raises(ValueError, match="neither a URL nor host:port"):
        standin.dependencies({"STANDIN_DEPS": "just-a-name"})


@pytest.mark.parametrize("value", ["not a url", "://nohost", "mailto:someone@example.test", "http://", "file:///etc/x",
                                   "redis://host:notaport/0"])
def test_values_without_a_host_are_ignored(standin, value):
    assert standin.dependencies({"X": value}) == {}


def test_plan_ports(standin):
    assert standin.plan_ports({"PORT": "8000", "STANDIN_PORTS": "9000, 9001"}, "app") == ([8000, 9000, 9001], [])
    assert standin.plan_ports({}, "app") == ([], [])  # worker mode
    # The renderer injects PORT = primary port: the profile's other ports stay open.
    assert standin.plan_ports({"PORT": "6333"}, "qdrant") == ([6333], [6334])
    assert standin.plan_ports({}, "kafka") == ([], [9092])
    with pytest.raises(ValueError, match="PORT"):
        standin.plan_ports({"PORT": "http"}, "app")
    with pytest.raises(ValueError, match="STANDIN_PORTS"):
        standin.plan_ports({"STANDIN_PORTS": "70000"}, "app")


# ----------------------------------------------------------------------------- checks
def test_tcp_check(standin):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    dep = standin.parse_url(f"mysql://u:p@127.0.0.1:{port}/db")
    assert standin.check(dep, 1) == "tcp connect ok"
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        standin.check(dep, 1)


def test_http_check_statuses(standin, http_server):
    port, seen = http_server(200)
    dep = standin.parse_url(f"http://127.0.0.1:{port}/api/v1?x=1")
    assert standin.check(dep, 2) == "GET /healthz 200"
    path, headers = seen[0]
    assert path == "/healthz"
    assert headers.get(standin.CHECK_HEADER) == "1"

    port = http_server(404)[0]
    assert "answers HTTP" in standin.check(standin.parse_url(f"http://127.0.0.1:{port}"), 2)

    port, seen = http_server(302, location="http://127.0.0.1:1/elsewhere")
    assert "302" in standin.check(standin.parse_url(f"http://127.0.0.1:{port}"), 2)
    assert len(seen) == 1  # the redirect is not followed

    port = http_server(503)[0]
    with pytest.raises(RuntimeError, match="503"):
        standin.check(standin.parse_url(f"http://127.0.0.1:{port}"), 2)

    with pytest.raises(OSError):
        standin.check(standin.parse_url(f"http://127.0.0.1:{free_port()}"), 1)


def test_redis_check_ping_and_auth(standin, redis_server):
    port, received = redis_server()
    assert standin.check(standin.parse_url(f"redis://127.0.0.1:{port}/0"), 2) == "PING +PONG"
    assert received == [["PING"]]

    port, received = redis_server(password="s3cret")
    assert standin.check(standin.parse_url(f"redis://:s3cret@127.0.0.1:{port}/1"), 2) == "PING +PONG"
    assert received == [["AUTH", "s3cret"], ["PING"]]
    with pytest.raises(RuntimeError, match="AUTH refused"):
        standin.check(standin.parse_url(f"redis://:wrong@127.0.0.1:{port}/1"), 2)
    with pytest.raises(RuntimeError, match="NOAUTH"):
        standin.check(standin.parse_url(f"redis://127.0.0.1:{port}/1"), 2)

    port, received = redis_server(password="pw", username="app")
    assert standin.check(standin.parse_url(f"redis://app:pw@127.0.0.1:{port}"), 2) == "PING +PONG"
    assert received[0] == ["AUTH", "app", "pw"]

    port = redis_server(reply_ping=b"-LOADING Redis is loading the dataset in memory\r\n")[0]
    with pytest.raises(RuntimeError, match="LOADING"):
        standin.check(standin.parse_url(f"redis://127.0.0.1:{port}"), 2)


def test_redis_check_against_a_non_redis_server(standin, http_server):
    port = http_server(200)[0]
    with pytest.raises((RuntimeError, OSError)):
        standin.check(standin.parse_url(f"redis://127.0.0.1:{port}"), 1)


def test_check_all_reports_each_dependency(standin, http_server):
    port = http_server(200)[0]
    deps = standin.dependencies({"UP": f"http://127.0.0.1:{port}", "DOWN": f"postgres://127.0.0.1:{free_port()}/x"})
    ok, report = standin.check_all(deps, 1)
    assert ok is False
    by_env = {r["env"]: r for r in report}
    assert by_env["UP"]["ok"] is True
    assert by_env["DOWN"]["ok"] is False
    assert "ConnectionRefused" in by_env["DOWN"]["detail"]
    assert by_env["DOWN"]["target"].startswith("postgres://127.0.0.1:")
    assert standin.check_all({}, 1) == (True, [])


# ----------------------------------------------------------------------------- HTTP contract
@pytest.fixture
def serve(standin):
    servers = []

    def start(state, profile="app", storage_ports=None):
        ctx = {"state": state, "profile": profile, "routes": standin.PROFILES[profile][3], "name": "test",
               "ports": storage_ports or standin.PROFILES[profile][2], "config_file": None}
        server = ThreadingHTTPServer(("127.0.0.1", 0), standin.make_handler(ctx))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read().decode(), resp.getheader("Content-Type")


def test_health_paths_follow_dependencies(standin, serve):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    dep_port = listener.getsockname()[1]
    state = standin.State(standin.dependencies({"DB": f"mysql://127.0.0.1:{dep_port}/x"}), timeout=1)
    port = serve(state)

    status, body = get(port, "/healthz")[:2]
    assert status == 503 and json.loads(body)["status"] == "starting"  # no check finished yet

    assert state.evaluate() is False
    for path in standin.HEALTH_PATHS:
        status, body, ctype = get(port, path)
        assert status == 503, path
        assert ctype == "application/json"
        report = json.loads(body)
        assert report["status"] == "unavailable"
        assert report["dependencies"][0]["env"] == "DB" and report["dependencies"][0]["ok"] is False
    assert get(port, "/")[0] == 200  # the serving page does not depend on dependencies
    # Another stand-in checking this one gets liveness only: no cascade, no deadlock in cycles.
    assert get(port, "/healthz", {standin.CHECK_HEADER: "1"})[0] == 200

    listener.listen()
    assert state.evaluate() is True
    status, body = get(port, "/readyz")[:2]
    assert status == 200 and json.loads(body)["status"] == "ok"
    listener.close()


def test_metrics_text_format(standin, serve):
    state = standin.State({})
    state.evaluate()
    port = serve(state)
    get(port, "/healthz")
    status, body, ctype = get(port, "/metrics")
    assert status == 200
    assert ctype.startswith("text/plain; version=0.0.4")
    assert "standin_ready 1\n" in body
    assert 'standin_http_requests_total{path="/healthz",code="200"} 1' in body
    for line in body.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def test_qdrant_profile_and_storage(standin, serve, tmp_path):
    state = standin.State({}, check_deps=False, storage=str(tmp_path / "storage"))
    state.evaluate()
    port = serve(state, "qdrant")
    assert get(port, "/healthz")[:2] == (200, "healthz check passed")
    assert get(port, "/readyz")[0] == 200
    assert "qdrant" in get(port, "/")[1]
    assert (tmp_path / "storage" / ".genai-standin").exists()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("PUT", "/collections/docs", body=b'{"vectors": {"size": 4}}')
    assert conn.getresponse().status == 200
    assert "docs" in get(port, "/collections")[1]
    assert get(port, "/collections/nope")[0] == 404


def test_storage_that_cannot_be_written_keeps_it_unready(standin, serve, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    state = standin.State({}, check_deps=False, storage=str(blocker / "storage"))
    assert state.evaluate() is False
    port = serve(state, "qdrant")
    status, body = get(port, "/readyz")[:2]
    assert status == 503 and json.loads(body)["storage"]["ok"] is False


def test_server_profiles(standin, serve):
    state = standin.State({}, check_deps=False)
    state.evaluate()
    assert get(serve(state, "prometheus"), "/-/ready")[0] == 200
    assert '"activeTargets"' in get(serve(state, "prometheus"), "/api/v1/targets")[1]
    assert json.loads(get(serve(state, "grafana"), "/api/health")[1])["database"] == "ok"
    assert get(serve(state, "minio"), "/minio/health/live")[0] == 200
    assert get(serve(state, "minio"), "/minio/health/ready")[0] == 200


def test_server_profiles_ignore_dependencies_unless_asked(standin):
    env = {"STANDIN_PROFILE": "grafana", "GF_SERVER_ROOT_URL": "http://grafana.example.test/"}
    state = standin.State(standin.dependencies(env), check_deps=False)
    assert state.deps == {} and state.evaluate() is True

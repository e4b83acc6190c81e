"""The stand-in names the component that answered in X-Served-By (what verify checks
through the ingress controller)."""

import http.client
import threading
from http.server import ThreadingHTTPServer

import pytest


@pytest.mark.parametrize("environ, expected", [
    ({"STANDIN_COMPONENT": "gateway", "HOSTNAME": "x-0"}, "gateway"),
    ({"GENAI_COMPONENT": "frontend", "HOSTNAME": "x-0"}, "frontend"),
    ({"HOSTNAME": "chat-service-7c9d8b6f5d-x2kqz"}, "chat-service"),  # Deployment pod
    ({"HOSTNAME": "ai-service-5d4f9-bcd2z"}, "ai-service"),
    ({"HOSTNAME": "mysql-0"}, "mysql"),  # StatefulSet pod
    ({"HOSTNAME": "qdrant-12"}, "qdrant"),
    ({"HOSTNAME": "workstation"}, "workstation"),  # not a pod: the host name as it is
])
def test_component_name(standin, environ, expected):
    assert standin.component_name(environ) == expected


def test_every_answer_carries_x_served_by(standin):
    state = standin.State({})
    state.evaluate()
    ctx = {"state": state, "profile": "app", "routes": None, "name": "gateway-7c9d8b6f5d-x2kqz",
           "ports": {}, "config_file": None, "component": "gateway"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), standin.make_handler(ctx))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for path, status in (("/", 200), ("/healthz", 200), ("/api/chat", 200), ("/metrics", 200)):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == status, path
            assert resp.getheader("X-Served-By") == "gateway", path
    finally:
        server.shutdown()
        server.server_close()


def test_draining_is_unready_but_keeps_serving(standin):
    state = standin.State({})
    state.evaluate()
    state.draining = True
    ctx = {"state": state, "profile": "app", "routes": None, "name": "gateway-0", "ports": {},
           "config_file": None, "component": "gateway"}
    server = ThreadingHTTPServer(("127.0.0.1", 0), standin.make_handler(ctx))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answers = {}
        for path in ("/healthz", "/readyz", "/", "/api/chat"):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
            answers[path] = (resp.status, resp.read())
        assert answers["/healthz"][0] == 503 and b'"draining"' in answers["/healthz"][1]
        assert answers["/readyz"][0] == 503
        assert answers["/"][0] == 200 and answers["/api/chat"][0] == 200
    finally:
        server.shutdown()
        server.server_close()

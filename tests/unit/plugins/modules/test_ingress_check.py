# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""genai.stack.ingress_check against a local HTTPS "controller" started by the tests.

The controller here is a Python HTTPS server on 127.0.0.1 that picks its certificate by SNI
and routes by Host like an ingress controller; certificates come from a throw-away CA made
with cryptography. tests/integration/test_ingress.py runs the module through the real
controller of the test cluster.
"""

import base64
import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.modules import ingress_check as ic


# ----------------------------------------------------------------------------- certificates
def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, dns_names, issuer=None, ca=False):
    """(cert PEM, key PEM, cert, key); self-signed when issuer is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sign_cert, sign_key = (issuer[2], issuer[3]) if issuer else (None, key)
    builder = (x509.CertificateBuilder().subject_name(_name(cn))
               .issuer_name(sign_cert.subject if sign_cert else _name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns_names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
    cert = builder.sign(sign_key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return pem, key_pem, cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    ca = make_cert("genai test CA", None, ca=True)
    good = make_cert("api.genai.local", ["api.genai.local", "app.genai.local", "broken.genai.local", "redir.genai.local"], issuer=ca)
    wrong = make_cert("other.local", ["other.local"], issuer=ca)
    selfsigned = make_cert("self.genai.local", ["self.genai.local"])
    files = {}
    for label, (pem, key_pem, _c, _k) in (("ca", ca), ("good", good), ("wrong", wrong), ("self", selfsigned)):
        (base / (label + ".crt")).write_text(pem)
        (base / (label + ".key")).write_text(key_pem)
        files[label] = (str(base / (label + ".crt")), str(base / (label + ".key")), pem)
    return files


# ----------------------------------------------------------------------------- controller
ROUTES = {  # (host, path prefix) -> component; anything else: 404 without X-Served-By
    ("api.genai.local", "/"): "gateway",
    ("app.genai.local", "/api"): "gateway",
    ("app.genai.local", "/"): "frontend",
    ("wrong.genai.local", "/"): "frontend",
    ("self.genai.local", "/"): "gateway",
    ("broken.genai.local", "/"): "BROKEN",
    ("redir.genai.local", "/"): "gateway",
}


@pytest.fixture(scope="module")
def controller(pki):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            host = (self.headers.get("Host") or "").split(":")[0]
            if host == "redir.genai.local" and not isinstance(self.connection, ssl.SSLSocket):
                self.send_response(308)
                self.send_header("Location", "https://redir.genai.local" + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            for (rhost, prefix), component in sorted(ROUTES.items(), key=lambda r: -len(r[0][1])):
                if rhost == host and self.path.startswith(prefix):
                    if component == "BROKEN":
                        return self._answer(503, None)
                    return self._answer(200, component)
            return self._answer(404, None)

        def _answer(self, status, served_by):
            self.send_response(status)
            if served_by:
                self.send_header("X-Served-By", served_by)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    contexts = {}
    for label in ("good", "wrong", "self"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki[label][0], pki[label][1])
        contexts[label] = ctx
    by_sni = {"api.genai.local": "good", "app.genai.local": "good", "wrong.genai.local": "wrong",
              "self.genai.local": "self", "broken.genai.local": "good",
              "redir.genai.local": "good"}

    def pick(sslobj, server_name, _ctx):
        sslobj.context = contexts[by_sni.get(server_name, "wrong")]

    main_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    main_ctx.load_cert_chain(pki["wrong"][0], pki["wrong"][1])
    main_ctx.sni_callback = pick
    https = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    https.socket = main_ctx.wrap_socket(https.socket, server_side=True)
    plain = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    for server in (https, plain):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"https": https.server_address[1], "http": plain.server_address[1]}
    for server in (https, plain):
        server.shutdown()
        server.server_close()


def target(host, path="/", expected="gateway", tls=True):
    return {"ingress": "genai", "host": host, "path": path, "request_path": ic.request_path(path),
            "tls": tls, "tls_secret": "genai-tls" if tls else None, "expected": expected}


PARAMS = {"timeout": 5, "require_served_by": True}


def test_verified_request_reaches_the_expected_backend(controller, pki):
    ca = (None, pki["ca"][0], "ca_path")
    result = ic.check(target("api.genai.local"), "127.0.0.1", controller, ca, PARAMS)
    assert result["ok"] and result["verified"] and result["status"] == 200
    assert result["served_by"] == "gateway" and result["url"] == "https://api.genai.local/"
    result = ic.check(target("app.genai.local", "/api"), "127.0.0.1", controller, ca, PARAMS)
    assert result["ok"] and result["served_by"] == "gateway"


def test_wrong_backend_fails_naming_both(controller, pki):
    ca = (None, pki["ca"][0], "ca_path")
    result = ic.check(target("app.genai.local", "/", expected="gateway"), "127.0.0.1", controller, ca, PARAMS)
    assert not result["ok"]
    assert result["error"] == "answered by frontend, expected gateway"


def test_controller_404_and_5xx_fail(controller, pki):
    ca = (None, pki["ca"][0], "ca_path")
    result = ic.check(target("api.genai.local", "/", tls=False), "127.0.0.1", controller, ca, PARAMS)
    assert result["ok"] and not result["verified"] and result["url"] == "http://api.genai.local/"
    result = ic.check(target("nothing.genai.local", "/", tls=False), "127.0.0.1", controller, ca, PARAMS)
    assert not result["ok"] and "404 from the controller" in result["error"]
    result = ic.check(target("broken.genai.local"), "127.0.0.1", controller, ca, PARAMS)
    assert not result["ok"] and result["status"] == 503 and "HTTP 503" in result["error"]


def test_ssl_redirect_is_followed_once(controller, pki):
    result = ic.check(target("redir.genai.local", "/auth", tls=False), "127.0.0.1", controller,
                      (None, pki["ca"][0], "ca_path"), PARAMS)
    assert result["ok"] and result["verified"], result
    assert result["url"] == "https://redir.genai.local/auth"
    assert result["redirected_from"] == "http://redir.genai.local/auth"
    assert ic.https_redirect(target("a.local"), 308, "https://other.local/") is None
    assert ic.https_redirect(target("a.local"), 200, "https://a.local/") is None


def test_certificate_for_another_host_fails_verified_and_unverified(controller, pki):
    ca = (None, pki["ca"][0], "ca_path")
    result = ic.check(target("wrong.genai.local", expected="frontend"), "127.0.0.1", controller, ca, PARAMS)
    assert not result["ok"] and result["error"].startswith("certificate not valid for wrong.genai.local")
    # no CA known: not verified, but the host name is still compared
    result = ic.check(target("wrong.genai.local", expected="frontend"), "127.0.0.1", controller,
                      (None, None, None), PARAMS)
    assert not result["ok"] and not result["verified"]
    assert result["error"] == "certificate is for other.local, not wrong.genai.local"
    result = ic.check(target("api.genai.local"), "127.0.0.1", controller, (None, None, None), PARAMS)
    assert result["ok"] and not result["verified"] and result["ca"] is None


def test_unknown_ca_fails(controller, pki):
    ca = (pki["self"][2], None, "self-signed tls.crt")  # a CA that did not issue api's certificate
    result = ic.check(target("api.genai.local"), "127.0.0.1", controller, ca, PARAMS)
    assert not result["ok"] and "certificate not valid" in result["error"]


def test_self_signed_secret_is_its_own_anchor(controller, pki):
    secret = {"data": {"tls.crt": base64.b64encode(pki["self"][2].encode()).decode(), "tls.key": "c2VjcmV0"}}
    pem, source = ic.ca_of_secret(secret)
    assert source == "self-signed tls.crt" and pem == pki["self"][2]
    result = ic.check(target("self.genai.local"), "127.0.0.1", controller, (pem, None, source), PARAMS)
    assert result["ok"] and result["verified"], result


def test_ca_of_secret_prefers_ca_crt_and_ignores_issued_leaf(pki):
    def b64(text):
        return base64.b64encode(text.encode()).decode()

    assert ic.ca_of_secret({"data": {"ca.crt": b64(pki["ca"][2]), "tls.crt": b64(pki["good"][2])}}) == (
        pki["ca"][2], "secret ca.crt")
    assert ic.ca_of_secret({"data": {"tls.crt": b64(pki["good"][2])}}) == (None, None)
    assert ic.ca_of_secret(None) == (None, None)


def test_missing_header_is_accepted_only_when_not_required():
    t = target("api.genai.local")
    assert ic.judge(t, 200, None, False) is None
    assert "without an X-Served-By" in ic.judge(t, 200, None, True)
    assert ic.judge(t, 404, "gateway", True) is None  # the backend's own 404 reached the backend


def test_targets_from_ingress_rules():
    ingress = {"metadata": {"name": "genai"}, "spec": {
        "tls": [{"hosts": ["api.genai.local"], "secretName": "genai-tls"}],
        "rules": [
            {"host": "api.genai.local", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "gateway", "port": {"number": 8000}}}}]}},
            {"host": "app.genai.local", "http": {"paths": [
                {"path": "/api(/|$)(.*)", "pathType": "ImplementationSpecific",
                 "backend": {"service": {"name": "gw-svc", "port": {"number": 80}}}}]}},
        ]}}
    services = {"gw-svc": {"metadata": {"labels": {"app.kubernetes.io/name": "gateway"}}}}
    found = ic.targets([ingress], services)
    assert [(t["host"], t["path"], t["request_path"], t["tls"], t["tls_secret"], t["expected"]) for t in found] == [
        ("api.genai.local", "/", "/", True, "genai-tls", "gateway"),
        ("app.genai.local", "/api(/|$)(.*)", "/api", False, None, "gateway"),
    ]


def test_host_matching():
    assert ic.host_matches("api.genai.local", ["api.genai.local"])
    assert ic.host_matches("api.genai.local", ["*.genai.local"])
    assert not ic.host_matches("a.api.genai.local", ["*.genai.local"])
    assert not ic.host_matches("api.genai.local", ["app.genai.local"])


class FakeApi(object):
    def __init__(self, ingresses, services=(), secrets=None, nodes=()):
        self.ingresses, self.services, self.secrets, self.nodes = ingresses, list(services), secrets or {}, nodes

    def list_items(self, path, label_selector=None, missing_ok=True):
        if path.endswith("/ingresses"):
            return self.ingresses
        if path.endswith("/services"):
            return self.services
        if path == "/api/v1/nodes":
            return list(self.nodes)
        raise AssertionError(path)

    def get_json(self, path, query=None):
        name = path.rsplit("/", 1)[1]
        if name in self.secrets:
            return self.secrets[name]
        raise GenaiStackError("GET {0} failed: HTTP 404".format(path), api_status=404)


class FakeModule(object):
    check_mode = False

    def __init__(self, **params):
        self.params = dict({"namespace": "genai", "label_selectors": [], "address": None, "https_port": 443,
                            "http_port": 80, "ca_path": None, "ca_from_secret": True, "require_served_by": True,
                            "timeout": 5, "wait_timeout": 0, "allow_empty": False}, **params)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def test_run_reports_urls_answering_and_fails_naming_host_and_path(controller, pki, monkeypatch):
    def rule(host):
        return {"host": host, "http": {"paths": [{"path": "/", "backend": {"service": {"name": "gateway"}}}]}}

    ingress = {"metadata": {"name": "genai"}, "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}, "spec": {
        "tls": [{"hosts": ["api.genai.local", "app.genai.local"], "secretName": "genai-tls"}],
        "rules": [rule("api.genai.local"), rule("app.genai.local")]}}
    secrets = {"genai-tls": {"data": {"ca.crt": base64.b64encode(pki["ca"][2].encode()).decode()}}}
    monkeypatch.setattr(ic, "get_api", lambda params: FakeApi([ingress], secrets=secrets))
    module = FakeModule(https_port=controller["https"], http_port=controller["http"])
    with pytest.raises(GenaiStackError) as err:
        ic.run(module)
    assert "app.genai.local /: answered by frontend, expected gateway" in err.value.msg
    assert "127.0.0.1 (Ingress genai status)" in err.value.msg
    details = err.value.details
    assert details["urls_answering"] == ["https://api.genai.local/"]
    assert [c["ca"] for c in details["checks"]] == ["secret ca.crt", "secret ca.crt"]
    assert module.warnings == []

    ingress["spec"]["rules"] = ingress["spec"]["rules"][:1]
    result = ic.run(module)
    assert result["healthy"] and result["urls_answering"] == ["https://api.genai.local/"]


def test_run_without_ingress_fails_unless_allowed(monkeypatch):
    monkeypatch.setattr(ic, "get_api", lambda params: FakeApi([]))
    with pytest.raises(GenaiStackError, match="no Ingress in namespace genai"):
        ic.run(FakeModule())
    assert ic.run(FakeModule(allow_empty=True))["healthy"]


def test_address_from_a_ready_node():
    nodes = [{"metadata": {"name": "n1"}, "status": {
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.1.2.3"}]}}]
    assert ic.find_address(FakeApi([], nodes=nodes), [{"metadata": {"name": "x"}}]) == ("10.1.2.3", "node n1 InternalIP")

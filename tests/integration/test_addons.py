"""The test cluster's add-ons (tests/cluster/cluster up; docs/test-cluster.md), seen working.

- Ingress: an Ingress of class nginx is admitted (status = the node's address) and routes
  by host through the controller on the node's port 80; an unknown host gets 404.
- cert-manager: ingress-shim makes a Certificate for an Ingress annotated
  cert-manager.io/cluster-issuer: genai-test-ca; the issued chain verifies against
  .cluster/ca/genai-test-ca.crt and the controller serves it by SNI on port 443. A selfSigned
  Issuer issues too. The time from Ingress applied to Certificate Ready is printed.
- metrics-server: the metrics API returns CPU and memory of a running pod.
- NetworkPolicy (kube-router): a pod the policy does not allow cannot reach the protected
  pod, one it allows can, and the refused pod still reaches an unprotected one.

Every test talks to the real cluster named by KUBECONFIG, in namespaces t-addons-*.
"""
import base64
import json
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest
from clusterlib import CA_FILE, apply, condition, kget, kubectl, needs_cluster, node_ip, ready_pods, wait_until

pytestmark = needs_cluster

APP_IMAGE = "localhost/genai-stack-test/app:1.0.0"
CLUSTER_ISSUER = "genai-test-ca"


def app(name, labels=None):
    """A Deployment and a Service of the stand-in answering HTTP on 8000."""
    pod_labels = {"app": name, **(labels or {})}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": pod_labels}, "spec": {
                      "terminationGracePeriodSeconds": 2,
                      "containers": [{
                          "name": name, "image": APP_IMAGE, "imagePullPolicy": "IfNotPresent",
                          "env": [{"name": "PORT", "value": "8000"}],
                          "ports": [{"name": "http", "containerPort": 8000}],
                          "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                          "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8000},
                                             "periodSeconds": 2}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8000, "targetPort": 8000}]}},
    ]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects instead of following them (the test looks at the 308 itself)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http_get(url, host, timeout=5):
    """GET url with a Host header (redirects not followed); return (status, body) or (None, error text)."""
    req = urllib.request.Request(url, headers={"Host": host})
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except OSError as err:
        return None, str(err)


def ingress(name, host, service, tls_secret=None, annotations=None):
    spec = {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 8000}}}}]}}]}
    if tls_secret:
        spec["tls"] = [{"hosts": [host], "secretName": tls_secret}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}


@pytest.fixture(scope="module")
def ns():
    name = f"t-addons-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    wait_until("default ServiceAccount", lambda: kubectl("-n", name, "get", "sa", "default", check=False).returncode == 0)
    yield name
    for attempt in range(3):
        if kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False).returncode == 0:
            break
        time.sleep(2 * (attempt + 1))


@pytest.fixture(scope="module")
def web(ns):
    for manifest in app("web"):
        apply(ns, manifest)
    wait_until("web Ready", lambda: ready_pods(ns, "web"), timeout=180)
    return "web"


def test_ingress_class_nginx_is_served_by_the_controller():
    klass = json.loads(kubectl("get", "ingressclass", "nginx", "-o", "json").stdout)
    assert klass["spec"]["controller"] == "k8s.io/ingress-nginx"
    deployment = kget("ingress-nginx", "deployment", "ingress-nginx-controller")
    assert condition(deployment, "Available") == "True"
    assert kget("ingress-nginx", "service", "ingress-nginx-controller")["spec"]["ports"][0]["port"] == 80


def test_ingress_routes_by_host_through_the_controller(ns, web):
    host = f"{ns}.addons.test"
    apply(ns, ingress("web", host, web))
    ip = node_ip()
    wait_until("Ingress status = node address", lambda: [
        i.get("ip") for i in kget(ns, "ingress", "web")["status"].get("loadBalancer", {}).get("ingress", [])
    ] == [ip], timeout=60)
    wait_until(f"http://{host}/ through the controller answering 200",
               lambda: http_get(f"http://{ip}/", host)[0] == 200, timeout=60)
    status, body = http_get(f"http://{ip}/", host)
    assert status == 200, body
    status, body = http_get(f"http://{ip}/", f"unknown-{ns}.addons.test")
    assert status == 404, body


def test_cert_manager_issues_for_an_ingress_through_the_ca_cluster_issuer(ns, web):
    host = f"tls-{ns}.addons.test"
    t0 = time.monotonic()
    apply(ns, ingress("web-tls", host, web, tls_secret="web-tls",
                      annotations={"cert-manager.io/cluster-issuer": CLUSTER_ISSUER}))

    def ready_certificate():
        items = kget(ns, "certificates.cert-manager.io")["items"]
        return next((c for c in items if c["metadata"]["name"] == "web-tls" and condition(c, "Ready") == "True"),
                    None)
    cert = wait_until("Certificate web-tls Ready", ready_certificate, timeout=120, interval=0.25)
    elapsed = time.monotonic() - t0
    print(f"Ingress applied -> Certificate Ready in {elapsed:.1f}s")
    assert cert["spec"]["dnsNames"] == [host]
    assert cert["spec"]["issuerRef"]["name"] == CLUSTER_ISSUER

    # The issued certificate verifies against the test CA, for that host, served by SNI.
    ctx = ssl.create_default_context(cafile=CA_FILE)
    ip = node_ip()

    def handshake():
        try:
            with socket.create_connection((ip, 443), timeout=5) as sock:
                with ctx.wrap_socket(sock, server_hostname=host) as tls:
                    tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    return tls.recv(64).decode(errors="replace")
        except (OSError, ssl.SSLError) as err:
            return "error: " + str(err)
    wait_until(f"https://{host}/ verified against {CLUSTER_ISSUER}",
               lambda: handshake().startswith("HTTP/1.1 200"), timeout=60)
    answer = handshake()
    assert answer.startswith("HTTP/1.1 200"), answer


def test_self_signed_issuer_issues(ns):
    apply(ns, {"apiVersion": "cert-manager.io/v1", "kind": "Issuer", "metadata": {"name": "self"},
               "spec": {"selfSigned": {}}})
    apply(ns, {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "self"},
               "spec": {"secretName": "self-tls", "dnsNames": ["self.addons.test"],
                        "issuerRef": {"name": "self", "kind": "Issuer"}}})
    wait_until("Certificate self Ready", lambda: condition(kget(ns, "certificate", "self"), "Ready") == "True",
               timeout=120)
    secret = kget(ns, "secret", "self-tls")
    assert secret["type"] == "kubernetes.io/tls"
    with tempfile.NamedTemporaryFile("w", suffix=".crt") as fh:
        fh.write(base64.b64decode(secret["data"]["tls.crt"]).decode())
        fh.flush()
        text = subprocess.run(["openssl", "x509", "-in", fh.name, "-noout", "-ext", "subjectAltName"],
                              capture_output=True, text=True, check=True).stdout
    assert "DNS:self.addons.test" in text


def test_metrics_api_returns_pod_metrics(ns, web):
    pod = ready_pods(ns, web)[0]

    def usage():
        proc = kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{pod}", check=False)
        if proc.returncode != 0:
            return None
        containers = json.loads(proc.stdout).get("containers", [])
        return containers[0]["usage"] if containers else None
    got = wait_until(f"metrics of pod {pod}", usage, timeout=120, interval=3)
    assert set(got) >= {"cpu", "memory"}
    assert got["memory"] != "0"


def exec_get(ns, pod, url, timeout=3):
    """From inside pod, GET url; return the HTTP status, or the error's class name."""
    script = (
        "import urllib.request,sys\n"
        "try:\n"
        f"    print(urllib.request.urlopen({url!r}, timeout={timeout}).status)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    return kubectl("-n", ns, "exec", pod, "--", "python3", "-c", script, timeout=60).stdout.strip()


def test_network_policy_blocks_what_it_does_not_allow(ns):
    for name, labels in (("protected", None), ("open", None), ("client", {"role": "client"}),
                         ("stranger", {"role": "stranger"})):
        for manifest in app(name, labels):
            apply(ns, manifest)
    apply(ns, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "protected-allow-client"},
               "spec": {"podSelector": {"matchLabels": {"app": "protected"}}, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                                     "ports": [{"port": 8000, "protocol": "TCP"}]}]}})
    pods = {name: wait_until(f"{name} Ready", lambda n=name: ready_pods(ns, n), timeout=180)[0]
            for name in ("protected", "open", "client", "stranger")}
    protected = f"http://protected.{ns}.svc.cluster.local:8000/healthz"
    open_url = f"http://open.{ns}.svc.cluster.local:8000/healthz"
    # The policy is in force once the allowed client passes and the stranger does not.
    wait_until("client allowed", lambda: exec_get(ns, pods["client"], protected) == "200", timeout=60)
    assert exec_get(ns, pods["stranger"], open_url) == "200"
    wait_until("stranger refused", lambda: exec_get(ns, pods["stranger"], protected) != "200", timeout=60)
    # Still refused a moment later (not a transient failure), and the client still passes.
    time.sleep(2)
    assert exec_get(ns, pods["stranger"], protected) != "200"
    assert exec_get(ns, pods["client"], protected) == "200"


def test_ingress_nginx_annotations_the_collection_uses(ns, web):
    """use-regex + rewrite-target, ssl-redirect and proxy-body-size as docs/test-cluster.md says."""
    ip = node_ip()
    rewrite = ingress("rewrite", f"rw-{ns}.addons.test", web, tls_secret="rw-tls", annotations={
        "nginx.ingress.kubernetes.io/use-regex": "true",
        "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
        "cert-manager.io/cluster-issuer": CLUSTER_ISSUER})
    rewrite["spec"]["rules"][0]["http"]["paths"][0].update(path="/chat(/|$)(.*)", pathType="ImplementationSpecific")
    apply(ns, rewrite)
    for name, buffering in (("body", None), ("bodybuf", "on")):
        annotations = {"nginx.ingress.kubernetes.io/proxy-body-size": "1k"}
        if buffering:
            annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] = buffering
        apply(ns, ingress(name, f"{name}-{ns}.addons.test", web, annotations=annotations))
    # ssl-redirect: an Ingress with TLS answers plain HTTP with 308 to https.
    wait_until("308 from http to https", lambda: http_get(f"http://{ip}/chat/x", f"rw-{ns}.addons.test")[0] == 308,
               timeout=90)
    # rewrite-target /$2 of /chat(/|$)(.*): the backend sees /foo/bar for /chat/foo/bar.
    ctx = ssl.create_default_context(cafile=CA_FILE)
    host = f"rw-{ns}.addons.test"

    def backend_path():
        try:
            with socket.create_connection((ip, 443), timeout=5) as sock:
                with ctx.wrap_socket(sock, server_hostname=host) as tls:
                    tls.sendall(f"GET /chat/foo/bar HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    chunks = []
                    chunk = tls.recv(65536)
                    while chunk:
                        chunks.append(chunk)
                        chunk = tls.recv(65536)
        except (OSError, ssl.SSLError):
            return None
        head, body = (b"".join(chunks).decode(errors="replace").split("\r\n\r\n", 1) + [""])[:2]
        return json.loads(body).get("path") if head.startswith("HTTP/1.1 200") else None
    assert wait_until("rewritten path", backend_path, timeout=90) == "/foo/bar"

    # proxy-body-size is enforced (413) only with proxy-request-buffering "on".
    def post(name):
        req = urllib.request.Request(f"http://{ip}/upload", data=b"x" * 4096, method="POST",
                                     headers={"Host": f"{name}-{ns}.addons.test"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            return None
    assert wait_until("413 with buffering on", lambda: post("bodybuf") == 413, timeout=60)
    assert wait_until("200 without buffering", lambda: post("body") == 200, timeout=60)

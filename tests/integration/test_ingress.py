"""Requests through the test cluster's real ingress controller (issue 11 items 4 and 5).

A two-component system (tests/integration/ingress_env.py) is deployed with site.yml twice:
with TLS from cert-manager (ClusterIssuer genai-test-ca, the local inventories' mode) and
with TLS from a Secret the ingress role fills with a self-signed certificate (the `secret`
mode). genai.stack.ingress_check then runs against the real controller and API server:
verified TLS for every host and path, the right backend behind each, and failures that
name host and path for a controller 404, a wrong backend and a certificate for another
host. It prints the time from Ingress created to Certificate Ready.
"""
import datetime
import json
import os
import time

import pytest
from clusterlib import CA_FILE, kget, kubectl, needs_cluster, node_ip, wait_until
from ingress_env import (GenaiStackError, addons_present, delete_namespace, ingress_check, log, playbook,
                         small_system, write_inventory)

pytestmark = needs_cluster

NS = "t-ing-web"
DOMAIN = "t-ing-web.local"
NS_SECRET = "t-ing-sec"
DOMAIN_SECRET = "t-ing-sec.local"


class Module(object):
    """The module's params holder (the module itself talks to the real cluster)."""
    check_mode = False

    def __init__(self, **params):
        self.params = dict.fromkeys(ingress_check.argument_spec(), None)
        self.params.update({"label_selectors": [], "https_port": 443, "http_port": 80, "ca_from_secret": True,
                            "require_served_by": True, "timeout": 10, "wait_timeout": 0, "allow_empty": False})
        self.params.update(params)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def parse_time(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


@pytest.fixture(scope="module")
def cert_manager_system():
    reason = addons_present()
    assert reason is None, reason
    inventory = write_inventory(NS, small_system(NS, DOMAIN, {
        "mode": "cert_manager", "secret_name": "t-ing-web-tls", "issuer": "genai-test-ca", "issuer_kind": "ClusterIssuer"}))
    try:
        _rc, out, _recap = playbook(inventory, "site.yml")
        yield {"inventory": inventory, "stdout": out}
    finally:
        delete_namespace(NS)


@pytest.fixture(scope="module")
def secret_system():
    inventory = write_inventory(NS_SECRET, small_system(NS_SECRET, DOMAIN_SECRET, {
        "mode": "secret", "secret_name": "t-ing-sec-tls"}))
    try:
        _rc, out, _recap = playbook(inventory, "site.yml")
        yield {"inventory": inventory, "stdout": out}
    finally:
        delete_namespace(NS_SECRET)


def test_cert_manager_tls_verified_for_every_host_and_path(cert_manager_system):
    out = cert_manager_system["stdout"]
    # verify printed only the URLs that answered, each through the controller
    assert "https://api.{0}/ -> gateway".format(DOMAIN) in out, out[-4000:]
    assert "https://app.{0}/ -> frontend".format(DOMAIN) in out
    assert "certificate not verified" not in out

    result = ingress_check.run(Module(namespace=NS, label_selectors=["app.kubernetes.io/part-of=" + NS]))
    checks = {(c["host"], c["path"]): c for c in result["checks"]}
    assert set(checks) == {("api." + DOMAIN, "/"), ("app." + DOMAIN, "/")}
    for check in checks.values():
        assert check["ok"] and check["verified"] and check["ca"] == "secret ca.crt", check
        assert check["served_by"] == check["expected"]
    assert result["address"]["address"] == node_ip()
    assert result["urls_answering"] == ["https://api.{0}/".format(DOMAIN), "https://app.{0}/".format(DOMAIN)]

    # the CA file of the cluster verifies the same certificates
    if os.path.exists(CA_FILE):
        result = ingress_check.run(Module(namespace=NS, ca_path=CA_FILE))
        assert all(c["ok"] and c["ca"] == "ca_path" for c in result["checks"]), result["checks"]

    ingress = kget(NS, "ingress")["items"][0]
    cert = wait_until("a Ready Certificate", lambda: [
        c for c in kget(NS, "certificates.cert-manager.io")["items"]
        if any(k["type"] == "Ready" and k["status"] == "True" for k in (c.get("status") or {}).get("conditions", []))])[0]
    ready = [k for k in cert["status"]["conditions"] if k["type"] == "Ready"][0]
    issued = parse_time(ready["lastTransitionTime"]) - parse_time(ingress["metadata"]["creationTimestamp"])
    log("MEASURE certificate Ready {0:.0f}s after the Ingress was created (Certificate {1}, issuer {2})".format(
        issued.total_seconds(), cert["metadata"]["name"], cert["spec"]["issuerRef"]["name"]))
    assert cert["spec"]["issuerRef"]["name"] == "genai-test-ca"


def test_rerun_and_check_mode_change_nothing_with_the_addons(cert_manager_system):
    """Issue 11 item 9: with controller, cert-manager and metrics-server present, a second
    run and a check-mode run with --diff report no change (and verify still passes)."""
    inventory = cert_manager_system["inventory"]
    for extra in ((), ("--check", "--diff")):
        _rc, out, recap = playbook(inventory, "site.yml", *extra)
        assert recap and all(r["changed"] == 0 and r["failed"] == 0 for r in recap.values()), \
            "site.yml {0} changed something: {1}\n{2}".format(" ".join(extra), recap, out[-6000:])


def test_secret_mode_verified_against_its_self_signed_certificate(secret_system):
    result = ingress_check.run(Module(namespace=NS_SECRET))
    assert result["checks"] and all(
        c["ok"] and c["verified"] and c["ca"] == "self-signed tls.crt" for c in result["checks"]), result["checks"]
    assert "https://api.{0}/ -> gateway".format(DOMAIN_SECRET) in secret_system["stdout"]


def test_controller_404_fails_naming_host_and_path(cert_manager_system):
    """An Ingress no controller serves (unknown class): the controller answers 404."""
    name = "t-ing-unrouted"
    kubectl("-n", NS, "apply", "-f", "-", input_text="""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s, labels: {t-ing: unrouted}}
spec:
  ingressClassName: no-such-class
  rules:
    - host: ghost.%s
      http:
        paths:
          - {path: /nothing, pathType: Prefix, backend: {service: {name: gateway, port: {number: 8000}}}}
""" % (name, DOMAIN))
    try:
        with pytest.raises(GenaiStackError) as err:
            ingress_check.run(Module(namespace=NS, label_selectors=["t-ing=unrouted"], address=node_ip()))
        assert "ghost.{0} /nothing: HTTP 404 from the controller".format(DOMAIN) in err.value.msg
        assert err.value.details["urls_answering"] == []
    finally:
        kubectl("-n", NS, "delete", "ingress", name, "--ignore-not-found")


def test_certificate_for_another_host_fails_naming_host(cert_manager_system):
    """A host served with the TLS Secret of other hosts: the controller's certificate does not match."""
    name = "t-ing-wronghost"
    kubectl("-n", NS, "apply", "-f", "-", input_text="""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s, labels: {t-ing: wronghost}}
spec:
  ingressClassName: nginx
  tls:
    - {hosts: [wrong.%s], secretName: t-ing-web-tls}
  rules:
    - host: wrong.%s
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: gateway, port: {number: 8000}}}}
""" % (name, DOMAIN, DOMAIN))
    try:
        time.sleep(3)  # let the controller load the new router
        with pytest.raises(GenaiStackError) as err:
            ingress_check.run(Module(namespace=NS, label_selectors=["t-ing=wronghost"]))
        assert "wrong.{0} /: certificate not valid for wrong.{0}".format(DOMAIN) in err.value.msg, err.value.msg
    finally:
        kubectl("-n", NS, "delete", "ingress", name, "--ignore-not-found")


def test_wrong_backend_fails_naming_host_and_path(cert_manager_system):
    """The gateway Service selecting the frontend's pods: the answer comes from the wrong component."""
    service = kget(NS, "service", "gateway")
    selector = service["spec"]["selector"]
    wrong = dict(selector, **{"app.kubernetes.io/name": "frontend"})
    # both components name their port "http", so the Service's targetPort finds the frontend's
    patch = '{"spec": {"selector": %s}}'
    kubectl("-n", NS, "patch", "service", "gateway", "--type=merge", "-p", patch % json.dumps(wrong))
    try:
        def failing():
            try:
                ingress_check.run(Module(namespace=NS, label_selectors=["app.kubernetes.io/part-of=" + NS]))
            except GenaiStackError as exc:
                return exc
            return None
        err = wait_until("the controller to route to the frontend pods", failing, timeout=60, interval=2)
        assert "api.{0} /: answered by frontend, expected gateway".format(DOMAIN) in err.msg, err.msg
    finally:
        # the next converge restores the Service; here the original selector and port are put back
        kubectl("-n", NS, "patch", "service", "gateway", "--type=merge", "-p", patch % json.dumps(selector))

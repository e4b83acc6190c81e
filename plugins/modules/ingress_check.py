#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: ingress_check
short_description: Send real requests through the ingress controller to every host and path of the Ingresses
version_added: 1.0.0
author:
  - genai.stack maintainers (@genai-stack)
description:
  - Reads the Ingress objects selected by O(namespace) and O(label_selectors) and sends one HTTP request
    per host and path of their rules to the ingress controller, at O(address), the way a browser would
    reach it - HTTPS with SNI and C(Host) set to the rule's host when the host is listed under the
    Ingress's C(spec.tls), plain HTTP otherwise.
  - The certificate is verified (chain and host name) against O(ca_path) when given. Otherwise, with
    O(ca_from_secret), against the C(ca.crt) of the Ingress's TLS Secret (cert-manager's C(CA) and
    C(selfSigned) issuers put the issuing CA there) or, for a self-signed C(tls.crt), against that
    certificate itself. With no CA known the certificate is not verified and the check says
    RV(checks[].verified=false); its host name is still compared with the rule's host.
  - Each answer must come from the backend the rule names. The stand-in test images set the header
    C(X-Served-By) to their component; it must equal the C(app.kubernetes.io/name) label of the backend
    Service (the Service name when it has none). Answers without the header are accepted unless
    O(require_served_by).
  - A redirect from plain HTTP to HTTPS on the same host (the controller's C(ssl-redirect)) is followed
    once, with the certificate checks above.
  - A check fails on a 404 the controller gave (no C(X-Served-By)), any 5xx answer, a connection or TLS
    error (for example a certificate issued for another host, or the controller's default certificate),
    or a different backend. Failing checks are retried until O(wait_timeout) passes, then the module
    fails naming every failing host and path.
  - Only the status and the C(X-Served-By) header of an answer are kept, never its body. Of the TLS
    Secret only the public certificates are read; the private key never leaves the API server's answer.
  - Never changes anything; it runs the same in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespace:
    description:
      - Namespace of the Ingress objects.
    type: str
    required: true
  label_selectors:
    description:
      - Label selectors the Ingress objects must match, joined with commas, for example
        V(app.kubernetes.io/part-of=genai). Every Ingress of the namespace when empty.
    type: list
    elements: str
    default: []
  address:
    description:
      - IP address or DNS name of the ingress controller the requests are sent to.
      - When not given, the first address of the Ingress's C(status.loadBalancer.ingress), else the
        C(InternalIP) of the first Ready node (controllers listening on the node's ports 80 and 443).
    type: str
  https_port:
    description:
      - Port of the controller for HTTPS.
    type: int
    default: 443
  http_port:
    description:
      - Port of the controller for plain HTTP (hosts without TLS).
    type: int
    default: 80
  ca_path:
    description:
      - PEM file of the CA that issues the Ingress certificates (for example the CA of a cert-manager
        C(CA) ClusterIssuer). Takes precedence over O(ca_from_secret).
    type: path
  ca_from_secret:
    description:
      - When O(ca_path) is not given, verify against the C(ca.crt) of each Ingress TLS Secret, or its
        C(tls.crt) when that certificate is self-signed.
    type: bool
    default: true
  require_served_by:
    description:
      - Fail answers that carry no C(X-Served-By) header (set it for the stand-in test images, which
        always send it).
    type: bool
    default: false
  timeout:
    description:
      - Seconds for each request (connect, TLS handshake and answer).
    type: int
    default: 10
  wait_timeout:
    description:
      - Seconds during which failing checks are retried (a certificate being issued, a controller
        picking up a new Ingress). V(0) checks once.
    type: int
    default: 60
  allow_empty:
    description:
      - Succeed when no Ingress matches (otherwise that is a failure).
    type: bool
    default: false
notes:
  - Requests go from the Ansible controller to O(address); they do not pass through the API server.
"""

EXAMPLES = r"""
- name: Check every host and path of the genai Ingress through the controller on the node
  genai.stack.ingress_check:
    namespace: genai
    label_selectors: [app.kubernetes.io/part-of=genai]
    ca_path: /etc/ssl/genai/ca.crt
    require_served_by: true
  register: ingress

- name: Show the URLs that answered
  ansible.builtin.debug:
    var: ingress.urls_answering
"""

RETURN = r"""
address:
  description: Address of the controller the requests were sent to, and where it came from.
  returned: always
  type: dict
  sample: {address: 192.168.1.20, source: node InternalIP}
urls_answering:
  description: URLs (C(https://HOST/PATH)) whose check succeeded, in rule order.
  returned: always
  type: list
  elements: str
  sample: [https://api.genai.local/, https://app.genai.local/]
healthy:
  description: Whether every check succeeded.
  returned: always
  type: bool
elapsed:
  description: Seconds spent, retries included.
  returned: always
  type: float
checks:
  description: One entry per host and path of every selected Ingress.
  returned: always
  type: list
  elements: dict
  contains:
    ingress:
      description: Name of the Ingress.
      type: str
    host:
      description: Host of the rule (empty for a rule without host).
      type: str
    path:
      description: Path of the rule.
      type: str
    url:
      description: URL as a browser would use it.
      type: str
    status:
      description: HTTP status of the answer; V(0) when there was none.
      type: int
    served_by:
      description: The C(X-Served-By) header of the answer; null when absent.
      type: str
    expected:
      description: Component the rule routes to.
      type: str
    ok:
      description: Whether this check succeeded.
      type: bool
    verified:
      description: Whether the certificate was verified against a known CA (false for plain HTTP).
      type: bool
    ca:
      description: Where the CA came from - V(ca_path), V(secret ca.crt) or V(self-signed tls.crt); null when unverified.
      type: str
    error:
      description: Why the check failed; null when it succeeded.
      type: str
    redirected_from:
      description: The plain HTTP URL of the rule when the controller redirected it to HTTPS (followed once).
      type: str
      returned: when redirected
  sample:
    - {ingress: genai, host: api.genai.local, path: /, url: "https://api.genai.local/", status: 200,
       served_by: gateway, expected: gateway, ok: true, verified: true, ca: ca_path, error: null}
"""

import base64  # noqa: E402 - imports follow the documentation in Ansible modules
import http.client  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import (  # noqa: E402
    AUTH_ARG_SPEC,
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    get_api,
    quote_path,
)

SERVED_BY = "X-Served-By"
NAME_LABEL = "app.kubernetes.io/name"
# The literal start of a regular-expression path (nginx.ingress.kubernetes.io/use-regex):
# what a request can use to match it.
REGEX_CHARS = re.compile(r"[\\^$.|?*+()\[\]{}]")


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespace={"type": "str", "required": True},
        label_selectors={"type": "list", "elements": "str", "default": []},
        address={"type": "str"},
        https_port={"type": "int", "default": 443},
        http_port={"type": "int", "default": 80},
        ca_path={"type": "path"},
        ca_from_secret={"type": "bool", "default": True},
        require_served_by={"type": "bool", "default": False},
        timeout={"type": "int", "default": 10},
        wait_timeout={"type": "int", "default": 60},
        allow_empty={"type": "bool", "default": False},
    )
    return spec


# ----------------------------------------------------------------------------- targets
def request_path(path):
    """The path to request for an Ingress path: itself, or the literal start of a regex."""
    path = path or "/"
    match = REGEX_CHARS.search(path)
    if match:
        path = path[:match.start()] or "/"
    return path


def targets(ingresses, services):
    """One target per host and path of every Ingress rule.

    ingresses: Ingress objects (dicts as the API returns them); services: {name: Service}.
    Returns dicts with ingress, host, path, request_path, tls (bool), tls_secret, expected.
    """
    found = []
    for ing in ingresses:
        spec = ing.get("spec") or {}
        tls_hosts = {}
        for entry in spec.get("tls") or []:
            for host in entry.get("hosts") or []:
                tls_hosts[host] = entry.get("secretName")
        for rule in spec.get("rules") or []:
            host = rule.get("host") or ""
            for item in (rule.get("http") or {}).get("paths") or []:
                backend = (item.get("backend") or {}).get("service") or {}
                name = backend.get("name") or ""
                labels = ((services.get(name) or {}).get("metadata") or {}).get("labels") or {}
                found.append({
                    "ingress": ing["metadata"]["name"],
                    "host": host,
                    "path": item.get("path") or "/",
                    "request_path": request_path(item.get("path")),
                    "tls": host in tls_hosts,
                    "tls_secret": tls_hosts.get(host),
                    "expected": labels.get(NAME_LABEL) or name,
                })
    return found


def url_of(target):
    scheme = "https" if target["tls"] else "http"
    return "{0}://{1}{2}".format(scheme, target["host"] or "<no host>", target["request_path"])


# ----------------------------------------------------------------------------- TLS
def _decode(secret, key):
    data = (secret.get("data") or {}).get(key)
    if not data:
        return None
    try:
        return base64.b64decode(data).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None


def is_self_signed(pem):
    """Whether the first certificate of a PEM text is self-signed (issuer == subject)."""
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - cryptography comes with ansible-core
        return False
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError:
        return False
    return cert.issuer == cert.subject


def ca_of_secret(secret):
    """(PEM, source) of the CA a TLS Secret tells, or (None, None). Never reads tls.key."""
    if not secret:
        return None, None
    ca = _decode(secret, "ca.crt")
    if ca and "BEGIN CERTIFICATE" in ca:
        return ca, "secret ca.crt"
    crt = _decode(secret, "tls.crt")
    if crt and is_self_signed(crt):
        return crt, "self-signed tls.crt"
    return None, None


def tls_context(ca_pem=None, ca_file=None):
    """A client context verifying chain and host name against one CA, or verifying nothing."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_pem is None and ca_file is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    else:
        context.load_verify_locations(cadata=ca_pem)
    # a self-signed server certificate given as the trust anchor is a chain of one
    context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    return context


def names_of(der):
    """DNS names of a DER certificate (subjectAltName, else the common name)."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def host_matches(host, names):
    """RFC 6125 matching: exact, or a wildcard of the left-most label only."""
    host = host.lower().rstrip(".")
    for name in names or []:
        name = name.lower().rstrip(".")
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


# ----------------------------------------------------------------------------- requests
class _SNIConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address with SNI (and the certificate's host check) set to a host name."""

    def __init__(self, address, port, server_hostname, context, timeout):
        http.client.HTTPSConnection.__init__(self, address, port, timeout=timeout, context=context)
        self.server_hostname = server_hostname
        self.peer_der = None

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_hostname or None)
        self.peer_der = self.sock.getpeercert(binary_form=True)


def send(target, address, ports, context, timeout):
    """One GET; returns (status, served_by, peer certificate DER or None, Location). Raises on no answer."""
    host = target["host"] or address
    if target["tls"]:
        conn = _SNIConnection(address, ports["https"], target["host"], context, timeout)
    else:
        conn = http.client.HTTPConnection(address, ports["http"], timeout=timeout)
    try:
        conn.request("GET", target["request_path"], headers={
            "Host": host, "User-Agent": "genai-stack-ingress-check", "Accept": "*/*"})
        resp = conn.getresponse()
        resp.read(65536)  # drained, never kept
        return resp.status, resp.getheader(SERVED_BY), getattr(conn, "peer_der", None), resp.getheader("Location")
    finally:
        conn.close()


def https_redirect(target, status, location):
    """The path of a redirect to HTTPS on the same host (ssl-redirect), else None."""
    if status not in (301, 302, 307, 308) or not location:
        return None
    prefix = "https://{0}".format(target["host"])
    if location == prefix or location.startswith(prefix + "/") or location.startswith(prefix + ":"):
        rest = location[len(prefix):]
        return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    return None


def judge(target, status, served_by, require_served_by):
    """The error of an answer, or None when it reached the expected backend."""
    if status >= 500:
        return "HTTP {0} (no working backend behind the controller)".format(status)
    if not served_by:
        if status == 404:
            return "HTTP 404 from the controller (no route for this host and path)"
        if require_served_by:
            return "HTTP {0} without an {1} header (not answered by a backend)".format(status, SERVED_BY)
        return None
    if served_by != target["expected"]:
        return "answered by {0}, expected {1}".format(served_by, target["expected"])
    return None


def check(target, address, ports, ca, params):
    """Run one target; returns the check dict of RV(checks)."""
    pem, ca_file, source = ca
    result = {
        "ingress": target["ingress"], "host": target["host"], "path": target["path"], "url": url_of(target),
        "status": 0, "served_by": None, "expected": target["expected"], "ok": False,
        "verified": bool(target["tls"] and source), "ca": source if target["tls"] else None, "error": None,
    }
    try:
        status, served_by, der, location = send(target, address, ports, tls_context(), params["timeout"]) \
            if not target["tls"] else (0, None, None, None)
        redirect = https_redirect(target, status, location)
        if redirect:
            # the controller's ssl-redirect: follow it once, as a browser does
            target = dict(target, tls=True, request_path=redirect)
            result.update(url=url_of(target), verified=bool(source), ca=source, redirected_from=result["url"])
        if target["tls"]:
            context = tls_context(pem, ca_file) if source else tls_context()
            status, served_by, der, location = send(target, address, ports, context, params["timeout"])
    except ssl.SSLCertVerificationError as exc:
        result["error"] = "certificate not valid for {0}: {1}".format(target["host"], exc.verify_message or exc)
        return result
    except (OSError, http.client.HTTPException) as exc:
        result["error"] = "no answer from {0}: {1}".format(address, exc)
        return result
    result.update(status=status, served_by=served_by)
    if target["tls"] and not source and der and target["host"]:
        names = names_of(der)
        if names is not None and not host_matches(target["host"], names):
            result["error"] = "certificate is for {0}, not {1}".format(", ".join(names) or "no DNS name", target["host"])
            return result
    result["error"] = judge(target, status, served_by, params["require_served_by"])
    result["ok"] = result["error"] is None
    return result


# ----------------------------------------------------------------------------- cluster
def find_address(api, ingresses):
    """(address, source): the Ingress status, else the first Ready node's InternalIP."""
    for ing in ingresses:
        for entry in ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            if entry.get("ip") or entry.get("hostname"):
                return entry.get("ip") or entry.get("hostname"), "Ingress {0} status".format(ing["metadata"]["name"])
    try:
        nodes = api.list_items("/api/v1/nodes", missing_ok=False)
    except GenaiStackError as exc:
        raise GenaiStackError("No address for the ingress controller: the Ingress has no status.loadBalancer "
                              "and the nodes cannot be listed ({0}); set address".format(exc.msg)) from exc
    for node in nodes:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (node.get("status") or {}).get("conditions") or [])
        for addr in (node.get("status") or {}).get("addresses") or []:
            if ready and addr.get("type") == "InternalIP":
                return addr["address"], "node {0} InternalIP".format(node["metadata"]["name"])
    raise GenaiStackError("No address for the ingress controller: no Ingress status and no Ready node; set address")


def read_secret(api, namespace, name):
    try:
        return api.get_json("/api/v1/namespaces/{0}/secrets/{1}".format(quote_path(namespace), quote_path(name)))
    except GenaiStackError:
        return None


def run(module):
    params = module.params
    api = get_api(params)
    namespace = params["namespace"]
    selector = ",".join(s for s in params["label_selectors"] if s) or None
    start = time.time()
    ingresses = api.list_items("/apis/networking.k8s.io/v1/namespaces/{0}/ingresses".format(quote_path(namespace)),
                               selector, missing_ok=False)
    result = {"changed": False, "namespace": namespace, "checks": [], "urls_answering": [], "healthy": True,
              "address": None, "elapsed": 0.0}
    if not ingresses:
        result["healthy"] = bool(params["allow_empty"])
        result["msg"] = "no Ingress in namespace {0} matches {1}".format(namespace, selector or "(no selector)")
        if not result["healthy"] and not module.check_mode:
            raise GenaiStackError(result.pop("msg"), **result)
        return result
    services = {s["metadata"]["name"]: s for s in api.list_items(
        "/api/v1/namespaces/{0}/services".format(quote_path(namespace)))}
    todo = targets(ingresses, services)
    if params["address"]:
        address, source = params["address"], "address option"
    else:
        address, source = find_address(api, ingresses)
    result["address"] = {"address": address, "source": source}
    ports = {"https": params["https_port"], "http": params["http_port"]}
    deadline = start + max(params["wait_timeout"], 0)
    checks = {}
    while True:
        ca_cache = {}
        for index, target in enumerate(todo):
            if index in checks and checks[index]["ok"]:
                continue
            ca = (None, params["ca_path"], "ca_path") if params["ca_path"] else (None, None, None)
            if target["tls"] and not params["ca_path"] and params["ca_from_secret"] and target["tls_secret"]:
                if target["tls_secret"] not in ca_cache:
                    pem, ca_source = ca_of_secret(read_secret(api, namespace, target["tls_secret"]))
                    ca_cache[target["tls_secret"]] = (pem, None, ca_source)
                ca = ca_cache[target["tls_secret"]]
            checks[index] = check(target, address, ports, ca, params)
        failing = [c for c in checks.values() if not c["ok"]]
        if not failing or time.time() >= deadline:
            break
        time.sleep(min(3, max(deadline - time.time(), 0)))
    ordered = [checks[i] for i in range(len(todo))]
    result.update(checks=ordered, healthy=not failing, elapsed=round(time.time() - start, 1))
    seen = []
    for c in ordered:
        if c["ok"] and c["url"] not in seen:
            seen.append(c["url"])
    result["urls_answering"] = seen
    unverified = sorted({c["host"] for c in ordered if c["url"].startswith("https") and not c["verified"]})
    if unverified:
        module.warn("TLS of {0} was not verified: no CA known (give ca_path)".format(", ".join(unverified)))
    if failing:
        raise GenaiStackError("Ingress check through {0} ({1}) failed: {2}".format(
            address, source, "; ".join("{0} {1}: {2}".format(c["host"] or "*", c["path"], c["error"]) for c in failing)),
            **result)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        result = run(module)
    except GenaiStackError as exc:
        details = {"healthy": False, "checks": [], "urls_answering": []}
        details.update(exc.details)
        details.pop("api_status", None)
        details.pop("msg", None)
        module.fail_json(msg=exc.msg, **details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

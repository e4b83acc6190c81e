# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection to the Kubernetes API for genai.stack modules.

The options, their aliases and their K8S_AUTH_* environment variables are those of
kubernetes.core (plugins/module_utils/args_common.py AUTH_ARG_SPEC and k8s/client.py), so
``module_defaults`` for ``group/kubernetes.core.k8s`` and AWX's Kubernetes credential work
unchanged. The documentation of these options is kubernetes.core's ``kubernetes.core.k8s_auth_options``
doc fragment.

Requests go to API paths and are answered as JSON dicts (the same shape as
``kubectl get -o json``), through the kubernetes client's REST client, so TLS, proxy,
impersonation and token refresh are the client's own; no API discovery is needed.
``K8sApi.request`` GETs (the health module); ``K8sApi.call`` sends any method with a JSON
body (server-side apply is a PATCH with content type ``application/apply-patch+yaml``, of
which JSON is a valid form) and returns the decoded answer and the API server's warnings.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.module_utils.six.moves.urllib.parse import quote, urlencode

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

try:
    import kubernetes
    from kubernetes.client.exceptions import ApiException

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised by ansible-test's import test
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

# The connection options are kubernetes.core's own (plugins/module_utils/args_common.py):
# same names, types, aliases and no_log, documented by its kubernetes.core.k8s_auth_options
# doc fragment. AUTH_ARG_MAP maps a kubernetes client Configuration attribute to the module
# option; each option is also read from K8S_AUTH_<OPTION> or K8S_AUTH_<ATTRIBUTE>, e.g.
# K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT, K8S_AUTH_CERT_FILE, K8S_AUTH_KEY_FILE.
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import (  # noqa: E402
    AUTH_ARG_MAP,
    AUTH_ARG_SPEC,
    AUTH_PROXY_HEADERS_SPEC,
)

FALSE_STRINGS = ("0", "false", "no", "off")


def _env(*names):
    for name in names:
        value = os.environ.get("K8S_AUTH_{0}".format(name.upper()))
        if value is not None:
            return value
    return None


def resolve_auth(params):
    """Connection settings keyed by client attribute: module option, else K8S_AUTH_* env."""
    auth = {}
    for attribute, option in AUTH_ARG_MAP.items():
        value = params.get(option)
        if value is None and option == "proxy_headers":
            headers = {}
            for key, _spec in AUTH_PROXY_HEADERS_SPEC.items():
                env_value = _env("proxy_headers_" + key)
                if env_value is not None:
                    headers[key] = env_value
            value = headers or None
        elif value is None:
            value = _env(option, attribute)
            if value is not None and AUTH_ARG_SPEC[option].get("type") == "bool":
                value = value.lower() not in FALSE_STRINGS
        if value is not None:
            auth[attribute] = value
    return auth


def resolve_impersonation(params):
    """HTTP headers for impersonate_user / impersonate_groups (or their env vars)."""
    headers = {}
    user = params.get("impersonate_user")
    if user is None:
        user = _env("impersonate_user")
    if user:
        headers["Impersonate-User"] = user
    groups = params.get("impersonate_groups")
    if groups is None:
        env_groups = _env("impersonate_groups")
        groups = [g for g in env_groups.split(",") if g] if env_groups else []
    if groups:
        headers["Impersonate-Group"] = list(groups)
    return headers


def _load_kubeconfig(auth, configuration):
    kubeconfig = auth.get("kubeconfig")
    kwargs = {"context": auth.get("context"), "client_configuration": configuration}
    if auth.get("persist_config") is not None:
        kwargs["persist_config"] = auth["persist_config"]
    if isinstance(kubeconfig, dict):
        kubernetes.config.load_kube_config_from_dict(config_dict=kubeconfig, **kwargs)
    else:
        # None -> $KUBECONFIG or ~/.kube/config; a str may list several files (':' separated)
        kubernetes.config.load_kube_config(config_file=kubeconfig or None, **kwargs)


def build_configuration(auth):
    """A kubernetes.client.Configuration as kubernetes.core builds it.

    Explicit host + credentials need no kubeconfig; a kubeconfig or context is loaded when
    given; otherwise in-cluster config is tried first, then the default kubeconfig. Options
    given to the module override what the kubeconfig says.
    """
    if auth.get("host"):
        auth["host"] = auth["host"].rstrip("/")

    def given(*names):
        return all(auth.get(name) for name in names)

    configuration = kubernetes.client.Configuration()
    try:
        if given("host", "api_key") or given("host", "username", "password") or given("host", "cert_file", "key_file"):
            pass
        elif given("kubeconfig") or given("context"):
            _load_kubeconfig(auth, configuration)
        else:
            try:
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            except kubernetes.config.ConfigException:
                _load_kubeconfig(auth, configuration)
    except (kubernetes.config.ConfigException, IOError, OSError, ValueError, TypeError) as exc:
        raise GenaiStackError("Could not load the Kubernetes configuration: {0}".format(exc)) from exc

    for attribute, value in auth.items():
        if attribute in ("kubeconfig", "context", "persist_config"):
            continue
        if attribute == "api_key":
            configuration.api_key = {"authorization": "Bearer {0}".format(value)}
        elif attribute == "proxy_headers":
            import urllib3

            configuration.proxy_headers = urllib3.util.make_headers(**value)
        else:
            setattr(configuration, attribute, value)
    return configuration


class K8sApi(object):
    """GETs of Kubernetes API paths returning decoded JSON."""

    def __init__(self, api_client, request_timeout=30):
        self.api_client = api_client
        self.configuration = api_client.configuration
        self.request_timeout = request_timeout

    def _headers(self):
        headers = {"Accept": "application/json"}
        for name, value in self.api_client.default_headers.items():
            headers[name] = ", ".join(value) if isinstance(value, list) else value
        auth = self.configuration.auth_settings() or {}
        bearer = auth.get("BearerToken")
        if bearer and bearer.get("value"):
            headers["Authorization"] = bearer["value"]
        elif self.configuration.username and self.configuration.password:
            import urllib3

            headers.update(urllib3.util.make_headers(
                basic_auth="{0}:{1}".format(self.configuration.username, self.configuration.password)))
        return headers

    def _send(self, method, path, query=None, body=None, content_type=None, timeout=None):
        """Send one request; returns (status, body bytes, headers). Status 0 means no HTTP answer."""
        url = self.configuration.host + path
        if query:
            url += "?" + urlencode(query, doseq=True)
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            if "json" not in headers["Content-Type"] and not isinstance(body, (str, bytes)):
                # YAML content (server-side apply): JSON is valid YAML, sent as it is
                body = json.dumps(body)
            # JSON content types: the REST client serialises dicts and lists itself (and keeps
            # the json-patch content type only for a list)
        try:
            response = self.api_client.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=timeout or self.request_timeout)
        except Exception as exc:  # pylint: disable=broad-except
            if HAS_KUBERNETES and isinstance(exc, ApiException) and exc.status:
                # older clients raise for any non-2xx answer
                body = exc.body if isinstance(exc.body, bytes) else (exc.body or "").encode("utf-8")
                return exc.status, body, dict(exc.headers or {})
            # connection errors, timeouts, TLS failures (status 0)
            return 0, str(getattr(exc, "reason", None) or exc).encode("utf-8"), {}
        data = getattr(response, "data", None)
        if data is None and hasattr(response, "read"):
            data = response.read()
        response_headers = getattr(response, "headers", None) or {}
        return response.status, data or b"", response_headers

    def request(self, path, query=None, timeout=None):
        """GET ``path``; returns (status, body bytes). Status 0 means no HTTP answer."""
        status, body, _headers = self._send("GET", path, query, timeout=timeout)
        return status, body

    def call(self, method, path, query=None, body=None, content_type=None, timeout=None):
        """Send ``method`` to ``path`` with an optional JSON ``body``.

        Returns (status, decoded JSON answer or None, warnings): ``warnings`` are the texts of
        the API server's ``Warning`` headers (deprecations, PodSecurity "would violate"...).
        Status 0 means no HTTP answer (the answer is then {"message": reason}).
        """
        status, data, headers = self._send(method, path, query, body, content_type, timeout)
        warnings = []
        raw = headers.get("Warning") if hasattr(headers, "get") else None
        if raw:
            for part in raw.split(", 299 "):
                text = part[4:] if part.startswith("299 ") else part
                text = text.strip().lstrip("-").strip().strip('"')
                if text:
                    warnings.append(text)
        if status == 0:
            return 0, {"message": data.decode("utf-8", "replace")}, warnings
        try:
            decoded = json.loads(data.decode("utf-8")) if data else None
        except (ValueError, UnicodeDecodeError):
            decoded = {"message": data.decode("utf-8", "replace")[:500]}
        return status, decoded, warnings

    def get_json(self, path, query=None):
        status, body = self.request(path, query)
        if not 200 <= status <= 299:
            raise GenaiStackError("GET {0} failed: {1}".format(path, status_message(status, body)),
                                  api_status=status)
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise GenaiStackError("GET {0} returned invalid JSON: {1}".format(path, exc)) from exc

    def list_items(self, path, label_selector=None, missing_ok=True):
        """Items of a list request; an API the server does not serve (404) gives []."""
        query = {"labelSelector": label_selector} if label_selector else None
        try:
            result = self.get_json(path, query)
        except GenaiStackError as exc:
            if missing_ok and exc.details.get("api_status") == 404:
                return []
            raise
        return result.get("items") or []


def status_message(status, body):
    """A short description of an unsuccessful answer (the API's Status message when JSON)."""
    if status == 0:
        return "no answer ({0})".format(body.decode("utf-8", "replace")[:200])
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, AttributeError):
        decoded = None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status" and decoded.get("message"):
        return "HTTP {0}: {1}".format(status, decoded["message"])
    return "HTTP {0}".format(status)


def quote_path(segment):
    return quote(str(segment), safe=":")


def get_api(params):
    """A K8sApi for the connection options of a module (``module.params``)."""
    if not HAS_KUBERNETES:
        raise GenaiStackError("The kubernetes Python library is required: {0}".format(KUBERNETES_IMPORT_ERROR))
    auth = resolve_auth(params)
    configuration = build_configuration(auth)
    api_client = kubernetes.client.ApiClient(configuration)
    for header, value in resolve_impersonation(params).items():
        api_client.set_default_header(header, value)
    return K8sApi(api_client)

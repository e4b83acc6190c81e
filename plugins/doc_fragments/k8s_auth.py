# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# The connection options of genai.stack modules. Same names, aliases and K8S_AUTH_*
# environment variables as kubernetes.core's k8s_auth_options, so module_defaults and AWX's
# Kubernetes credential work for both collections; the spec is
# plugins/module_utils/k8s_client.py AUTH_ARG_SPEC.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  host:
    description:
      - URL of the Kubernetes API server. Can also be given with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token to authenticate with the API. Can also be given with E(K8S_AUTH_API_KEY).
    type: str
  kubeconfig:
    description:
      - Path to a Kubernetes config file, or a kubeconfig as a dictionary. Can also be given with E(K8S_AUTH_KUBECONFIG).
      - Several files can be given separated by V(:) (V(;) on Windows).
      - When no connection option is given, the in-cluster configuration is tried, then E(KUBECONFIG) or C(~/.kube/config).
    type: raw
  context:
    description:
      - Name of a context of the kubeconfig. Can also be given with E(K8S_AUTH_CONTEXT).
    type: str
  username:
    description:
      - User name for HTTP basic authentication (clusters configured for it only). Can also be given with E(K8S_AUTH_USERNAME).
    type: str
  password:
    description:
      - Password for HTTP basic authentication. Can also be given with E(K8S_AUTH_PASSWORD).
    type: str
  client_cert:
    description:
      - Path to a client certificate to authenticate with the API. Can also be given with E(K8S_AUTH_CERT_FILE).
    type: path
    aliases: [cert_file]
  client_key:
    description:
      - Path to the key of O(client_cert). Can also be given with E(K8S_AUTH_KEY_FILE).
    type: path
    aliases: [key_file]
  ca_cert:
    description:
      - Path to the CA certificate (full chain) of the API server. Can also be given with E(K8S_AUTH_SSL_CA_CERT).
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate. Can also be given with E(K8S_AUTH_VERIFY_SSL).
    type: bool
    aliases: [verify_ssl]
  proxy:
    description:
      - URL of an HTTP proxy for the connection. Can also be given with E(K8S_AUTH_PROXY).
      - E(HTTP_PROXY) and similar variables are not read.
    type: str
  no_proxy:
    description:
      - Comma-separated hosts, domains, IPs or CIDRs reached without the proxy. Can also be given with E(K8S_AUTH_NO_PROXY).
    type: str
  proxy_headers:
    description:
      - Headers sent to the HTTP proxy.
    type: dict
    suboptions:
      proxy_basic_auth:
        description:
          - V(user:password) for proxy basic authentication. Can also be given with E(K8S_AUTH_PROXY_HEADERS_PROXY_BASIC_AUTH).
        type: str
      basic_auth:
        description:
          - V(user:password) for a basic authentication header. Can also be given with E(K8S_AUTH_PROXY_HEADERS_BASIC_AUTH).
        type: str
      user_agent:
        description:
          - User agent string. Can also be given with E(K8S_AUTH_PROXY_HEADERS_USER_AGENT).
        type: str
  persist_config:
    description:
      - Whether to save refreshed tokens back into the kubeconfig. Can also be given with E(K8S_AUTH_PERSIST_CONFIG).
    type: bool
  impersonate_user:
    description:
      - User name to impersonate. Can also be given with E(K8S_AUTH_IMPERSONATE_USER).
    type: str
  impersonate_groups:
    description:
      - Groups to impersonate. Can also be given with E(K8S_AUTH_IMPERSONATE_GROUPS) (comma-separated).
    type: list
    elements: str
notes:
  - The connection options, their aliases and their E(K8S_AUTH_*) environment variables are those of
    the kubernetes.core modules, so one C(module_defaults) entry can serve both collections.
  - Options given to the module override the kubeconfig.
"""

"""Malformed inventories stop at validate, naming the inventory variable, with nothing applied.

Each case (issue 9, cases B, C, D, E, H and the names, probes and cron rules) is one
group_vars file layered on ``inventories/local`` in its own namespace ``t-schema-<case>``:
``ansible-playbook site.yml`` must fail, its output must name the variable and say what is
wrong, and the namespace must not exist afterwards (nothing was applied).

Needs the cluster named by KUBECONFIG (tests/cluster/cluster up).
"""
import os
import subprocess
import textwrap

import pytest
from clusterlib import ANSIBLE_PLAYBOOK, KUBECTL, NAMESPACE_PREFIX, REPO, namespace_exists, needs_cluster

pytestmark = needs_cluster

# case id -> (group_vars written as YAML text, so YAML types the values as a user's file would;
#             strings the failure output must contain)
CASES = {
    "b-requests-above-limits": ("""
        genai_component_overrides:
          redis:
            resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: 200m, memory: 128Mi}}
        """, ["genai_components.redis.resources: requests.cpu 500m exceeds limits.cpu 200m",
              "genai_components.redis.resources: requests.memory 256Mi exceeds limits.memory 128Mi"]),
    "c-host-with-scheme": ("""
        genai_ingress_overrides:
          hosts:
            - {host: "http://api.genai.local", component: gateway}
        """, ["genai_ingress.hosts[0].host: must be a DNS name", "without scheme, port or path"]),
    "d-one-path-two-backends": ("""
        genai_ingress_overrides:
          mode: single_domain
          domain: genai.local
          paths:
            - {path: /api, component: gateway}
            - {path: /api, component: frontend}
        """, ["genai_ingress.paths[1]: genai.local /api (Prefix) already routes to gateway"]),
    "e-image-with-a-space": ("""
        genai_image_overrides:
          redis: {repository: "localhost/genai-stack-test/my redis", tag: "1.0.0"}
        """, ["genai_image_overrides.redis.repository: not an image repository by the OCI distribution grammar"]),
    "h-yaml-typed-env": ("""
        genai_component_overrides:
          gateway:
            env:
              FEATURE_SEARCH: yes
              TLS_VERIFY: off
              CUSTOMER_PREFIX: 0123
              MODEL_VERSION: 1.10
              FALLBACK_MODEL: ~
        """, ["genai_components.gateway.env.FEATURE_SEARCH: YAML read an unquoted",
              "FEATURE_SEARCH: 'yes'",
              "genai_components.gateway.env.CUSTOMER_PREFIX: YAML read an unquoted number as the integer 83",
              "genai_components.gateway.env.MODEL_VERSION",
              "genai_components.gateway.env.FALLBACK_MODEL",
              "genai_components.gateway.env.TLS_VERIFY"]),
    "probe-port-and-cron": ("""
        genai_component_overrides:
          redis:
            probes:
              readiness: {tcp_socket: {port: resp}}
          cleanup:
            tier: worker
            workload: CronJob
            image: {repository: localhost/genai-stack-test/app, tag: "1.0.0"}
            schedule: "0 25 * * *"
            time_zone: Mars/Olympus_Mons
        """, ["genai_components.redis.probes.readiness.tcp_socket.port: 'resp' names no port",
              "genai_components.cleanup.schedule: hour field '25': 25 is outside 0-23",
              "genai_components.cleanup.time_zone: 'Mars/Olympus_Mons' is not in the IANA time zone database"]),
    "statefulset-name-too-long": ("""
        genai_component_overrides:
          a-statefulset-whose-name-is-longer-than-fifty-two-chars:
            tier: datastores
            workload: StatefulSet
            image: {repository: localhost/genai-stack-test/redis, tag: "1.0.0"}
            ports: [6379]
        """, ["genai_components.a-statefulset-whose-name-is-longer-than-fifty-two-chars: a StatefulSet name "
              "must be at most 52 characters"]),
    # variants of the same kinds (tests/unit/plugins/module_utils/test_schema_variants.py has more)
    "b-quantity-suffix-and-monitoring": ("""
        genai_component_overrides:
          redis:
            resources: {requests: {memory: 64mi}}
        monitoring_grafana_resources: {requests: {cpu: "1"}, limits: {cpu: 500m}}
        """, ["genai_components.redis.resources.requests.memory: expected a Kubernetes quantity",
              "monitoring_grafana_resources: requests.cpu 1 exceeds limits.cpu 500m"]),
    "c-host-ip-and-trailing-slash": ("""
        genai_ingress_overrides:
          mode: single_domain
          domain: 10.0.0.1
          paths:
            - {path: /api, component: gateway}
            - {path: /api/, component: frontend}
        """, ["genai_ingress.domain: must be a DNS name",
              "genai_ingress.paths[1]: 10.0.0.1 /api/ (Prefix) is the same route as /api"]),
    "e-digest-length": ("""
        genai_image_overrides:
          redis: {repository: localhost/genai-stack-test/redis, digest: "sha256:0123456789abcdef"}
        """, ["genai_image_overrides.redis.digest: expected sha256: and 64 lowercase hex digits"]),
    "h-yaml-date-and-name": ("""
        genai_component_overrides:
          gateway:
            env:
              RELEASE_DATE: 2024-01-01
              NO: x
        """, ["genai_components.gateway.env.RELEASE_DATE: YAML read an unquoted date or timestamp as the date 2024-01-01",
              "genai_components.gateway.env.False: YAML read an unquoted name"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_inventory_stops_at_validate(case, tmp_path):
    group_vars, expected = CASES[case]
    namespace = (NAMESPACE_PREFIX + "schema-" + case)[:63]
    overlay = tmp_path / "overlay"
    (overlay / "group_vars" / "genai_stack").mkdir(parents=True)
    (overlay / "hosts.yml").write_text("genai_stack: {}\n")
    (overlay / "group_vars" / "genai_stack" / "malformed.yml").write_text(
        f"genai_namespace: {namespace}\n" + textwrap.dedent(group_vars))
    try:
        proc = subprocess.run(
            [ANSIBLE_PLAYBOOK, "site.yml", "-i", os.path.join("inventories", "local"), "-i", str(overlay)],
            cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
        # every run of whitespace one space: the YAML callback wraps long messages where their
        # length (the namespace's, for one) puts a line end
        output = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0, f"{case}: site.yml succeeded:\n{output[-4000:]}"
        for text in expected:
            assert text in output, f"{case}: {text!r} not in the output:\n{output[-6000:]}"
        assert not namespace_exists(namespace), f"{case}: namespace {namespace} was created"
    finally:
        subprocess.run([KUBECTL, "delete", "namespace", namespace, "--ignore-not-found", "--wait=false"],
                       capture_output=True, text=True, timeout=120, check=False)

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: health
short_description: Wait for and verify the health of a deployed stack on Kubernetes
version_added: 1.0.0
author:
  - genai.stack contributors
description:
  - Watches every object selected by O(namespace) and O(label_selectors) in one wait loop, listing
    each kind once per poll, and reports per component (grouped by the C(app.kubernetes.io/name) label).
  - Deployments and StatefulSets must be rolled out (observed generation, updated, ready and available
    replicas), Jobs complete, PersistentVolumeClaims bound, Services backed by ready endpoints,
    Ingress backends existing with endpoints, and HorizontalPodAutoscalers pointing at an existing target.
  - Services annotated C(genai.stack/health-path) (and C(genai.stack/health-port)) are checked over
    HTTP through the API server's service proxy, so the check works from outside the cluster; a 2xx
    answer is healthy.
  - Failures that waiting will not fix (image pull errors after a grace period, CrashLoopBackOff
    after repeated restarts, ProgressDeadlineExceeded, CreateContainerConfigError, a failed Job) end
    the wait at once and are reported with RV(terminal=true).
  - The module fails when the selection is not healthy at the end of its wait, listing every failing
    component with its reason. It never changes anything.
  - Takes the same connection options and K8S_AUTH_* environment variables as kubernetes.core.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespace:
    description: Namespace to verify.
    type: str
    required: true
  label_selectors:
    description: Label selectors joined with commas, for example one tier's C(app.kubernetes.io/component=backend).
    type: list
    elements: str
    default: []
  components:
    description: Only report these components (values of C(app.kubernetes.io/name)); all when empty.
    type: list
    elements: str
    default: []
  http:
    description: Check the HTTP health paths of annotated Services through the API server's service proxy.
    type: bool
    default: true
  wait:
    description: Wait until everything selected is healthy, a terminal failure shows, or O(wait_timeout) passes.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between two polls.
    type: int
    default: 2
  pull_grace:
    description: Seconds a pod may report an image or container configuration error before it counts as terminal.
    type: int
    default: 60
  allow_empty:
    description: Whether a selection that matches no component counts as healthy.
    type: bool
    default: false
requirements:
  - kubernetes >= 24.2.0
notes:
  - In check mode the module reports the current state once, without waiting, and never fails on an
    unhealthy selection (the stack may not exist yet).
  - Used by the tier roles with O(wait_timeout) as a slice inside an C(until) loop, so that a person
    sees each attempt while a long tier comes up.
"""

EXAMPLES = r"""
- name: Wait for the backend tier of namespace genai
  genai.stack.health:
    namespace: genai
    label_selectors:
      - app.kubernetes.io/component=backend
    wait_timeout: 600

- name: Report the whole stack without waiting
  genai.stack.health:
    namespace: genai
    wait: false
  register: report

- name: Wait in 30 second slices so progress shows
  genai.stack.health:
    namespace: genai
    label_selectors: ["app.kubernetes.io/part-of=genai"]
    wait_timeout: 30
  register: health
  until: health is succeeded or health.terminal
  retries: 20
  delay: 0
"""

RETURN = r"""
healthy:
  description: Whether every selected component is ready.
  returned: always
  type: bool
terminal:
  description: Whether a failure was seen that waiting will not fix.
  returned: always
  type: bool
summary:
  description: One line for people, for example C(7/8 components ready; waiting on chat-service ...).
  returned: always
  type: str
failing:
  description: "C(name: reason) of every component that is not ready."
  returned: always
  type: list
  elements: str
warnings_seen:
  description: Conditions worth knowing that do not make a component unready (HPA without metrics, suspended CronJob).
  returned: always
  type: list
  elements: str
elapsed:
  description: Seconds spent.
  returned: always
  type: float
components:
  description: One entry per component, dependencies first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The component (C(app.kubernetes.io/name)).
      type: str
    tier:
      description: The C(app.kubernetes.io/component) label.
      type: str
    kinds:
      description: Kinds of the objects seen for it.
      type: list
      elements: str
    ready:
      description: Whether it is ready.
      type: bool
    terminal:
      description: Whether its failure is terminal.
      type: bool
    reason:
      description: The main reason it is not ready (C(ImagePullBackOff), C(CrashLoopBackOff), C(ReadinessProbeFailing), C(PVCPending), C(NoEndpoints) ...).
      type: str
    message:
      description: Every reason with details.
      type: str
    needs:
      description: Components it depends on (annotation C(genai.stack/needs)).
      type: list
      elements: str
    http:
      description: Result of its HTTP health check through the service proxy (path, port, status, error), or null.
      type: dict
"""

import time
import traceback

from ansible.module_utils.basic import missing_required_lib

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    HAS_K8S_CORE = True
    K8S_CORE_ERROR = None
except ImportError:
    HAS_K8S_CORE = False
    K8S_CORE_ERROR = traceback.format_exc()
    AUTH_ARG_SPEC = {}

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    HAS_KUBERNETES = True
    KUBERNETES_ERROR = None
except ImportError:
    HAS_KUBERNETES = False
    KUBERNETES_ERROR = traceback.format_exc()

from ansible_collections.genai.stack.plugins.module_utils import health_checks
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import (
    LISTED_KINDS, list_objects, proxy_get, raw_client,
)


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespace=dict(type="str", required=True),
        label_selectors=dict(type="list", elements="str", default=[]),
        components=dict(type="list", elements="str", default=[]),
        http=dict(type="bool", default=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="int", default=2),
        pull_grace=dict(type="int", default=60),
        allow_empty=dict(type="bool", default=False),
    )
    return spec


def _started(pod):
    """Pod start time as epoch seconds (the rules compare it with time.time())."""
    started = (pod.get("status") or {}).get("startTime")
    if isinstance(started, str):
        try:
            pod["status"]["startTime"] = time.mktime(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        except ValueError:
            pass


def http_checks(api, namespace, services):
    results = {}
    for svc in services:
        annotations = (svc.get("metadata") or {}).get("annotations") or {}
        path = annotations.get(health_checks.HEALTH_PATH_ANNOTATION)
        if not path:
            continue
        ports = (svc.get("spec") or {}).get("ports") or []
        port = annotations.get(health_checks.HEALTH_PORT_ANNOTATION) or (
            ports[0].get("name") or ports[0].get("port") if ports else "")
        results[svc["metadata"]["name"]] = proxy_get(api, namespace, svc["metadata"]["name"], port, path)
    return results


def poll(api, params):
    selector = ",".join(params["label_selectors"])
    objects = list_objects(api, params["namespace"], selector)
    # EndpointSlices are listed unfiltered (they carry no component labels); Ingresses and HPAs
    # may point at Services and workloads of other tiers, outside the selection.
    if selector:
        everything = list_objects(api, params["namespace"], "", kinds=[
            k for k in LISTED_KINDS if k[0] in ("Service", "Deployment", "StatefulSet")])
        objects["_known_services"] = [s["metadata"]["name"] for s in everything["Service"]]
        objects["_known_workloads"] = [(o["kind"], o["metadata"]["name"])
                                       for kind in ("Deployment", "StatefulSet") for o in everything[kind]]
        ready = health_checks.evaluate({"Service": everything["Service"],
                                        "EndpointSlice": objects["EndpointSlice"]}, {}, time.time())
        objects["_ready_services"] = [c["name"] for c in ready if c["ready"]]
    for pod in objects.get("Pod", []):
        _started(pod)
    http = http_checks(api, params["namespace"], objects.get("Service", [])) if params["http"] else {}
    report = health_checks.evaluate(objects, http, time.time(), params["pull_grace"])
    if params["components"]:
        report = [c for c in report if c["name"] in params["components"]]
    return report


def run(module):
    params = module.params
    api = raw_client(module)
    start = time.time()
    wait = params["wait"] and not module.check_mode
    deadline = start + max(params["wait_timeout"], 0)
    while True:
        report = poll(api, params)
        healthy = all(c["ready"] for c in report) and (bool(report) or params["allow_empty"])
        terminal = any(c["terminal"] for c in report)
        if healthy or terminal or not wait or time.time() + params["wait_sleep"] > deadline:
            break
        time.sleep(max(params["wait_sleep"], 1))
    summary, failing = health_checks.summarise(report)
    if not report and not params["allow_empty"]:
        failing = ["no component matched namespace %s and selectors %s" % (
            params["namespace"], params["label_selectors"] or "(none)")]
    warnings = [w for c in report for w in c["warnings"]]
    for c in report:
        c.pop("warnings", None)
    result = dict(changed=False, healthy=healthy, terminal=terminal, summary=summary, failing=failing,
                  warnings_seen=warnings, components=report, elapsed=round(time.time() - start, 1))
    if healthy or module.check_mode:
        module.exit_json(**result)
    verb = "failed" if terminal else "not ready after %ss" % params["wait_timeout"]
    module.fail_json(msg="%s %s: %s" % (params["namespace"], verb, "; ".join(failing)), **result)


def main():
    if not HAS_K8S_CORE:
        from ansible.module_utils.basic import AnsibleModule

        AnsibleModule(argument_spec={}).fail_json(
            msg=missing_required_lib("the kubernetes.core collection"), exception=K8S_CORE_ERROR)
    module = AnsibleK8SModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_ERROR)
    try:
        run(module)
    except GenaiStackError as err:
        module.fail_json(msg=str(err), healthy=False, terminal=False, components=[], failing=[str(err)])


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: health
short_description: Wait for and verify the health of workloads on Kubernetes
version_added: 1.0.0
author:
  - genai.stack maintainers (@genai-stack)
description:
  - Watches every object selected by O(namespace) and O(label_selectors) in one wait loop and reports
    per component, the objects grouped by their C(app.kubernetes.io/name) label. Each poll lists each
    kind once with the label selector; there is no request per object.
  - Deployments, StatefulSets and DaemonSets must be rolled out (observed generation, updated, ready and
    available replicas). Jobs must be complete. CronJobs must exist; a suspended CronJob or a failed last
    run is a warning.
  - Pods explain why a workload is not ready, for example V(ImagePullBackOff), V(ErrImageNeverPull),
    V(CrashLoopBackOff), V(CreateContainerConfigError), V(Unschedulable) or V(readiness probe failing),
    with the message of the latest probe or scheduling event.
  - PersistentVolumeClaims must be Bound (a Pending claim is reported with its latest provisioning event).
    Services with a selector must have ready endpoints (EndpointSlices). Every backend of an Ingress must
    be an existing Service port with ready endpoints. HorizontalPodAutoscalers must point at an existing
    target; an inactive metric (no metrics-server) is only a warning.
  - Services annotated C(genai.stack/health-path) (port named by C(genai.stack/health-port), else the
    first port) are asked over HTTP through the API server's service proxy,
    C(/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH), once the rest of their component is ready,
    so the check works from outside the cluster; a 2xx answer is healthy.
  - Failures that waiting will not fix end the wait at once with RV(terminal=true) - image pull and
    container configuration errors lasting longer than O(pull_grace_period), V(InvalidImageName),
    V(CrashLoopBackOff) with at least O(crash_loop_restarts) restarts, V(ProgressDeadlineExceeded), a
    failed Job, a Lost claim.
  - The module fails when the selection is not healthy at the end of its wait, with a message naming
    every failing component and its reason. It never changes anything.
  - No value of a Secret, a ConfigMap or a container's environment is read into the result.
extends_documentation_fragment:
  - genai.stack.k8s_auth
options:
  namespace:
    description:
      - Namespace of the objects to verify.
    type: str
    required: true
  label_selectors:
    description:
      - Label selectors the objects must match, joined with commas, for example
        V(app.kubernetes.io/component=backend) and V(app.kubernetes.io/part-of=genai).
      - Every object of the namespace when empty.
    type: list
    elements: str
    default: []
  components:
    description:
      - Only report these components (values of the C(app.kubernetes.io/name) label). A component
        named here that has no selected object is failing with reason V(not found).
      - Every selected component when empty.
    type: list
    elements: str
    default: []
  http:
    description:
      - Check the HTTP health path of Services annotated C(genai.stack/health-path) through the API
        server's service proxy.
    type: bool
    default: true
  wait:
    description:
      - Poll until everything is healthy, a terminal failure shows or O(wait_timeout) passes.
      - When V(false), report the current state after one poll (and fail when it is not healthy).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait. Can be a short slice of a longer wait driven by C(until)/C(retries), so that
        progress shows between attempts (see the examples).
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two polls.
    type: int
    default: 2
  pull_grace_period:
    description:
      - Seconds after a pod's creation during which image pull errors (V(ImagePullBackOff),
        V(ErrImagePull), V(ErrImageNeverPull)) and container configuration errors
        (V(CreateContainerConfigError), V(CreateContainerError), V(RunContainerError)) are still
        waited for; after it they are terminal.
    type: int
    default: 60
  crash_loop_restarts:
    description:
      - A container in V(CrashLoopBackOff) with at least this many restarts is a terminal failure.
        A ready container with that many restarts is reported as a warning.
    type: int
    default: 3
  allow_empty:
    description:
      - Whether a selection that matches no object is healthy. By default it is not (a wrong selector
        or namespace should not pass silently).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the module polls once, never waits and never fails on an unhealthy report
      (the objects of a check-mode run were not applied); it fails only when the API cannot be read.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
requirements:
  - kubernetes (the Python client) >= 24.2.0
notes:
  - Grace periods are measured from the pods' creation timestamps, so they hold across the attempts
    of an C(until) loop; the clocks of the controller and the cluster are assumed to agree.
  - Objects without an C(app.kubernetes.io/name) label form a component named after themselves.
  - Ingress backends and HPA targets outside the selection are looked up with one extra list of
    their kind.
seealso:
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Wait for the backend tier of the genai system
  genai.stack.health:
    namespace: genai
    label_selectors:
      - app.kubernetes.io/component=backend
      - app.kubernetes.io/part-of=genai
    wait_timeout: 600

- name: Wait in 30 second slices so that each attempt shows, stopping at a terminal failure
  genai.stack.health:
    namespace: genai
    label_selectors: ["app.kubernetes.io/part-of=genai"]
    wait_timeout: 30
  register: health
  until: health is succeeded or (health.terminal | default(false))
  retries: 20
  delay: 0

- name: Report chat-service and its dependencies without waiting, never failing
  genai.stack.health:
    kubeconfig: ~/.kube/config
    context: staging
    namespace: genai
    components: [chat-service, mysql, qdrant, ai-service]
    wait: false
  register: report
  failed_when: false

- name: Show why chat-service is not ready
  ansible.builtin.debug:
    msg: "{{ report.components | selectattr('name', 'equalto', 'chat-service') | map(attribute='problems') | first }}"
"""

RETURN = r"""
healthy:
  description: Whether every selected component is ready.
  returned: always
  type: bool
  sample: false
terminal:
  description: Whether a failure was seen that waiting will not fix (the wait stopped early).
  returned: always
  type: bool
  sample: false
summary:
  description: One line for people.
  returned: always
  type: str
  sample: "7/8 components ready; waiting on chat-service: readiness probe failing"
failing:
  description: One C(name - reason (details)) line per component that is not ready, dependencies first.
  returned: always
  type: list
  elements: str
  sample: ["chat-service: readiness probe failing (Readiness probe failed: HTTP probe failed with statuscode: 503) [needs mysql, not ready]"]
elapsed:
  description: Seconds the module spent.
  returned: always
  type: float
  sample: 12.4
namespace:
  description: The namespace verified.
  returned: always
  type: str
  sample: genai
order:
  description: Component names, each after the components it needs.
  returned: always
  type: list
  elements: str
  sample: [mysql, qdrant, ai-service, chat-service, gateway]
levels:
  description: The dependency order as waves; a component needs only components of earlier waves.
  returned: always
  type: list
  elements: list
  sample: [[mysql, qdrant, redis], [ai-service], [chat-service], [gateway]]
components:
  description: One entry per component, in dependency order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The component (label C(app.kubernetes.io/name), else the object's name).
      type: str
      sample: chat-service
    kind:
      description: Its main kind (its workload kind, else Ingress, Service ...).
      type: str
      sample: Deployment
    kinds:
      description: Kinds of all its selected objects.
      type: list
      elements: str
      sample: [Deployment, Service, HorizontalPodAutoscaler]
    tier:
      description: Its C(app.kubernetes.io/component) label.
      type: str
      sample: backend
    ready:
      description: Whether every object of the component is ready.
      type: bool
    terminal:
      description: Whether its failure is terminal.
      type: bool
    reason:
      description: The reason that explains its state best (empty when ready), for example V(ImagePullBackOff),
        V(CrashLoopBackOff), V(readiness probe failing), V(PVC Pending), V(no endpoints), V(ProgressDeadlineExceeded).
      type: str
      sample: CrashLoopBackOff
    message:
      description: Details of RV(components[].reason).
      type: str
      sample: pod chat-service-6d9c-x2x container app restarted 4 times, last exit code 1 Error
    problems:
      description: Every reason it is not ready, with details, the best explanation first.
      type: list
      elements: str
    warnings:
      description: Conditions that do not make it unready (HPA without metrics, suspended CronJob, restarts).
      type: list
      elements: str
    needs:
      description: Components it depends on (annotation C(genai.stack/needs) of its workloads).
      type: list
      elements: str
      sample: [mysql, qdrant]
    blocked_by:
      description: The components of RV(components[].needs) that are not ready.
      type: list
      elements: str
    http:
      description: The HTTP check through the service proxy (C(path), C(port), C(status), C(message)), or null
        when no Service of the component is annotated. C(status) is null when the check did not run yet
        (the component was not ready) and 0 when no HTTP answer came.
      type: dict
      sample: {path: /healthz, port: http, status: 200, message: ""}
    objects:
      description: Every selected object of the component with C(kind), C(name), C(ready), C(reason), C(message).
      type: list
      elements: dict
"""

import time  # noqa: E402 - imports follow the documentation in Ansible modules

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.genai.stack.plugins.module_utils import health_checks  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import (  # noqa: E402
    AUTH_ARG_SPEC,
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    get_api,
    quote_path,
    status_message,
)

HTTP_TIMEOUT = 10


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespace={"type": "str", "required": True},
        label_selectors={"type": "list", "elements": "str", "default": []},
        components={"type": "list", "elements": "str", "default": []},
        http={"type": "bool", "default": True},
        wait={"type": "bool", "default": True},
        wait_timeout={"type": "int", "default": 300},
        wait_sleep={"type": "int", "default": 2},
        pull_grace_period={"type": "int", "default": 60},
        crash_loop_restarts={"type": "int", "default": 3},
        allow_empty={"type": "bool", "default": False},
    )
    return spec


def poll(api, params):
    """List each kind once, resolve references, ask health paths; return the report."""
    namespace = quote_path(params["namespace"])
    selector = ",".join(s for s in params["label_selectors"] if s) or None
    objects = {}
    for kind, path in health_checks.LIST_PATHS:
        objects[kind] = api.list_items(path.format(namespace=namespace), selector)
    lookups = {}
    for kind in health_checks.lookups_needed(objects) if selector else []:
        lookups[kind] = api.list_items(health_checks.LIST_PATH[kind].format(namespace=namespace))
    options = {
        "components": params["components"],
        "pull_grace_period": params["pull_grace_period"],
        "crash_loop_restarts": params["crash_loop_restarts"],
    }
    now = time.time()
    report = health_checks.evaluate(objects, now, lookups=lookups, options=options)
    events = []
    if not report["healthy"]:
        events = api.list_items(health_checks.EVENTS_PATH.format(namespace=namespace))
    http_results = {}
    if params["http"]:
        for _dummy, service, port, path, url in health_checks.http_targets(objects, namespace, report):
            status, body = api.request(url, timeout=HTTP_TIMEOUT)
            ok = 200 <= status <= 299
            # only the status, never the body: a health page may echo configuration
            http_results[service] = {
                "path": path, "port": port, "status": status, "message": "" if ok else status_message(status, body)}
    if events or http_results:
        report = health_checks.evaluate(objects, now, http_results=http_results, events=events,
                                        lookups=lookups, options=options)
    if not report["components"] and params["allow_empty"]:
        report.update(healthy=True, summary="no objects matched (allowed)")
    elif not report["components"]:
        report["failing"] = ["no object in namespace {0} matches {1}".format(
            params["namespace"], selector or "(no selector)")]
        report["healthy"] = False
    return report


def run(module):
    params = module.params
    for name in ("wait_timeout", "wait_sleep", "pull_grace_period", "crash_loop_restarts"):
        if params[name] < 0:
            raise GenaiStackError("{0} must not be negative, got {1}".format(name, params[name]))
    api = get_api(params)
    start = time.time()
    deadline = start + params["wait_timeout"]
    wait = params["wait"] and not module.check_mode
    while True:
        report = poll(api, params)
        if report["healthy"] or report["terminal"] or not wait:
            break
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        time.sleep(min(max(params["wait_sleep"], 1), remaining))
    elapsed = round(time.time() - start, 1)
    result = dict(changed=False, namespace=params["namespace"], elapsed=elapsed, **report)
    if report["healthy"] or module.check_mode:
        return result
    if report["terminal"]:
        what = "has failed"
    elif wait:
        what = "is not healthy after {0}s".format(params["wait_timeout"])
    else:
        what = "is not healthy"
    raise GenaiStackError("Namespace {0} {1}: {2}".format(params["namespace"], what, "; ".join(report["failing"])), **result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        result = run(module)
    except GenaiStackError as exc:
        details = {"healthy": False, "terminal": False, "failing": [exc.msg], "components": []}
        details.update(exc.details)
        details.pop("api_status", None)
        module.fail_json(msg=exc.msg, **details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

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
    target; without a current metric an HPA is not ready after O(metrics_grace_period) when
    metrics-server's APIService exists, and only a warning without metrics-server.
  - Services annotated C(genai.stack/health-path) (port named by C(genai.stack/health-port), else the
    first port) are asked over HTTP through the API server's service proxy,
    C(/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH), once the rest of their component is ready,
    so the check works from outside the cluster; a 2xx answer is healthy.
  - Failures that waiting will not fix end the wait at once with RV(terminal=true) - pods refused at
    creation (V(FailedCreate) on a StatefulSet, a Job or the current ReplicaSet of a Deployment; a
    PodSecurity refusal at once), a claim whose StorageClass does not exist (V(ProvisioningFailed)),
    an image the registry says does not exist, V(InvalidImageName), V(ErrImageNeverPull), waiting
    reasons ending in C(Error), V(Unschedulable), V(FailedMount) or V(FailedCreatePodSandBox) lasting
    longer than O(stuck_grace_period), other image pull errors lasting longer than
    O(pull_grace_period) or failing again on the kubelet's retry, V(CrashLoopBackOff) with at least O(crash_loop_restarts) restarts the
    container caused itself, V(ProgressDeadlineExceeded) of the observed generation, a failed Job,
    a Lost claim, an object being deleted past O(stuck_grace_period), a component named in
    O(components) with no object.
  - An Ingress must have an address from a controller (C(status.loadBalancer.ingress)) within
    O(ingress_grace_period) (else V(no ingress controller), naming the class), and every Secret named
    in its C(spec.tls) must exist (else V(TLS Secret missing), naming the Secret and the Ready condition
    of the cert-manager Certificate of that name, or "unverified" when Certificates cannot be read).
  - The report shows each HPA's current metrics against their targets, as RV(components[].metrics).
  - Every reason the report can hold is listed, with when it ends the wait, in the README of the
    collection ("Health reasons").
  - While waiting, the action plugin of this module prints every O(progress_interval) seconds which
    components are ready and which are not, and why; it runs the wait in the controller's worker when
    the task's connection is local, and runs the module on the target otherwise.
  - The module fails when the selection is not healthy at the end of its wait, with a message naming
    every failing component and its reason. It never changes anything.
  - No value of a Secret, a ConfigMap or a container's environment is read into the result.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
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
      - Seconds to wait. One call waits the whole time; progress shows every O(progress_interval)
        seconds.
    type: int
    default: 300
  progress_interval:
    description:
      - "Seconds between two progress lines while waiting, for example
        C([backend] ready: api, chat | not ready: ai (ContainerCreating 12s)). V(0) prints none."
      - Printed by the action plugin when the wait runs in the controller (local connection).
    type: int
    default: 10
  wait_sleep:
    description:
      - Seconds between two polls.
    type: int
    default: 2
  pull_grace_period:
    description:
      - Seconds, counted from the first failed pull of a pod, during which image pull errors
        (V(ImagePullBackOff), V(ErrImagePull), V(RegistryUnavailable)) are still waited for; after it
        they are terminal. An answer that says the image or tag does not exist, or that access is
        denied, is terminal at once, and so is a second failed pull (the kubelet's retry after its
        back-off, about 10 seconds after the first).
    type: int
    default: 60
  stuck_grace_period:
    description:
      - Seconds during which V(Unschedulable) pods, pods refused at creation (V(FailedCreate), except
        PodSecurity refusals, terminal at once), pods stuck in C(ContainerCreating) with
        V(FailedMount), V(FailedAttachVolume) or V(FailedCreatePodSandBox) events, container
        configuration errors (V(CreateContainerConfigError), V(CreateContainerError),
        V(RunContainerError)), claims with no StorageClass and objects being deleted are still
        waited for; after it they are terminal.
    type: int
    default: 30
  ingress_grace_period:
    description:
      - Seconds after its creation an Ingress may have no address from a controller before it is
        reported as V(no ingress controller).
    type: int
    default: 60
  metrics_grace_period:
    description:
      - Seconds an HPA may have no current metric before it is not ready (V(metrics unavailable)).
        Only when metrics-server's APIService C(v1beta1.metrics.k8s.io) exists; without it, missing
        metrics are a warning.
    type: int
    default: 120
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
  - Grace periods are measured from the API's timestamps (pod creation, condition transitions, first
    event), so they hold across calls; the clocks of the controller and the cluster are assumed to agree.
  - Objects without an C(app.kubernetes.io/name) label form a component named after themselves.
  - Ingress backends and HPA targets outside the selection are looked up with one extra list of
    their kind.
seealso:
  - module: kubernetes.core.k8s_info
  - module: genai.stack.apply
"""

EXAMPLES = r"""
- name: Wait for the backend tier of the genai system
  genai.stack.health:
    namespace: genai
    label_selectors:
      - app.kubernetes.io/component=backend
      - app.kubernetes.io/part-of=genai
    wait_timeout: 600

- name: Wait up to 10 minutes, printing progress every 15 seconds, stopping at a terminal failure
  genai.stack.health:
    namespace: genai
    label_selectors: ["app.kubernetes.io/part-of=genai"]
    wait_timeout: 600
    progress_interval: 15

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
    for_seconds:
      description: Seconds the state of RV(components[].reason) has lasted, when known.
      type: int
      sample: 12
    metrics:
      description: Each HPA's current metrics against their targets.
      type: list
      elements: str
      sample: ["chat-service: cpu 12% (target 80%)"]
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

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402 - imports follow the documentation

from ansible_collections.genai.stack.plugins.module_utils import health_checks  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import (  # noqa: E402
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    get_api,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC  # noqa: E402


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
        progress_interval={"type": "int", "default": 10},
        pull_grace_period={"type": "int", "default": 60},
        stuck_grace_period={"type": "int", "default": 30},
        crash_loop_restarts={"type": "int", "default": 3},
        ingress_grace_period={"type": "int", "default": 60},
        metrics_grace_period={"type": "int", "default": 120},
        allow_empty={"type": "bool", "default": False},
    )
    return spec


def run(params, check_mode=False, progress=None):
    """The whole wait (see health_checks.wait); returns the result or raises GenaiStackError."""
    return health_checks.wait(get_api(params), params, check_mode=check_mode, progress=progress)


def failure(exc):
    """The fail_json arguments for a GenaiStackError: its message and the report it carries."""
    details = {"healthy": False, "terminal": False, "failing": [exc.msg], "components": []}
    details.update(exc.details)
    details.pop("api_status", None)
    details["msg"] = exc.msg
    return details


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        result = run(module.params, check_mode=module.check_mode)
    except GenaiStackError as exc:
        module.fail_json(**failure(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

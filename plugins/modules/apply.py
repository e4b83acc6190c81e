#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apply
short_description: Server-side apply a list of manifests safely, with preflight, prune and rollback
version_added: 1.0.0
author:
  - genai.stack maintainers (@genai-stack)
description:
  - Applies every object of O(definitions) with Kubernetes server-side apply (field manager O(field_manager)).
  - B(Preflight.) Before anything is applied, every object is dry-run on the server with the same apply
    (C(dryRun=All)). Objects the API server would refuse (invalid values, immutable fields, admission and
    PodSecurity denials, quota) stop the run with nothing applied; the failure names each object's component
    (its C(app.kubernetes.io/name) label), kind, name, field and a remedy (RV(refusals)).
  - B(Changes.) An object whose dry-run answer equals the live object is reported V(unchanged) and not sent again;
    for the others the resourceVersion before and after the apply tells whether the server changed anything.
    So a second run reports C(changed=false), and check mode and C(--diff) show what a real run would do.
  - B(HPA handover.) When a Deployment or StatefulSet is given without C(spec.replicas) (it has a
    HorizontalPodAutoscaler) while this field manager owns C(spec.replicas), ownership is first handed to the
    field manager C(handover-to-hpa) with the live value, as the Kubernetes documentation on server-side apply
    describes, so adding an HPA never scales the workload down.
  - B(Immutable fields.) A StatefulSet whose C(volumeClaimTemplates), C(selector), C(serviceName) or
    C(podManagementPolicy) changes is refused unless O(recreate_statefulsets) is set (then it is deleted with
    C(propagationPolicy=Orphan) and re-created; its pods and PVCs stay and are adopted). Larger volume sizes grow
    the existing PVCs in place with O(expand_volumes) when their StorageClass allows volume expansion. Other
    immutable fields (a Deployment selector, a Service clusterIP, a Job template) are refused with the remedy.
  - B(Stuck StatefulSets.) After a StatefulSet is applied, its pods that sit on an older revision and will never
    become ready (image pull errors, crash loops, configuration errors) are deleted so the controller re-creates
    them at the new revision (the "forced rollback" of the StatefulSet documentation).
  - B(Prune.) With O(prune), objects carrying all of O(prune.labels) that O(definitions) no longer holds are
    deleted (Deployments, StatefulSets, CronJobs, Jobs, Services, ConfigMaps, HPAs, PDBs, NetworkPolicies,
    Ingresses, ServiceAccounts, Roles, RoleBindings; Secrets and PVCs only with O(purge)). Objects controlled by
    another object (a Job of a CronJob, a PVC of a StatefulSet that stays) are never pruned.
  - B(Rollback.) With O(state=rollback), each Deployment and StatefulSet of O(revisions) gets back the pod
    template of its recorded revision, as C(kubectl rollout undo) does.
  - Secret values never appear in results or diffs (shown as C(<hidden>) or C(<hidden, changed>)).
  - An action plugin runs this in the controller's worker process when the task's connection is local (no
    module process, no API discovery for built-in kinds); otherwise the module runs on the target.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  definitions:
    description:
      - The objects to apply, each a complete manifest with C(apiVersion), C(kind) and C(metadata.name).
      - Namespaces are applied first, then the rest in the order given.
      - An empty list changes nothing and contacts no API server unless O(prune) is set.
    type: list
    elements: dict
    default: []
  namespace:
    description:
      - Namespace of namespaced objects whose C(metadata.namespace) is not set; also where O(prune) looks when
        O(definitions) is empty.
      - When the namespace does not exist yet, the preflight validates namespaced objects against the
        C(default) namespace and says so in RV(notes).
    type: str
  field_manager:
    description:
      - Server-side apply field manager.
    type: str
    default: genai-stack
  force_conflicts:
    description:
      - Take over fields owned by other field managers. When V(false), a conflict is a refusal.
    type: bool
    default: true
  dry_run:
    description:
      - Only dry-run on the server (C(dryRun=All)) and report what a real run would do. Check mode implies it.
    type: bool
    default: false
  prune:
    description:
      - Delete objects labelled with all of O(prune.labels) that are not among O(definitions).
    type: dict
    suboptions:
      labels:
        description:
          - Labels every pruned object carries, for example C(app.kubernetes.io/part-of) and
            C(app.kubernetes.io/component).
        type: dict
        required: true
      keep:
        description:
          - Objects another step of the same run applies, as C(Kind/name) (a component moved to
            another tier); they are never pruned here, so they are updated in place rather than
            deleted and re-created.
        type: list
        elements: str
        default: []
  purge:
    description:
      - Prune Secrets and PersistentVolumeClaims too (their data is lost).
    type: bool
    default: false
  recreate_statefulsets:
    description:
      - Re-create a StatefulSet whose immutable fields change, with C(propagationPolicy=Orphan) so its pods and
        PVCs stay and are adopted by the new StatefulSet.
    type: bool
    default: false
  expand_volumes:
    description:
      - Grow PersistentVolumeClaims (and the claims of StatefulSet volume claim templates) in place when a larger
        size is asked and their StorageClass has C(allowVolumeExpansion). A smaller size is always refused.
    type: bool
    default: false
  state:
    description:
      - V(present) applies O(definitions); V(rollback) restores the pod templates recorded in O(revisions).
    type: str
    choices: [present, rollback]
    default: present
  revisions:
    description:
      - For O(state=rollback), RV(revisions) of an earlier O(state=present) call.
    type: dict
    default: {}
  hide_values:
    description:
      - Hide ConfigMap values in diffs too. Secret values are always hidden in diffs.
      - Also blank every value of the definitions' Secrets (as given, base64 and decoded) out of
        the result, the failure message and the refusals included, so that a task with C(no_log)
        can show the message of a refusal (which Secret, its component, the field and why)
        without any value, for example from a C(rescue).
    type: bool
    default: false
notes:
  - Check mode is supported and tells the truth (server-side dry run); so is C(--diff).
requirements:
  - kubernetes (Python library)
"""

EXAMPLES = r"""
- name: Apply the backend tier and prune what it no longer holds
  genai.stack.apply:
    namespace: genai
    definitions: "{{ manifests }}"
    prune:
      labels:
        app.kubernetes.io/part-of: genai
        app.kubernetes.io/component: backend
  register: applied

- name: Roll the tier back after a failed wait
  genai.stack.apply:
    state: rollback
    namespace: genai
    revisions: "{{ applied.revisions }}"
  when: wait_failed | bool
"""

RETURN = r"""
results:
  description: One entry per object applied or pruned, and one per PVC of a StatefulSet grown in place (V(expanded)).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Deployment, name: api, namespace: genai, action: configured}
  contains:
    kind:
      description: Kind of the object.
      type: str
    name:
      description: Name of the object.
      type: str
    namespace:
      description: Namespace of the object (null for cluster-scoped kinds).
      type: str
    action:
      description: V(created), V(configured), V(unchanged), V(recreated), V(expanded), V(pruned) or V(rolled_back).
      type: str
revisions:
  description:
    - For each Deployment and StatefulSet this call changed, keyed C(Kind/name), the revision it had before
      (C(kind), C(name), C(namespace), C(revision)). Input of O(state=rollback).
  returned: always
  type: dict
  sample: {"Deployment/api": {kind: Deployment, name: api, namespace: genai, revision: "3"}}
refusals:
  description: Objects the API server would refuse, found by the preflight (the call then fails).
  returned: always
  type: list
  elements: dict
  sample:
    - component: redis
      kind: StatefulSet
      name: redis
      namespace: genai
      field: spec.volumeClaimTemplates
      reason: immutable field
      message: "redis: StatefulSet redis: spec.volumeClaimTemplates cannot change in place"
      remedy: set expand_volumes and recreate_statefulsets
notes:
  description: What the preflight could only approximate, for example a namespace that does not exist yet.
  returned: always
  type: list
  elements: str
replaced_pods:
  description: StatefulSet pods deleted because they were stuck on an old revision (component, name, reason...).
  returned: always
  type: list
  elements: dict
api_warnings:
  description: Warnings the API server sent (deprecations, PodSecurity "would violate" messages).
  returned: when the API server sent any
  type: list
  elements: str
dry_run:
  description: Whether nothing was written (check mode or O(dry_run)).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.genai.stack.plugins.module_utils.apply_engine import (  # noqa: E402
    Applier,
    argument_spec,
    without_values,
)
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import (  # noqa: E402
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    get_api,
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    definitions = [d for d in module.params["definitions"] or [] if d]
    if not definitions and not module.params["prune"] and module.params["state"] == "present":
        module.exit_json(changed=False, results=[], revisions={}, refusals=[], notes=[], replaced_pods=[],
                         dry_run=module.check_mode or module.params["dry_run"])
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        applier = Applier(get_api(module.params), module.params, check_mode=module.check_mode, diff=module._diff)
        result = applier.run()
    except GenaiStackError as exc:
        failure = dict(exc.details, msg=exc.msg)
        if module.params["hide_values"]:
            failure = without_values(failure, definitions)
        module.fail_json(**failure)
    if module.params["hide_values"]:
        result = without_values(result, definitions)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply of a list of manifests, safely: the engine of genai.stack.apply.

One ``Applier.run()`` does, for ``state=present``:

1. read every object (one GET each; built-in kinds need no discovery);
2. preflight: dry-run every object with the same server-side apply (``dryRun=All``) before
   anything is applied. Objects the API server refuses (invalid values, immutable fields,
   admission and PodSecurity denials) become ``refusals`` naming component, kind, name,
   field, reason and remedy, and the run stops with nothing applied. For a namespace that
   does not exist yet, PodSecurity is judged from its Namespace definition's labels
   (plugins/module_utils/pod_security.py), since no API server can warn about it. An object whose
   dry-run answer equals the live object is ``unchanged`` and is not sent again;
3. apply what changed, Namespaces first, with the field manager and ``force``; a
   resourceVersion that did not move means ``unchanged``. Around it: the HPA handover of
   ``spec.replicas``, the opt-in re-creation of a StatefulSet (propagationPolicy=Orphan) and
   growth of its PVCs, and the replacement of StatefulSet pods stuck on an old revision;
4. prune objects labelled with ``prune.labels`` that the definitions no longer hold.

``state=rollback`` puts the pod template of each Deployment/StatefulSet named in
``revisions`` back to its recorded revision, as ``kubectl rollout undo`` does.

Check mode (``dry_run``) runs steps 1-2 and reports what a real run would do; nothing is
written. Rules come from the Kubernetes documentation: "Server-Side Apply" (field
management, transferring ownership to an HPA), "StatefulSets" (forced rollback: delete pods
stuck on a bad revision), "Expanding Persistent Volumes Claims", "Deleting a StatefulSet"
(``--cascade=orphan``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import time

from ansible_collections.genai.stack.plugins.module_utils import apply_objects as objects
from ansible_collections.genai.stack.plugins.module_utils import pod_security
from ansible_collections.genai.stack.plugins.module_utils.apply_resources import (
    FIRST_KINDS,
    KEPT_KINDS,
    OPTIONAL_PRUNE_KINDS,
    PRUNE_KINDS,
    ResourceMap,
)
from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import AUTH_ARG_SPEC, quote_path

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"
JSON_PATCH_CONTENT_TYPE = "application/json-patch+json"
HANDOVER_MANAGER = "handover-to-hpa"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
# waiting reasons of a pod that an old revision will never get out of
STUCK_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                 "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError")
FALLBACK_NAMESPACE = "default"
RETRY_STATUSES = (0, 429, 500, 502, 503, 504)
RETRY_SECONDS = 20
DELETE_WAIT_SECONDS = 60
STATUS_WAIT_SECONDS = 10
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
POD_TEMPLATE_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"


def argument_spec():
    """The options of genai.stack.apply (the module and its action plugin share them)."""
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        definitions={"type": "list", "elements": "dict", "default": []},
        namespace={"type": "str"},
        field_manager={"type": "str", "default": "genai-stack"},
        force_conflicts={"type": "bool", "default": True},
        dry_run={"type": "bool", "default": False},
        prune={"type": "dict", "options": {"labels": {"type": "dict", "required": True},
                                           "keep": {"type": "list", "elements": "str", "default": []}}},
        purge={"type": "bool", "default": False},
        recreate_statefulsets={"type": "bool", "default": False},
        expand_volumes={"type": "bool", "default": False},
        state={"type": "str", "default": "present", "choices": ["present", "rollback"]},
        revisions={"type": "dict", "default": {}},
        hide_values={"type": "bool", "default": False},
    )
    return spec


class Item(object):
    """One definition and what the preflight found out about it."""

    def __init__(self, desired, api_version, kind, name, namespace, namespaced):
        self.desired = desired
        self.api_version = api_version
        self.kind = kind
        self.name = name
        self.namespace = namespace if namespaced else None
        self.live = None
        self.dry = None
        self.action = None          # created | configured | unchanged | recreated
        self.handover = None        # live spec.replicas to hand over to the HPA
        self.body = desired         # what is applied (desired, or with live immutable fields kept)
        self.recreate = False
        self.grow_pvcs = []         # [(pvc name, size, live pvc)]
        self.note = None

    @property
    def key(self):
        return "{0}/{1}".format(self.kind, self.name)

    @property
    def component(self):
        return objects.component_of(self.desired)

    def result(self, action=None):
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace, "action": action or self.action}


class Applier(object):
    """Runs genai.stack.apply over a K8sApi (plugins/module_utils/k8s_client.py)."""

    def __init__(self, api, params, check_mode=False, diff=False, sleep=time.sleep, clock=time.time):
        self.api = api
        self.params = params
        self.dry_run = bool(params.get("dry_run")) or check_mode
        self.want_diff = diff
        self.sleep = sleep
        self.clock = clock
        self.resources = ResourceMap(api) if api is not None else None
        self.manager = params.get("field_manager") or "genai-stack"
        self.warnings = []
        self.notes = []
        self.diffs = []
        self.refusals = []
        self.replaced_pods = []
        self.last_warnings = []

    # ---------------------------------------------------------------------------------------
    # requests

    def _call(self, method, path, query=None, body=None, content_type=None):
        # Every request here is idempotent (GET, server-side apply, DELETE), so an API server
        # that is briefly unavailable or throttling is asked again, up to RETRY_SECONDS.
        deadline = self.clock() + RETRY_SECONDS
        delay = 0.5
        while True:
            status, answer, warnings = self.api.call(method, path, query=query, body=body,
                                                     content_type=content_type)
            if status not in RETRY_STATUSES or self.clock() + delay > deadline:
                break
            self.sleep(delay)
            delay = min(delay * 2, 4)
        self.last_warnings = warnings
        for warning in warnings:
            if warning not in self.warnings:
                self.warnings.append(warning)
        if status == 0:
            raise GenaiStackError("No answer from the Kubernetes API for {0} {1}: {2}".format(
                method, path, (answer or {}).get("message")))
        return status, answer

    def _get(self, path, missing_ok=True):
        status, answer = self._call("GET", path)
        if status == 404 and missing_ok:
            return None
        if status != 200:
            raise GenaiStackError("GET {0} failed: HTTP {1}: {2}".format(path, status, _message(answer)),
                                  api_status=status)
        return answer

    def _list(self, path, selector=None):
        query = {"labelSelector": selector} if selector else None
        status, answer = self._call("GET", path, query=query)
        if status == 404:
            return []
        if status != 200:
            raise GenaiStackError("GET {0} failed: HTTP {1}: {2}".format(path, status, _message(answer)))
        return (answer or {}).get("items") or []

    def _apply(self, item, body, dry_run, manager=None, namespace=None):
        namespace = namespace or item.namespace
        if namespace and body.get("metadata", {}).get("namespace") != namespace:
            body = copy.deepcopy(body)
            body["metadata"]["namespace"] = namespace
        query = {"fieldManager": manager or self.manager, "force": "true" if self.params.get("force_conflicts", True) else "false"}
        if dry_run:
            query["dryRun"] = "All"
        path = self.resources.path(item.api_version, item.kind, namespace, item.name)
        return self._call("PATCH", path, query=query, body=body, content_type=APPLY_CONTENT_TYPE)

    def _path(self, item):
        return self.resources.path(item.api_version, item.kind, item.namespace, item.name)

    # ---------------------------------------------------------------------------------------
    # entry point

    def run(self):
        if self.params.get("state") == "rollback":
            return self.rollback()
        return self.present()

    def _result(self, results, revisions=None):
        changed = any(r["action"] != "unchanged" for r in results) or bool(self.replaced_pods)
        result = {
            "changed": changed,
            "results": results,
            "revisions": revisions or {},
            "refusals": self.refusals,
            "notes": self.notes,
            "replaced_pods": self.replaced_pods,
            "dry_run": self.dry_run,
        }
        if self.warnings:
            result["api_warnings"] = self.warnings
        if self.want_diff:
            result["diff"] = self.diffs
        return result

    # ---------------------------------------------------------------------------------------
    # state=present

    def items(self):
        items = []
        seen = set()
        default_namespace = self.params.get("namespace")
        for index, definition in enumerate(self.params.get("definitions") or []):
            if not definition:
                continue
            if not isinstance(definition, dict):
                raise GenaiStackError("definitions[{0}] is not a dict".format(index))
            metadata = definition.get("metadata") or {}
            api_version, kind, name = definition.get("apiVersion"), definition.get("kind"), metadata.get("name")
            if not (api_version and kind and name):
                raise GenaiStackError(
                    "definitions[{0}] needs apiVersion, kind and metadata.name (got {1!r}, {2!r}, {3!r})".format(
                        index, api_version, kind, name))
            namespaced = self.resources.namespaced(api_version, kind)
            namespace = metadata.get("namespace") or default_namespace
            if namespaced and not namespace:
                raise GenaiStackError("{0} {1} has no namespace and the namespace option is not set".format(kind, name))
            desired = copy.deepcopy(definition)
            desired.setdefault("metadata", {})
            if namespaced:
                desired["metadata"]["namespace"] = namespace
            else:
                desired["metadata"].pop("namespace", None)
            item = Item(desired, api_version, kind, name, namespace, namespaced)
            if (kind, item.namespace, name) in seen:
                raise GenaiStackError("{0} {1} is defined twice".format(kind, name))
            seen.add((kind, item.namespace, name))
            items.append(item)
        # Namespaces (and cluster-wide prerequisites) first, the rest in the order given
        first = [i for i in items if i.kind in FIRST_KINDS]
        return first + [i for i in items if i.kind not in FIRST_KINDS]

    def present(self):
        definitions = [d for d in self.params.get("definitions") or [] if d]
        prune = self.params.get("prune")
        if not definitions and not prune:
            # nothing to apply: no request at all (an empty tier is not an error)
            return self._result([])
        items = self.items()
        self.preflight(items)
        if self.refusals:
            raise GenaiStackError(refusal_message(self.refusals), refusals=self.refusals, results=[],
                                  changed=False, notes=self.notes)
        revisions = {}
        results = []
        prune_plan = self.prune_plan(items) if prune else []
        if self.dry_run:
            for item in items:
                results.append(item.result())
                self._diff(item, item.live, item.dry)
                results.extend(self._grown_claims(item))
            for obj in prune_plan:
                results.append(_object_result(obj, "pruned"))
                self._diff_pruned(obj)
            return self._result(results, revisions)
        # HPAs go first so that none scales a workload back up while it is being pruned
        for obj in [o for o in prune_plan if o["kind"] == "HorizontalPodAutoscaler"]:
            results.append(self.delete(obj))
        for item in items:
            if item.kind in WORKLOAD_KINDS and item.live is not None and item.action != "unchanged":
                revisions[item.key] = revision_of(item.live)
            results.append(self.apply_item(item))
            results.extend(self._grown_claims(item))
        for item in items:
            # a StatefulSet created by this run has no pod of an older revision
            if item.kind == "StatefulSet" and item.action != "created":
                self.replace_stuck_pods(item, settle=item.action != "unchanged")
        for obj in [o for o in prune_plan if o["kind"] != "HorizontalPodAutoscaler"]:
            results.append(self.delete(obj))
        return self._result(results, revisions)

    # ---------------------------------------------------------------------------------------
    # preflight

    def preflight(self, items):
        for item in items:
            item.live = self._get(self._path(item)) if not self._namespace_absent(item) else None
        for item in items:
            self._dry_run_item(item, items)
        self._check_references(items)

    def _exists(self, kind, namespace, name, items):
        """Whether an object is among the definitions or in the cluster (asked once per run)."""
        if any(i.kind == kind and i.namespace == namespace and i.name == name for i in items):
            return True
        if not hasattr(self, "_existing"):
            self._existing = {}
        key = (kind, namespace, name)
        if key not in self._existing:
            self._existing[key] = (not self._namespace_absent_name(namespace) and self._get(
                self.resources.path("v1", kind, namespace, name)) is not None)
        return self._existing[key]

    def _check_references(self, items):
        """ConfigMaps a pod template needs (not optional) that neither the definitions nor the
        namespace hold are refused: the pods would wait in ContainerCreating (FailedMount) or
        CreateContainerConfigError. imagePullSecrets that do not exist are noted: the kubelet
        pulls without them, which only a private registry refuses.

        Left out in check mode without dry_run (a tier's task in a check-mode run): the earlier
        tiers were not applied, and the preflight (dry_run) has judged every tier together."""
        if self.dry_run and not self.params.get("dry_run"):
            return
        for item in items:
            template = pod_security.pod_template(item.desired)
            if template is None or not item.namespace:
                continue
            spec = template[1]
            for name, where in objects.config_map_references(spec):
                if not self._exists("ConfigMap", item.namespace, name, items):
                    self.refusals.append(_refusal(
                        item, where, "missing ConfigMap",
                        "{0}: {1} {2} needs ConfigMap {3}, which is neither among the definitions nor in namespace "
                        "{4}: its pods would never start".format(item.component, item.kind, item.name, name,
                                                                 item.namespace),
                        "create ConfigMap {0} first (an extra manifest of the tier), correct the name in the "
                        "component's pod_spec or container, or mark the reference optional".format(name)))
            for entry in spec.get("imagePullSecrets") or []:
                name = (entry or {}).get("name")
                if name and not self._exists("Secret", item.namespace, name, items):
                    note = ("{0}: imagePullSecret {1} does not exist in namespace {2}: images are pulled without it "
                            "(genai_image_pull_secrets)".format(item.component, name, item.namespace))
                    if note not in self.notes:
                        self.notes.append(note)

    def _namespace_absent(self, item):
        if not item.namespace:
            return False
        if not hasattr(self, "_namespaces"):
            self._namespaces = {}
        if item.namespace not in self._namespaces:
            self._namespaces[item.namespace] = self._get("/api/v1/namespaces/" + quote_path(item.namespace)) is None
        return self._namespaces[item.namespace]

    def _dry_run_item(self, item, items):
        namespace = None
        if self._namespace_absent(item):
            # Nothing can be dry-run in a namespace that does not exist: validate against an
            # existing one (same schema, defaults and admission), and say so.
            defined = any(i.kind == "Namespace" and i.name == item.namespace for i in items)
            if not defined and not self.dry_run:
                self.refusals.append(_refusal(item, "metadata.namespace", "namespace absent",
                                              "namespace {0} does not exist and is not among the definitions".format(
                                                  item.namespace),
                                              "apply the foundation tier (which creates the namespace) first"))
                return
            namespace = FALLBACK_NAMESPACE
            note = "namespace {0} absent: validated against namespace {1}".format(item.namespace, namespace)
            if note not in self.notes:
                self.notes.append(note)
        body = item.desired
        dry_body = body
        if (item.kind in WORKLOAD_KINDS and item.live is not None and "replicas" not in (body.get("spec") or {})
                and objects.owns_field(item.live, self.manager, "spec.replicas")):
            # Transferring ownership of spec.replicas to the HPA: a handover manager takes the
            # live value first, so dropping the field from our apply does not reset it to 1.
            item.handover = (item.live.get("spec") or {}).get("replicas")
            dry_body = copy.deepcopy(body)
            dry_body["spec"]["replicas"] = item.handover
        status, answer = self._apply(item, dry_body, dry_run=True, namespace=namespace)
        if status in (200, 201):
            item.dry = answer
            if namespace is not None:
                # validated in another namespace: its PodSecurity is not the one the pods meet
                if self._pod_security_evaluates(item, items):
                    return
            elif self._pod_security_refuses(item, items):
                return
        elif status == 422 and item.live is not None and namespace is None:
            self._immutable(item, answer)
            if item.action is None:
                return
        else:
            self.refusals.append(_refusal_from_answer(item, status, answer))
            return
        if item.action is None:
            if item.live is None:
                item.action = "created"
            elif (objects.same_object(item.live, item.dry) and objects.manages(item.live, self.manager)
                  and item.handover is None):
                item.action = "unchanged"
            else:
                item.action = "configured"
        if item.kind == "PersistentVolumeClaim" and item.live is not None and item.action == "configured":
            self._pvc_growth(item)

    def _enforced_level(self, namespace, items):
        for other in items:
            if other.kind == "Namespace" and other.name == namespace:
                return ((other.desired.get("metadata") or {}).get("labels") or {}).get(PSA_ENFORCE)
        live = self._get("/api/v1/namespaces/" + quote_path(namespace)) if namespace else None
        return (((live or {}).get("metadata") or {}).get("labels") or {}).get(PSA_ENFORCE)

    def _pod_security_refuses(self, item, items):
        """A workload whose pods PodSecurity would refuse at creation is refused now.

        The API server only warns about workload objects ("would violate PodSecurity" at the
        namespace's warn level); the pods themselves are refused later, with nothing but a
        FailedCreate event. When the warning's level is the namespace's enforce level, the
        pods will be refused, so the preflight says so.
        """
        if item.kind not in POD_TEMPLATE_KINDS:
            return False
        for warning in self.last_warnings:
            if "would violate PodSecurity" not in warning:
                continue
            enforced = self._enforced_level(item.namespace, items)
            if not enforced or enforced == "privileged" or '"{0}:'.format(enforced) not in warning:
                continue
            self.refusals.append(_pod_security_refusal(item, enforced, warning))
            return True
        return False

    def _pod_security_evaluates(self, item, items):
        """The same refusal for a namespace that does not exist yet, from its Namespace definition.

        No API server can warn about a namespace that does not exist (the preflight dry-runs
        in another one), so the pod template is evaluated here against the Pod Security
        Standards (plugins/module_utils/pod_security.py) at the ``enforce`` level and
        ``enforce-version`` labelled on the Namespace among the definitions.
        """
        template = pod_security.pod_template(item.desired)
        if template is None:
            return False
        labels = {}
        for other in items:
            if other.kind == "Namespace" and other.name == item.namespace:
                labels = (other.desired.get("metadata") or {}).get("labels") or {}
        enforced = labels.get(PSA_ENFORCE)
        if enforced not in ("baseline", "restricted"):
            return False
        version = labels.get(PSA_ENFORCE + "-version") or "latest"
        try:
            findings = pod_security.evaluate(enforced, version, template[0], template[1])
        except ValueError as err:
            self.refusals.append(_refusal(
                item, "metadata.labels", "invalid", "{0}: Namespace {1}: {2}".format(item.component, item.namespace, err),
                "label the namespace with a PodSecurity version \"latest\" or \"v1.N\""))
            return True
        if not findings:
            return False
        field = ".".join(pod_security.TEMPLATE_PATHS[item.kind] + ("spec",))
        self.refusals.append(_pod_security_refusal(item, enforced, pod_security.violation(enforced, version, findings),
                                                   field))
        return True

    def _immutable(self, item, answer):
        before = len(self.refusals)
        self._immutable_refusal(item, answer)
        other = _other_system(item)
        for refusal in self.refusals[before:] if other else []:
            # the object is another system's: what changes is who owns it, not a setting
            refusal["reason"] = "owned by another system"
            refusal["message"] += " (the live object belongs to the system {0}, app.kubernetes.io/part-of)".format(other)
            refusal["remedy"] = (
                "{0} {1} is the system {2}'s: if genai_system was renamed, set it back to {2}; otherwise deploy to "
                "another namespace (genai_namespace) or remove the system {2} first (playbooks/teardown.yml with its "
                "genai_system)").format(item.kind, item.name, other)

    def _immutable_refusal(self, item, answer):
        changes = objects.immutable_changes(item.kind, item.desired, item.live)
        message = _message(answer)
        field = changes[0] if changes else _cause_field(answer)
        if item.kind == "StatefulSet" and changes:
            growth = None
            if changes == ["spec.volumeClaimTemplates"]:
                growth = objects.storage_growth_only(item.desired["spec"]["volumeClaimTemplates"],
                                                     item.live["spec"].get("volumeClaimTemplates"))
            if growth and self.params.get("expand_volumes"):
                if not self._plan_volume_growth(item, growth):
                    return
                if not self.params.get("recreate_statefulsets"):
                    # grow the claims now; the template keeps its size until a re-creation
                    item.body = copy.deepcopy(item.desired)
                    item.body["spec"]["volumeClaimTemplates"] = item.live["spec"]["volumeClaimTemplates"]
                    self.notes.append(
                        "{0}: StatefulSet {1} keeps its volumeClaimTemplates (claims of new replicas get the old "
                        "size) until it is re-created; set recreate_statefulsets to update them".format(
                            item.component, item.name))
            elif not self.params.get("recreate_statefulsets"):
                self.refusals.append(_refusal(
                    item, field, "immutable field",
                    "{0}: StatefulSet {1}: {2} cannot change in place ({3})".format(
                        item.component, item.name, ", ".join(changes), message),
                    objects.remedy(item.kind, field, item.name, item.namespace)))
                return
            elif growth:
                # re-created with bigger templates, the existing claims would keep their size
                # while the run reported success: only new replicas would get the new size
                small = self._claims_to_grow(item, growth)
                if small:
                    self.refusals.append(_refusal(
                        item, field, "volume growth not enabled",
                        "{0}: StatefulSet {1}: re-creating it with larger volumeClaimTemplates leaves {2} at "
                        "their size".format(item.component, item.name, ", ".join(
                            "PVC {0} ({1}, wanted {2})".format(claim, current, new) for claim, current, new, _c in small)),
                        "set expand_volumes (genai_expand_volumes in an inventory) as well, to grow each claim in "
                        "place (its StorageClass must allow volume expansion)"))
                    return
            if self.params.get("recreate_statefulsets"):
                item.recreate = True
            # validate everything else: the same object with the live immutable fields
            check = copy.deepcopy(item.desired)
            if item.handover is not None:
                check["spec"]["replicas"] = item.handover
            for path in objects.IMMUTABLE_FIELDS["StatefulSet"]:
                live_value = objects.get_path(item.live, path)
                if live_value is not None:
                    objects.set_path(check, path, live_value)
            status, dry = self._apply(item, check, dry_run=True)
            if status not in (200, 201):
                self.refusals.append(_refusal_from_answer(item, status, dry))
                return
            item.dry = dry
            if item.recreate:
                item.action = "recreated"
            elif (not item.grow_pvcs and item.handover is None and objects.same_object(item.live, dry)
                  and objects.manages(item.live, self.manager)):
                # claims grown by an earlier run, template kept: nothing left to do
                item.action = "unchanged"
            else:
                item.action = "configured"
            return
        self.refusals.append(_refusal(
            item, field, "immutable field" if changes or "immutable" in message or "Forbidden" in message else "invalid",
            "{0}: {1} {2}: {3}".format(item.component, item.kind, item.name, message),
            objects.remedy(item.kind, field, item.name, item.namespace)))

    def _storage_class(self, name):
        if name:
            return self._get("/apis/storage.k8s.io/v1/storageclasses/" + quote_path(name))
        for sc in self._list("/apis/storage.k8s.io/v1/storageclasses"):
            annotations = (sc.get("metadata") or {}).get("annotations") or {}
            if annotations.get("storageclass.kubernetes.io/is-default-class") == "true":
                return sc
        return None

    def _expansion_refused(self, item, claim, class_name):
        sc = self._storage_class(class_name)
        if sc is not None and sc.get("allowVolumeExpansion"):
            return False
        shown = class_name or "(the default StorageClass)"
        reason = "does not exist" if sc is None else "does not allow volume expansion (allowVolumeExpansion is not true)"
        self.refusals.append(_refusal(
            item, "spec.resources.requests.storage", "volume expansion not allowed",
            "{0}: PVC {1} cannot grow: StorageClass {2} {3}".format(item.component, claim, shown, reason),
            "ask the cluster administrator to set allowVolumeExpansion: true on StorageClass {0}, or move the data "
            "to a new, larger claim".format(shown)))
        return True

    def _claims_to_grow(self, item, growth):
        """[(claim name, current size, wanted size, claim)] of the StatefulSet's claims smaller than wanted."""
        result = []
        for claim in self._list(self.resources.path("v1", "PersistentVolumeClaim", item.namespace)):
            claim_name = claim["metadata"]["name"]
            for template, (_old, new) in growth.items():
                prefix = "{0}-{1}-".format(template, item.name)
                if not (claim_name.startswith(prefix) and claim_name[len(prefix):].isdigit()):
                    continue
                current = objects.get_path(claim, "spec.resources.requests.storage")
                wanted, have = objects.quantity(new), objects.quantity(current)
                if objects.is_subset(new, current) or (wanted is not None and have is not None and wanted <= have):
                    continue  # as large already (a claim never shrinks)
                result.append((claim_name, current, new, claim))
        return result

    def _plan_volume_growth(self, item, growth):
        for claim_name, _current, new, claim in self._claims_to_grow(item, growth):
            if self._expansion_refused(item, claim_name, (claim.get("spec") or {}).get("storageClassName")):
                return False
            item.grow_pvcs.append((claim_name, new, claim))
        return True

    def _pvc_growth(self, item):
        wanted = objects.get_path(item.desired, "spec.resources.requests.storage")
        current = objects.get_path(item.live, "spec.resources.requests.storage")
        if wanted is None or objects.is_subset(wanted, current):
            return
        if not self.params.get("expand_volumes"):
            self.refusals.append(_refusal(
                item, "spec.resources.requests.storage", "volume growth not enabled",
                "{0}: PVC {1} would grow from {2} to {3}".format(item.component, item.name, current, wanted),
                objects.remedy("PersistentVolumeClaim", "spec.resources.requests.storage", item.name, item.namespace)))
            return
        self._expansion_refused(item, item.name, (item.live.get("spec") or {}).get("storageClassName"))

    # ---------------------------------------------------------------------------------------
    # apply

    def apply_item(self, item):
        if item.action == "unchanged":
            return item.result()
        body = item.body
        if item.recreate:
            live_replicas = (item.live.get("spec") or {}).get("replicas")
            if "replicas" not in (body.get("spec") or {}) and live_replicas is not None:
                # the re-created StatefulSet adopts every orphaned pod: keep their number
                body = copy.deepcopy(body)
                body["spec"]["replicas"] = live_replicas
        elif item.handover is not None:
            handover = {
                "apiVersion": item.api_version, "kind": item.kind,
                "metadata": {"name": item.name, "namespace": item.namespace},
                "spec": {"replicas": item.handover},
            }
            status, answer = self._apply(item, handover, dry_run=False, manager=HANDOVER_MANAGER)
            if status not in (200, 201):
                raise GenaiStackError("{0}: handing spec.replicas of {1} over to its HPA failed: {2}".format(
                    item.component, item.key, _message(answer)))
        for claim, size, _live in item.grow_pvcs:
            path = self.resources.path("v1", "PersistentVolumeClaim", item.namespace, claim)
            status, answer = self._call("PATCH", path, query={"fieldManager": self.manager},
                                        body={"spec": {"resources": {"requests": {"storage": size}}}},
                                        content_type=MERGE_CONTENT_TYPE)
            if status != 200:
                raise GenaiStackError("{0}: growing PVC {1} to {2} failed: {3}".format(
                    item.component, claim, size, _message(answer)))
        if item.recreate:
            self._delete_orphaning(item)
        status, answer = self._apply(item, body, dry_run=False)
        if status not in (200, 201):
            raise GenaiStackError(
                "{0}: applying {1} failed after the preflight passed: HTTP {2}: {3}".format(
                    item.component, item.key, status, _message(answer)),
                refusals=[_refusal_from_answer(item, status, answer)])
        before_version = (item.live or {}).get("metadata", {}).get("resourceVersion")
        after_version = (answer or {}).get("metadata", {}).get("resourceVersion")
        if item.recreate:
            action = "recreated"
        elif item.live is None:
            action = "created"
        elif before_version == after_version and not item.grow_pvcs:
            action = "unchanged"
        else:
            action = "configured"
        item.action = action
        if action != "unchanged":
            self._diff(item, item.live, answer)
        return item.result()

    def _grown_claims(self, item):
        """A result (and a diff) per PVC of a StatefulSet that this run grows, or would grow."""
        results = []
        for claim, size, live in item.grow_pvcs:
            after = copy.deepcopy(live)
            objects.set_path(after, "spec.resources.requests.storage", size)
            claim_item = Item(after, "v1", "PersistentVolumeClaim", claim, item.namespace, True)
            self._diff(claim_item, live, after)
            results.append(claim_item.result("expanded"))
        return results

    def _delete_orphaning(self, item):
        path = self._path(item)
        status, answer = self._call("DELETE", path, body={"propagationPolicy": "Orphan"})
        if status not in (200, 202, 404):
            raise GenaiStackError("{0}: deleting {1} (orphaning its pods) failed: {2}".format(
                item.component, item.key, _message(answer)))
        deadline = self.clock() + DELETE_WAIT_SECONDS
        while self._get(path) is not None:
            if self.clock() > deadline:
                raise GenaiStackError("{0}: {1} was still being deleted after {2} s".format(
                    item.component, item.key, DELETE_WAIT_SECONDS))
            self.sleep(0.5)

    def replace_stuck_pods(self, item, settle):
        """Delete pods of a StatefulSet that sit on an old revision and will never be ready.

        With podManagementPolicy OrderedReady the controller waits for such a pod forever
        (the "forced rollback" case of the StatefulSet documentation); once deleted, it is
        re-created at the update revision.
        """
        if self.dry_run:
            return
        path = self._path(item)
        sts = self._get(path)
        deadline = self.clock() + (STATUS_WAIT_SECONDS if settle else 0)
        while sts is not None and settle:
            observed = (sts.get("status") or {}).get("observedGeneration") or 0
            if observed >= (sts.get("metadata") or {}).get("generation", 0) or self.clock() > deadline:
                break
            self.sleep(0.5)
            sts = self._get(path)
        if sts is None:
            return
        update_revision = (sts.get("status") or {}).get("updateRevision")
        match = (sts.get("spec") or {}).get("selector", {}).get("matchLabels") or {}
        if not update_revision or not match:
            return
        selector = ",".join("{0}={1}".format(k, v) for k, v in sorted(match.items()))
        for pod in self._list(self.resources.path("v1", "Pod", item.namespace), selector):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            revision = labels.get("controller-revision-hash")
            if not revision or revision == update_revision or objects.pod_ready(pod):
                continue
            reason = objects.pod_stuck_reason(pod, STUCK_REASONS)
            if not reason or (pod.get("metadata") or {}).get("deletionTimestamp"):
                continue
            pod_name = pod["metadata"]["name"]
            status, answer = self._call("DELETE", self.resources.path("v1", "Pod", item.namespace, pod_name))
            if status not in (200, 202, 404):
                raise GenaiStackError("{0}: deleting pod {1} stuck on revision {2} failed: {3}".format(
                    item.component, pod_name, revision, _message(answer)))
            self.replaced_pods.append({
                "component": item.component, "name": pod_name, "namespace": item.namespace,
                "revision": revision, "update_revision": update_revision, "reason": reason,
            })

    # ---------------------------------------------------------------------------------------
    # prune

    def prune_plan(self, items):
        labels = (self.params.get("prune") or {}).get("labels") or {}
        if not labels:
            raise GenaiStackError("prune needs labels: pruning every object of a namespace is never wanted")
        selector = ",".join("{0}={1}".format(k, v) for k, v in sorted(labels.items()))
        namespaces = sorted(set([i.namespace for i in items if i.namespace] + (
            [self.params["namespace"]] if self.params.get("namespace") else [])))
        if not namespaces:
            raise GenaiStackError("prune needs the namespace option or namespaced definitions")
        keep = {(i.kind, i.namespace, i.name) for i in items}
        # objects another step of the run applies (a component moved to another tier): never
        # deleted here, or they would be re-created (new pods, a new Service address)
        elsewhere = {tuple(entry.split("/", 1)) for entry in (self.params.get("prune") or {}).get("keep") or []
                     if "/" in entry}
        statefulsets = [i for i in items if i.kind == "StatefulSet"]
        purge = self.params.get("purge")
        plan = []
        for namespace in namespaces:
            if self._namespace_absent_name(namespace):
                continue
            for api_version, kind in PRUNE_KINDS:
                if kind in KEPT_KINDS and not purge:
                    continue
                try:
                    path = self.resources.path(api_version, kind, namespace)
                except GenaiStackError:
                    if (api_version, kind) in OPTIONAL_PRUNE_KINDS:
                        continue  # the cluster does not serve the kind: nothing of it to prune
                    raise
                for obj in self._list(path, selector):
                    metadata = obj.get("metadata") or {}
                    if (kind, namespace, metadata.get("name")) in keep or objects.controlled(obj):
                        continue
                    if (kind, metadata.get("name")) in elsewhere:
                        continue
                    if metadata.get("deletionTimestamp"):
                        continue
                    if kind == "PersistentVolumeClaim" and _claim_of(metadata.get("name"), statefulsets, namespace):
                        continue
                    obj.setdefault("apiVersion", api_version)
                    obj.setdefault("kind", kind)
                    plan.append(obj)
        return plan

    def _namespace_absent_name(self, namespace):
        return self._get("/api/v1/namespaces/" + quote_path(namespace)) is None

    def delete(self, obj):
        metadata = obj["metadata"]
        path = self.resources.path(obj["apiVersion"], obj["kind"], metadata.get("namespace"), metadata["name"])
        status, answer = self._call("DELETE", path, body={"propagationPolicy": "Background"})
        if status not in (200, 202, 404):
            raise GenaiStackError("Pruning {0} {1} failed: HTTP {2}: {3}".format(
                obj["kind"], metadata["name"], status, _message(answer)))
        self._diff_pruned(obj)
        return _object_result(obj, "pruned")

    # ---------------------------------------------------------------------------------------
    # state=rollback

    def rollback(self):
        results = []
        for key, info in sorted((self.params.get("revisions") or {}).items()):
            if not isinstance(info, dict):
                raise GenaiStackError("revisions[{0}] is not a dict as returned by state=present".format(key))
            kind, name = info.get("kind"), info.get("name")
            namespace = info.get("namespace") or self.params.get("namespace")
            if kind not in WORKLOAD_KINDS or not name or not namespace:
                raise GenaiStackError("revisions[{0}] names no Deployment or StatefulSet with a namespace".format(key))
            api_version = "apps/v1"
            item = Item({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": namespace}},
                        api_version, kind, name, namespace, True)
            live = self._get(self._path(item))
            if live is None:
                raise GenaiStackError("Cannot roll back {0} {1}: it does not exist".format(kind, name))
            item.desired = live
            if kind == "Deployment":
                template = self._deployment_template(live, info)
            else:
                template = self._statefulset_template(live, info)
            if template is None or objects.is_subset(template, live["spec"]["template"]) and objects.is_subset(
                    live["spec"]["template"], template):
                results.append(item.result("unchanged"))
                continue
            after = copy.deepcopy(live)
            after["spec"]["template"] = template
            if not self.dry_run:
                # as `kubectl rollout undo`: replace the pod template, nothing else
                status, answer = self._call(
                    "PATCH", self._path(item), query={"fieldManager": self.manager},
                    body=[{"op": "replace", "path": "/spec/template", "value": template}],
                    content_type=JSON_PATCH_CONTENT_TYPE)
                if status != 200:
                    raise GenaiStackError("{0}: rolling {1} back to revision {2} failed: {3}".format(
                        objects.component_of(live), item.key, info.get("revision"), _message(answer)))
                after = answer
            self._diff(item, live, after)
            results.append(item.result("rolled_back"))
            if kind == "StatefulSet":
                self.replace_stuck_pods(item, settle=True)
        return self._result(results)

    def _deployment_template(self, live, info):
        revision = str(info.get("revision") or "")
        if not revision or (live["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return None
        match = live["spec"]["selector"].get("matchLabels") or {}
        selector = ",".join("{0}={1}".format(k, v) for k, v in sorted(match.items()))
        uid = live["metadata"].get("uid")
        for rs in self._list(self.resources.path("apps/v1", "ReplicaSet", live["metadata"]["namespace"]), selector):
            owners = [r.get("uid") for r in (rs["metadata"].get("ownerReferences") or [])]
            if uid not in owners:
                continue
            annotations = rs["metadata"].get("annotations") or {}
            history = (annotations.get(REVISION_HISTORY_ANNOTATION) or "").split(",")
            if annotations.get(REVISION_ANNOTATION) == revision or revision in history:
                template = copy.deepcopy(rs["spec"]["template"])
                (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
                return template
        raise GenaiStackError("Cannot roll back Deployment {0}: no ReplicaSet holds revision {1} any more".format(
            live["metadata"]["name"], revision))

    def _statefulset_template(self, live, info):
        revision = info.get("revision")
        if not revision or (live.get("status") or {}).get("updateRevision") == revision:
            return None
        path = self.resources.path("apps/v1", "ControllerRevision", live["metadata"]["namespace"], revision)
        controller_revision = self._get(path)
        if controller_revision is None:
            raise GenaiStackError("Cannot roll back StatefulSet {0}: ControllerRevision {1} is gone".format(
                live["metadata"]["name"], revision))
        template = copy.deepcopy(((controller_revision.get("data") or {}).get("spec") or {}).get("template"))
        if not template:
            raise GenaiStackError("ControllerRevision {0} holds no pod template".format(revision))
        template.pop("$patch", None)
        return template

    # ---------------------------------------------------------------------------------------
    # diff

    def _diff(self, item, before, after):
        if not self.want_diff:
            return
        hide = self.params.get("hide_values")
        self.diffs.append({
            "before_header": "{0} (live)".format(_header(item.kind, item.namespace, item.name)),
            "after_header": "{0} ({1})".format(
                _header(item.kind, item.namespace, item.name), "dry run" if self.dry_run else "applied"),
            "before": objects.mask(before, hide, reference=after) or {},
            "after": objects.mask(after, hide, reference=before) or {},
        })

    def _diff_pruned(self, obj):
        if not self.want_diff:
            return
        metadata = obj.get("metadata") or {}
        self.diffs.append({
            "before_header": "{0} (live)".format(_header(obj["kind"], metadata.get("namespace"), metadata.get("name"))),
            "after_header": "{0} (pruned)".format(_header(obj["kind"], metadata.get("namespace"), metadata.get("name"))),
            "before": objects.mask(obj, self.params.get("hide_values")),
            "after": {},
        })


# -------------------------------------------------------------------------------------------
# helpers


def revision_of(live):
    """What state=rollback needs to return a Deployment/StatefulSet to its state before this run."""
    metadata = live.get("metadata") or {}
    if live.get("kind") == "StatefulSet":
        revision = (live.get("status") or {}).get("updateRevision")
    else:
        revision = (metadata.get("annotations") or {}).get(REVISION_ANNOTATION)
    return {"kind": live.get("kind"), "name": metadata.get("name"), "namespace": metadata.get("namespace"),
            "revision": revision}


def _claim_of(claim, statefulsets, namespace):
    for item in statefulsets:
        if item.namespace != namespace:
            continue
        for template in (item.desired.get("spec") or {}).get("volumeClaimTemplates") or []:
            prefix = "{0}-{1}-".format((template.get("metadata") or {}).get("name"), item.name)
            if claim and claim.startswith(prefix) and claim[len(prefix):].isdigit():
                return True
    return False


PART_OF = "app.kubernetes.io/part-of"


def _other_system(item):
    """The system (part-of label) of the live object when it is not the one of the definition."""
    theirs = ((item.live or {}).get("metadata") or {}).get("labels") or {}
    ours = (item.desired.get("metadata") or {}).get("labels") or {}
    if theirs.get(PART_OF) and ours.get(PART_OF) and theirs[PART_OF] != ours[PART_OF]:
        return theirs[PART_OF]
    return None


def _header(kind, namespace, name):
    return "{0} {1}/{2}".format(kind, namespace, name) if namespace else "{0} {1}".format(kind, name)


def _object_result(obj, action):
    metadata = obj.get("metadata") or {}
    return {"kind": obj.get("kind"), "name": metadata.get("name"), "namespace": metadata.get("namespace"),
            "action": action}


def _message(answer):
    if isinstance(answer, dict):
        return answer.get("message") or answer.get("reason") or str(answer)[:300]
    return str(answer)[:300]


def _cause_field(answer):
    for cause in ((answer or {}).get("details") or {}).get("causes") or []:
        if cause.get("field"):
            return cause["field"]
    return None


def _refusal(item, field, reason, message, remedy):
    return {"component": item.component, "kind": item.kind, "name": item.name, "namespace": item.namespace,
            "field": field, "reason": reason, "message": message, "remedy": remedy}


def _pod_security_refusal(item, enforced, warning, field="spec.template.spec"):
    return _refusal(
        item, field, "forbidden by PodSecurity",
        "{0}: {1} {2}: its pods would be refused by PodSecurity {3} of namespace {4}: {5}".format(
            item.component, item.kind, item.name, enforced, item.namespace, warning),
        "set the component's security_context (run_as_non_root, a non-root run_as_user) so that its pods "
        "meet the {0} level, or lower genai_pod_security_level for this namespace".format(enforced))


def _refusal_from_answer(item, status, answer):
    message = _message(answer)
    field = _cause_field(answer)
    if status == 403:
        reason, remedy = "forbidden", ("the API server or an admission controller (PodSecurity, quota, RBAC) refused "
                                       "the object: change the component's settings or the policy named in the message")
    elif status == 409:
        reason, remedy = "conflict", ("another field manager owns the field: set force_conflicts or remove the other "
                                      "manager's ownership")
    elif status == 404:
        reason, remedy = "not found", "create what the message names first (a namespace, a CRD)"
    else:
        reason, remedy = "invalid", "correct the value the message names in the component's record"
    return _refusal(item, field, reason, "{0}: {1} {2}: HTTP {3}: {4}".format(
        item.component, item.kind, item.name, status, message), remedy)


def refusal_message(refusals):
    """One failure message naming every refused object, its component, field and remedy."""
    lines = ["The API server would refuse {0} object(s); nothing was applied:".format(len(refusals))]
    for refusal in refusals:
        lines.append("- {0} (field {1}; {2}). Remedy: {3}".format(
            refusal["message"], refusal.get("field") or "-", refusal["reason"], refusal["remedy"]))
    return "\n".join(lines)


def without_values(result, definitions, hidden="<hidden>"):
    """``result`` with every value of the definitions' Secrets blanked out of its strings.

    For ``hide_values``: the API server's refusal of a Secret names the object, the field and
    the reason, but a message may echo what it refused; the task's no_log hides the whole
    result, so the message shown instead must hold no value. Values are matched as given
    (``stringData``), as base64 (``data``) and decoded, longest first.
    """
    import base64  # pylint: disable=import-outside-toplevel

    values = set()
    for definition in definitions or []:
        if not isinstance(definition, dict) or definition.get("kind") != "Secret":
            continue
        for key in ("data", "stringData"):
            for value in (definition.get(key) or {}).values():
                if value in (None, ""):
                    continue
                values.add(str(value))
                if key == "data":
                    try:
                        values.add(base64.b64decode(str(value), validate=True).decode("utf-8"))
                    except (ValueError, TypeError, UnicodeDecodeError):
                        pass
    values = sorted((v for v in values if v), key=len, reverse=True)

    def scrub(value):
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for secret in values:
                value = value.replace(secret, hidden)
        return value

    return scrub(result)

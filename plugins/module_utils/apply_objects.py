# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions over Kubernetes objects (dicts) used by genai.stack.apply.

Comparison of a live object with a server-side apply dry-run answer, field ownership read
from ``metadata.managedFields``, the fields Kubernetes refuses to change in place, quantity
arithmetic for volume sizes, and masking of Secret values for results and ``--diff``.
No function here talks to the API server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.genai.stack.plugins.module_utils.render import MANAGED_BY

COMPONENT_LABEL = "app.kubernetes.io/name"
HIDDEN = "<hidden>"
HIDDEN_CHANGED = "<hidden, changed>"

# metadata the API server maintains; never part of a comparison or a diff
SERVER_METADATA = ("managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink")

# Fields the API server refuses to change in place, per kind (dotted paths into the object),
# from the validation of each kind (k8s.io/kubernetes pkg/apis/*/validation): StatefulSet
# updates may only change replicas, template, updateStrategy, ordinals,
# persistentVolumeClaimRetentionPolicy and minReadySeconds.
IMMUTABLE_FIELDS = {
    "StatefulSet": ("spec.volumeClaimTemplates", "spec.selector", "spec.serviceName", "spec.podManagementPolicy"),
    "Deployment": ("spec.selector",),
    "DaemonSet": ("spec.selector",),
    "ReplicaSet": ("spec.selector",),
    "Service": ("spec.clusterIP", "spec.clusterIPs", "spec.ipFamilies"),
    "Job": ("spec.template", "spec.selector", "spec.completionMode"),
    "PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.volumeMode",
                              "spec.resources.requests.storage"),
    "ConfigMap": ("data", "binaryData"),
    "Secret": ("data", "stringData", "type"),
    "RoleBinding": ("roleRef",),
}

# What a user can do about each immutable field (module options first, then by hand).
REMEDIES = {
    ("StatefulSet", "spec.volumeClaimTemplates"): (
        "to grow the volumes set expand_volumes (genai_expand_volumes in an inventory: grows each PVC in place "
        "when its StorageClass allows expansion) and recreate_statefulsets (genai_recreate_statefulsets); for any "
        "other change set recreate_statefulsets (the StatefulSet is deleted "
        "with propagationPolicy=Orphan and re-created; pods and PVCs stay), or run "
        "`kubectl delete statefulset {name} -n {namespace} --cascade=orphan` and converge again"),
    ("StatefulSet", None): (
        "set recreate_statefulsets (genai_recreate_statefulsets in an inventory: the StatefulSet is deleted with "
        "propagationPolicy=Orphan and re-created; pods and PVCs stay), or run "
        "`kubectl delete statefulset {name} -n {namespace} --cascade=orphan` and converge again"),
    ("Deployment", "spec.selector"): (
        "selector labels never change in genai.stack; the Deployment was created by something else: delete it "
        "(`kubectl delete deployment {name} -n {namespace}`, its pods stop) and converge again"),
    ("Service", None): (
        "delete the Service (`kubectl delete service {name} -n {namespace}`; clients lose it until it is "
        "re-created) and converge again"),
    ("Job", None): (
        "a Job's pod template cannot change: delete the Job (`kubectl delete job {name} -n {namespace}`) "
        "and converge again"),
    ("PersistentVolumeClaim", "spec.resources.requests.storage"): (
        "set expand_volumes (genai_expand_volumes in an inventory) to grow the claim in place (its StorageClass "
        "must allow volume expansion); a claim never shrinks"),
    ("Secret", None): (
        "a Secret's type, and the data of an immutable Secret, cannot change: keep them as they are; to replace "
        "the Secret, first save its values (`kubectl get secret {name} -n {namespace} -o yaml`): a generated "
        "password that a database already holds is lost with the Secret; then delete it and converge again "
        "with the saved values given as `{{value: ...}}` in the inventory"),
    ("PersistentVolumeClaim", None): (
        "a bound claim keeps its class, access modes and volume: create a claim under a new name and move the "
        "data, or delete this one (its data may be lost)"),
}
DEFAULT_REMEDY = ("delete the {kind} (`kubectl delete {kind_lower} {name} -n {namespace}`) and converge again, "
                  "or keep the field as it is")

_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
_SUFFIXES = {
    "": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60, "m": 0.001,
}


def quantity(text):
    """A Kubernetes quantity ('1Gi', '500M', '2') as a number of base units; None if unreadable."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in _SUFFIXES:
        return None
    try:
        return float(match.group(1)) * _SUFFIXES[match.group(2)]
    except ValueError:
        return None


def config_map_references(pod_spec):
    """[(ConfigMap name, field)] a pod spec needs to start: volumes (projected too), envFrom and
    env valueFrom of every container, references marked optional left out."""
    found = []
    for index, volume in enumerate((pod_spec or {}).get("volumes") or []):
        ref = (volume or {}).get("configMap")
        if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
            found.append((ref["name"], "spec.volumes[{0}].configMap".format(index)))
        for source in ((volume or {}).get("projected") or {}).get("sources") or []:
            ref = (source or {}).get("configMap")
            if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                found.append((ref["name"], "spec.volumes[{0}].projected".format(index)))
    for group in ("initContainers", "containers"):
        for index, container in enumerate((pod_spec or {}).get(group) or []):
            for entry in (container or {}).get("envFrom") or []:
                ref = (entry or {}).get("configMapRef")
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    found.append((ref["name"], "spec.{0}[{1}].envFrom".format(group, index)))
            for entry in (container or {}).get("env") or []:
                ref = ((entry or {}).get("valueFrom") or {}).get("configMapKeyRef")
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    found.append((ref["name"], "spec.{0}[{1}].env".format(group, index)))
    return found


def get_path(obj, dotted):
    """The value at a dotted path ('spec.selector'), or None."""
    value = obj
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def set_path(obj, dotted, value):
    parts = dotted.split(".")
    target = obj
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def is_subset(desired, live):
    """True when every field given in ``desired`` has the same value in ``live``.

    ``live`` may hold more (server defaults, status). Lists must have the same length and
    match element by element; numbers and quantities compare as strings when types differ.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(is_subset(value, live.get(key)) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(live, list) or len(desired) != len(live):
            return False
        return all(is_subset(mine, theirs) for mine, theirs in zip(desired, live))
    if desired is None:
        return live is None or live == {} or live == []
    if isinstance(desired, bool) or isinstance(live, bool):
        return isinstance(desired, bool) and isinstance(live, bool) and desired == live
    if desired == live:
        return True
    if isinstance(desired, (int, float, str)) and isinstance(live, (int, float, str)):
        left, right = quantity(desired), quantity(live)
        return left is not None and left == right
    return False


def comparable(obj):
    """The object without what the server maintains (status, resourceVersion, managedFields...)."""
    if not obj:
        return obj
    result = copy.deepcopy(obj)
    result.pop("status", None)
    metadata = result.get("metadata") or {}
    for key in SERVER_METADATA:
        metadata.pop(key, None)
    return result


def same_object(live, other):
    """True when two versions of an object differ only in server-maintained fields."""
    return comparable(live) == comparable(other)


def component_of(obj):
    metadata = obj.get("metadata") or {}
    return (metadata.get("labels") or {}).get(COMPONENT_LABEL) or metadata.get("name")


def manages(obj, field_manager, operation="Apply"):
    """True when ``field_manager`` has an entry with ``operation`` in the object's managedFields."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == field_manager and entry.get("operation") == operation:
            return True
    return False


def owns_field(obj, field_manager, dotted, operation="Apply"):
    """True when ``field_manager`` owns the field at ``dotted`` (e.g. 'spec.replicas')."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != field_manager or entry.get("operation") != operation:
            continue
        fields = entry.get("fieldsV1") or {}
        for part in dotted.split("."):
            fields = fields.get("f:" + part) if isinstance(fields, dict) else None
            if fields is None:
                break
        else:
            return True
    return False


def immutable_changes(kind, desired, live):
    """The immutable fields of ``kind`` whose desired value differs from the live one."""
    changes = []
    for field in IMMUTABLE_FIELDS.get(kind, ()):
        wanted = get_path(desired, field)
        if wanted is None:
            continue
        current = get_path(live, field)
        if current is None and field in ("spec.clusterIP", "spec.clusterIPs", "spec.volumeName"):
            continue
        if not is_subset(wanted, current):
            changes.append(field)
    return changes


def storage_growth_only(desired_templates, live_templates):
    """For StatefulSet volumeClaimTemplates: {template name: (live size, desired size)} when the
    only difference is a larger storage request, else None."""
    if not isinstance(desired_templates, list) or not isinstance(live_templates, list):
        return None
    if len(desired_templates) != len(live_templates):
        return None
    growth = {}
    for wanted, current in zip(desired_templates, live_templates):
        wanted = copy.deepcopy(wanted)
        wanted_size = get_path(wanted, "spec.resources.requests.storage")
        current_size = get_path(current, "spec.resources.requests.storage")
        if wanted_size is not None:
            wanted["spec"]["resources"]["requests"].pop("storage")
        if not is_subset(wanted, current):
            return None
        if wanted_size is None or is_subset(wanted_size, current_size):
            continue
        left, right = quantity(wanted_size), quantity(current_size)
        if left is None or right is None or left < right:
            return None
        growth[(current.get("metadata") or {}).get("name")] = (current_size, wanted_size)
    return growth or None


def remedy(kind, field, name, namespace):
    text = REMEDIES.get((kind, field)) or REMEDIES.get((kind, None)) or DEFAULT_REMEDY
    return text.format(kind=kind, kind_lower=kind.lower(), name=name, namespace=namespace)


def mask(obj, hide_values=False, reference=None):
    """A copy fit for results and --diff: Secret values (and every ConfigMap value with
    ``hide_values``) replaced by '<hidden>', or '<hidden, changed>' when they differ from
    ``reference`` (the other side of the diff); server metadata and status removed."""
    if obj is None:
        return None
    result = comparable(obj)
    kind = result.get("kind")
    annotations = (result.get("metadata") or {}).get("annotations") or {}
    if kind == "Secret" or hide_values:
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    if kind == "Secret" or (hide_values and kind == "ConfigMap"):
        other = reference or {}
        for key in ("data", "stringData", "binaryData"):
            values = result.get(key)
            if not isinstance(values, dict):
                continue
            theirs = other.get(key) if isinstance(other.get(key), dict) else {}
            result[key] = {
                name: HIDDEN if theirs.get(name) == value else HIDDEN_CHANGED
                for name, value in values.items()}
    return result


def ours(obj):
    """True for objects labelled as rendered by genai.stack."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/managed-by") == MANAGED_BY


def controlled(obj):
    """True when another object controls this one (a Job of a CronJob, a PVC of a StatefulSet...)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return True
    return False


def pod_stuck_reason(pod, reasons):
    """The waiting reason of a container of ``pod`` that is in ``reasons``, or None."""
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or []:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in reasons:
                return waiting["reason"]
    return None


def pod_ready(pod):
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False

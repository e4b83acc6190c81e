# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each kind lives in the Kubernetes API, without discovery for built-in kinds.

``KINDS`` maps (apiVersion, kind) to (resource plural, namespaced) for the built-in kinds the
collection renders or is likely to be handed as extra manifests; the values are those of the
API server's discovery documents (``kubectl api-resources``). Any other kind (a CRD such as
cert-manager's Certificate) is looked up once per run in ``/apis/<group>/<version>``.

``PRUNE_KINDS`` are the kinds genai.stack renders (``OPTIONAL_PRUNE_KINDS`` among them: kinds of
a CRD, skipped where it is not installed), in the order they are deleted when pruned
(workloads first, so their pods stop before their configuration goes). ``KEPT_KINDS`` hold
data (PVCs) or generated passwords (Secrets) and are only pruned when purge is asked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError
from ansible_collections.genai.stack.plugins.module_utils.k8s_client import quote_path

KINDS = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "PersistentVolume"): ("persistentvolumes", False),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "ControllerRevision"): ("controllerrevisions", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("autoscaling/v1", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("policy/v1", "PodDisruptionBudget"): ("poddisruptionbudgets", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("networking.k8s.io/v1", "IngressClass"): ("ingressclasses", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("storage.k8s.io/v1", "StorageClass"): ("storageclasses", False),
    ("scheduling.k8s.io/v1", "PriorityClass"): ("priorityclasses", False),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
}

# (apiVersion, kind) in deletion order
PRUNE_KINDS = (
    ("networking.k8s.io/v1", "Ingress"),
    ("cert-manager.io/v1", "Issuer"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("batch/v1", "CronJob"),
    ("batch/v1", "Job"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ConfigMap"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("v1", "ServiceAccount"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
)
KEPT_KINDS = ("PersistentVolumeClaim", "Secret")
# Rendered only on clusters that serve them (cert-manager's Issuer of TLS mode self_signed):
# a cluster without the CRD holds none to prune.
OPTIONAL_PRUNE_KINDS = (("cert-manager.io/v1", "Issuer"),)

# Created before everything else in one call: what other objects live in or refer to.
FIRST_KINDS = ("Namespace", "CustomResourceDefinition", "StorageClass", "PriorityClass")


def api_prefix(api_version):
    """``/api/v1`` for the core group, ``/apis/<group>/<version>`` otherwise."""
    if "/" in api_version:
        return "/apis/" + api_version
    return "/api/" + api_version


class ResourceMap(object):
    """(apiVersion, kind) -> (plural, namespaced): the static table, then discovery, cached."""

    def __init__(self, api):
        self.api = api
        self.discovered = {}

    def lookup(self, api_version, kind):
        key = (api_version, kind)
        if key in KINDS:
            return KINDS[key]
        if key not in self.discovered:
            status, answer, _warnings = self.api.call("GET", api_prefix(api_version))
            if status != 200 or not isinstance(answer, dict):
                raise GenaiStackError(
                    "The API server does not serve {0} (GET {1}: HTTP {2}); is its CustomResourceDefinition "
                    "installed?".format(api_version, api_prefix(api_version), status))
            for resource in answer.get("resources") or []:
                if "/" not in resource.get("name", "") and resource.get("kind"):
                    self.discovered[(api_version, resource["kind"])] = (resource["name"], bool(resource.get("namespaced")))
            if key not in self.discovered:
                raise GenaiStackError("The API server serves no kind {0} in {1}".format(kind, api_version))
        return self.discovered[key]

    def path(self, api_version, kind, namespace=None, name=None):
        """API path of a collection (name None) or of one object."""
        plural, namespaced = self.lookup(api_version, kind)
        path = api_prefix(api_version)
        if namespaced:
            if not namespace:
                raise GenaiStackError("{0} {1} needs a namespace".format(kind, name or ""))
            path += "/namespaces/" + quote_path(namespace)
        path += "/" + plural
        if name:
            path += "/" + quote_path(name)
        return path

    def namespaced(self, api_version, kind):
        return self.lookup(api_version, kind)[1]

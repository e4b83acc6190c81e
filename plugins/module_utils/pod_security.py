# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Pod Security Standards, evaluated on a pod template without an API server.

Used by the preflight of genai.stack.apply for a namespace that does not exist yet: the API
server cannot say what PodSecurity admission of that namespace will refuse, so the engine
asks this module instead. Where the namespace exists the engine keeps relying on the API
server's own "would violate PodSecurity" warnings (the real admission).

Source: "Pod Security Standards",
https://kubernetes.io/docs/concepts/security/pod-security-standards/ (version "latest" =
the v1.34 rules), and its implementation, k8s.io/pod-security-admission ``policy/check_*.go``.
Each check below carries the Kubernetes check ID (``runAsNonRoot``, ``capabilities_restricted``,
...) and produces the reason and detail words the API server uses, so a finding reads as
``runAsNonRoot != true (pod or container "redis" must set securityContext.runAsNonRoot=true)``.

Levels: ``privileged`` allows everything; ``baseline`` runs the baseline checks;
``restricted`` runs the baseline checks and the restricted ones, the restricted check
replacing its baseline counterpart where Kubernetes does (``OVERRIDES``). A ``version`` (the
``pod-security.kubernetes.io/enforce-version`` label: ``latest`` or ``v1.N``) older than a
rule's first version leaves that rule out (allowed sysctls, SELinux types, ``hostProcess``).
Not modelled: the relaxation for user-namespaced pods (``hostUsers: false``, behind the
API server's UserNamespacesPodSecurityStandards feature gate) and namespace or user
exemptions configured on the API server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LEVELS = ("privileged", "baseline", "restricted")
LATEST = (1, 34)

# pod templates of each workload kind (dotted path to the PodTemplateSpec; "" = the object)
TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}

# capabilities_baseline: what a container may add (the default set of container runtimes)
BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))
# sysctls: the safe set, by the version that allowed each
ALLOWED_SYSCTLS = (
    ((1, 0), ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
              "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start")),
    ((1, 27), ("net.ipv4.ip_local_reserved_ports",)),
    ((1, 29), ("net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
               "net.ipv4.tcp_keepalive_probes")),
    ((1, 32), ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")),
)
# seLinuxOptions: the types a pod may ask for, by version
ALLOWED_SELINUX_TYPES = (
    ((1, 0), ("", "container_t", "container_init_t", "container_kvm_t")),
    ((1, 31), ("container_engine_t",)),
)
# restrictedVolumes: the only volume sources restricted allows (image volumes since v1.33)
RESTRICTED_VOLUME_SOURCES = (
    ((1, 0), ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
              "projected", "secret")),
    ((1, 33), ("image",)),
)
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


# ---------------------------------------------------------------------------------------------
# helpers


def parse_version(version):
    """``latest``/empty -> LATEST; ``v1.N`` -> (1, N). Anything else raises ValueError."""
    if not version or version == "latest":
        return LATEST
    match = re.match(r"^v1\.(\d+)$", str(version))
    if not match:
        raise ValueError("PodSecurity version {0!r} is not \"latest\" or \"v1.N\"".format(version))
    return min((1, int(match.group(1))), LATEST)


def _allowed(table, version):
    return frozenset(value for since, values in table if version >= since for value in values)


def _containers(spec):
    for key in CONTAINER_LISTS:
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _context(obj):
    return (obj or {}).get("securityContext") or {}


def _quote(names):
    return ", ".join('"{0}"'.format(name) for name in names)


def _plural(singular, plural, count):
    return singular if count == 1 else plural


def _named(kind, names):
    """``container "a"`` / ``containers "a", "b"``, as the API server words it."""
    return "{0} {1}".format(_plural(kind, kind + "s", len(names)), _quote(names))


def _setters(pod_bad, containers):
    setters = ["pod"] if pod_bad else []
    if containers:
        setters.append(_named("container", containers))
    return " and ".join(setters)


def _windows(spec):
    return ((spec.get("os") or {}).get("name")) == "windows"


# ---------------------------------------------------------------------------------------------
# baseline checks: each takes (pod metadata, pod spec, version) and returns None or
# (reason, detail), the API server's ForbiddenReason and ForbiddenDetail


def host_process(metadata, spec, version):
    pod = (_context(spec).get("windowsOptions") or {}).get("hostProcess") is True
    bad = [c.get("name") for c in _containers(spec)
           if (_context(c).get("windowsOptions") or {}).get("hostProcess") is True]
    if pod or bad:
        return "hostProcess", "{0} must not set securityContext.windowsOptions.hostProcess=true".format(
            _setters(pod, bad))
    return None


def host_namespaces(metadata, spec, version):
    used = sorted(key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True)
    if used:
        return "host namespaces", ", ".join("{0}=true".format(key) for key in used)
    return None


def privileged(metadata, spec, version):
    bad = [c.get("name") for c in _containers(spec) if _context(c).get("privileged") is True]
    if bad:
        return "privileged", "{0} must not set securityContext.privileged=true".format(_named("container", bad))
    return None


def capabilities_baseline(metadata, spec, version):
    bad, added = [], set()
    for container in _containers(spec):
        extra = [cap for cap in ((_context(container).get("capabilities") or {}).get("add") or [])
                 if cap not in BASELINE_CAPABILITIES]
        if extra:
            bad.append(container.get("name"))
            added.update(extra)
    if bad:
        return "non-default capabilities", "{0} must not include {1} in securityContext.capabilities.add".format(
            _named("container", bad), _quote(sorted(added)))
    return None


def host_path_volumes(metadata, spec, version):
    bad = [v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if bad:
        return "hostPath volumes", _named("volume", bad)
    return None


def host_ports(metadata, spec, version):
    bad, ports = [], set()
    for container in _containers(spec):
        used = [p.get("hostPort") for p in container.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if used:
            bad.append(container.get("name"))
            ports.update(str(port) for port in used)
    if bad:
        return "hostPort", "{0} {1} {2} {3}".format(
            _named("container", bad), _plural("uses", "use", len(bad)),
            _plural("hostPort", "hostPorts", len(ports)), ", ".join(sorted(ports)))
    return None


def app_armor_profile(metadata, spec, version):
    forbidden = ['{0}="{1}"'.format(key, value)
                 for key, value in ((metadata or {}).get("annotations") or {}).items()
                 if key.startswith(APPARMOR_ANNOTATION) and value and value != "runtime/default"
                 and not str(value).startswith("localhost/")]
    profile_type = (_context(spec).get("appArmorProfile") or {}).get("type")
    pod = bool(profile_type) and profile_type not in ("RuntimeDefault", "Localhost")
    bad = [c.get("name") for c in _containers(spec)
           if (_context(c).get("appArmorProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost")]
    if pod or bad:
        forbidden.append('{0} must not set AppArmor profile type to "Unconfined"'.format(
            _setters(pod, bad)))
    if forbidden:
        forbidden.sort()
        return _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(forbidden)), \
            ", ".join(forbidden)
    return None


def se_linux_options(metadata, spec, version):
    allowed = _allowed(ALLOWED_SELINUX_TYPES, version)
    bad_types, set_fields = set(), set()

    def valid(options):
        ok = True
        if (options.get("type") or "") not in allowed:
            bad_types.add(options.get("type"))
            ok = False
        for field in ("user", "role"):
            if options.get(field):
                set_fields.add(field)
                ok = False
        return ok

    pod_options = _context(spec).get("seLinuxOptions")
    pod = bool(pod_options) and not valid(pod_options)
    bad = [c.get("name") for c in _containers(spec)
           if _context(c).get("seLinuxOptions") and not valid(_context(c)["seLinuxOptions"])]
    if pod or bad:
        data = []
        if bad_types:
            data.append("{0} {1}".format(_plural("type", "types", len(bad_types)), _quote(sorted(bad_types))))
        data.extend("{0} may not be set".format(field) for field in ("user", "role") if field in set_fields)
        return "seLinuxOptions", "{0} set forbidden securityContext.seLinuxOptions: {1}".format(
            _setters(pod, bad), "; ".join(data))
    return None


def proc_mount(metadata, spec, version):
    bad = [c.get("name") for c in _containers(spec) if _context(c).get("procMount") not in (None, "", "Default")]
    if bad:
        values = sorted({_context(c).get("procMount") for c in _containers(spec) if c.get("name") in bad})
        return "procMount", "{0} must not set securityContext.procMount to {1}".format(
            _named("container", bad), _quote(values))
    return None


def seccomp_profile_baseline(metadata, spec, version):
    pod = (_context(spec).get("seccompProfile") or {}).get("type") == "Unconfined"
    bad = [c.get("name") for c in _containers(spec)
           if (_context(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if pod or bad:
        return "seccompProfile", '{0} must not set securityContext.seccompProfile.type to "Unconfined"'.format(
            _setters(pod, bad))
    return None


def sysctls(metadata, spec, version):
    allowed = _allowed(ALLOWED_SYSCTLS, version)
    bad = [s.get("name") for s in _context(spec).get("sysctls") or []
           if isinstance(s, dict) and s.get("name") not in allowed]
    if bad:
        return "forbidden sysctls", ", ".join(str(name) for name in bad)
    return None


# ---------------------------------------------------------------------------------------------
# restricted checks


def restricted_volumes(metadata, spec, version):
    allowed = _allowed(RESTRICTED_VOLUME_SOURCES, version)
    bad, types = [], set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        sources = [key for key in volume if key != "name"]
        wrong = [key for key in sources if key not in allowed]
        if wrong or not sources:
            bad.append(volume.get("name"))
            types.update(wrong)
    if bad:
        return "restricted volume types", "{0} {1} restricted volume {2} {3}".format(
            _named("volume", bad), _plural("uses", "use", len(bad)),
            _plural("type", "types", len(types)), _quote(sorted(types)))
    return None


def allow_privilege_escalation(metadata, spec, version):
    if _windows(spec):
        return None
    bad = [c.get("name") for c in _containers(spec) if _context(c).get("allowPrivilegeEscalation") is not False]
    if bad:
        return "allowPrivilegeEscalation != false", "{0} must set securityContext.allowPrivilegeEscalation=false".format(
            _named("container", bad))
    return None


def run_as_non_root(metadata, spec, version):
    pod_value = _context(spec).get("runAsNonRoot")
    explicit = [c.get("name") for c in _containers(spec) if _context(c).get("runAsNonRoot") is False]
    if pod_value is False or explicit:
        return "runAsNonRoot != true", "{0} must not set securityContext.runAsNonRoot=false".format(
            _setters(pod_value is False, explicit))
    implicit = [c.get("name") for c in _containers(spec)
                if _context(c).get("runAsNonRoot") is None and pod_value is not True]
    if implicit:
        return "runAsNonRoot != true", "pod or {0} must set securityContext.runAsNonRoot=true".format(
            _named("container", implicit))
    return None


def run_as_user(metadata, spec, version):
    pod = _context(spec).get("runAsUser") == 0
    bad = [c.get("name") for c in _containers(spec) if _context(c).get("runAsUser") == 0]
    if pod or bad:
        return "runAsUser=0", "{0} must not set runAsUser=0".format(_setters(pod, bad))
    return None


def seccomp_profile_restricted(metadata, spec, version):
    if _windows(spec):
        return None
    valid = ("RuntimeDefault", "Localhost")
    pod_profile = _context(spec).get("seccompProfile")
    pod_bad = bool(pod_profile) and pod_profile.get("type") not in valid
    explicit, implicit, values = [], [], set()
    if pod_bad:
        values.add(str(pod_profile.get("type")))
    for container in _containers(spec):
        profile = _context(container).get("seccompProfile")
        if profile:
            if profile.get("type") not in valid:
                explicit.append(container.get("name"))
                values.add(str(profile.get("type")))
        elif not (pod_profile and not pod_bad):
            implicit.append(container.get("name"))
    if pod_bad or explicit:
        return "seccompProfile", "{0} must not set securityContext.seccompProfile.type to {1}".format(
            _setters(pod_bad, explicit), _quote(sorted(values)))
    if implicit:
        return "seccompProfile", 'pod or {0} must set securityContext.seccompProfile.type to "RuntimeDefault" ' \
            'or "Localhost"'.format(_named("container", implicit))
    return None


def capabilities_restricted(metadata, spec, version):
    if _windows(spec):
        return None
    missing, adding, added = [], [], set()
    for container in _containers(spec):
        capabilities = _context(container).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            missing.append(container.get("name"))
        extra = [cap for cap in capabilities.get("add") or [] if cap != "NET_BIND_SERVICE"]
        if extra:
            adding.append(container.get("name"))
            added.update(extra)
    details = []
    if missing:
        details.append('{0} must set securityContext.capabilities.drop=["ALL"]'.format(_named("container", missing)))
    if adding:
        details.append("{0} must not include {1} in securityContext.capabilities.add".format(
            _named("container", adding), _quote(sorted(added))))
    if details:
        return "unrestricted capabilities", "; ".join(details)
    return None


# restricted checks that replace a baseline check at the restricted level (OverrideCheckIDs)
OVERRIDES = {
    "capabilities_restricted": "capabilities_baseline",
    "restrictedVolumes": "hostPathVolumes",
    "seccompProfile_restricted": "seccompProfile_baseline",
}

# (check ID, level, first version, function): the Kubernetes check IDs in the API server's
# order (baseline checks, then restricted ones, each by ID), which is the order of its message
CHECKS = (
    ("appArmorProfile", "baseline", (1, 0), app_armor_profile),
    ("capabilities_baseline", "baseline", (1, 0), capabilities_baseline),
    ("hostNamespaces", "baseline", (1, 0), host_namespaces),
    ("hostPathVolumes", "baseline", (1, 0), host_path_volumes),
    ("hostPorts", "baseline", (1, 0), host_ports),
    ("hostProcess", "baseline", (1, 0), host_process),
    ("privileged", "baseline", (1, 0), privileged),
    ("procMount", "baseline", (1, 0), proc_mount),
    ("seLinuxOptions", "baseline", (1, 0), se_linux_options),
    ("seccompProfile_baseline", "baseline", (1, 19), seccomp_profile_baseline),
    ("sysctls", "baseline", (1, 0), sysctls),
    ("allowPrivilegeEscalation", "restricted", (1, 8), allow_privilege_escalation),
    ("capabilities_restricted", "restricted", (1, 22), capabilities_restricted),
    ("restrictedVolumes", "restricted", (1, 0), restricted_volumes),
    ("runAsNonRoot", "restricted", (1, 0), run_as_non_root),
    ("runAsUser", "restricted", (1, 23), run_as_user),
    ("seccompProfile_restricted", "restricted", (1, 19), seccomp_profile_restricted),
)


# ---------------------------------------------------------------------------------------------
# entry points


def pod_template(obj):
    """(pod metadata, pod spec) of a workload object, or None for a kind without pods.

    Kinds: Deployment, StatefulSet, DaemonSet, ReplicaSet, Job (``spec.template``), CronJob
    (``spec.jobTemplate.spec.template``) and a bare Pod (the object itself).
    """
    path = TEMPLATE_PATHS.get((obj or {}).get("kind"))
    if path is None:
        return None
    template = obj
    for key in path:
        template = (template or {}).get(key)
    template = template or {}
    return template.get("metadata") or {}, template.get("spec") or {}


def evaluate(level, version, metadata, spec):
    """Findings of one pod at a PodSecurity level, as the API server would name them.

    ``level``: privileged | baseline | restricted (anything else raises ValueError);
    ``version``: ``latest`` or ``v1.N``. Returns a list of (check ID, reason, detail), empty
    when the pod is allowed.
    """
    if level not in LEVELS:
        raise ValueError("PodSecurity level {0!r} is not one of {1}".format(level, ", ".join(LEVELS)))
    if level == "privileged":
        return []
    wanted = ("baseline",) if level == "baseline" else ("baseline", "restricted")
    version = parse_version(version)
    findings = []
    overridden = set(OVERRIDES.values()) if level == "restricted" else set()
    for check_id, check_level, since, check in CHECKS:
        if check_level not in wanted or version < since or check_id in overridden:
            continue
        found = check(metadata or {}, spec or {}, version)
        if found:
            findings.append((check_id, found[0], found[1]))
    return findings


def violation(level, version, findings):
    """The API server's warning for ``findings``: ``would violate PodSecurity "restricted:latest": ...``."""
    return 'would violate PodSecurity "{0}:{1}": {2}'.format(
        level, version or "latest", ", ".join("{0} ({1})".format(finding[1], finding[2]) for finding in findings))

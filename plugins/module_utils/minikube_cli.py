# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What genai.stack.minikube reads from and asks of the minikube command line.

Pure functions over minikube's output (unit-tested on recorded outputs, see
tests/unit/fixtures/minikube); the module runs the commands with ``run_command``.

Recorded from minikube v1.38.1 (tests/unit/fixtures/minikube/README.md):

- ``minikube status -p P -o json``: one JSON object for one node, a list for several, with
  Name, Host, Kubelet, APIServer, Kubeconfig, Worker. Its exit code is a bitmask: 1 host,
  2 cluster (kubelet or apiserver), 4 kubeconfig not running/configured; so a stopped
  profile exits 7 and still prints JSON. A profile that does not exist exits 85
  (ExGuestNotFound) and prints two CloudEvents lines, the first with the message
  'Profile "P" not found. Run "minikube profile list" to view all profiles.'.
- ``minikube addons list -p P -o json``: {"addon": {"Profile": "P", "Status": "enabled"|"disabled"}, ...};
  without an existing profile every addon maps to {} (so the keys are the addons minikube knows).
- ``minikube profile list -o json``: {"invalid": [...], "valid": [{"Name", "Status", "Config": {...}}]};
  a running profile's Status is "OK".
- ``minikube config defaults kubernetes-version -o json`` and ``... driver -o json``: JSON lists of
  the Kubernetes versions (newest first) and drivers this minikube supports.
- Refusals: ``X Exiting due to REASON_ID: message`` on stderr and an exit code per reason
  (minikube's pkg/minikube/reason/reason.go), e.g. RSRC_INSUFFICIENT_CORES 29,
  RSRC_INSUFFICIENT_REQ_MEMORY 23, DRV_UNSUPPORTED_OS 56, K8S_OLD_UNSUPPORTED 106, MK_USAGE 14,
  MK_ADDON_ENABLE 10. In JSON mode the same comes as a CloudEvent of type io.k8s.sigs.minikube.error
  with data.name = the reason ID and data.exitcode.
In JSON mode minikube may add CloudEvents lines ({"specversion": "1.0", ...}); they are skipped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.genai.stack.plugins.module_utils.errors import GenaiStackError

RUNNING = "running"
STOPPED = "stopped"
PAUSED = "paused"
DEGRADED = "degraded"  # host up, kubelet or apiserver not running
ABSENT = "absent"

EXIT_HOST_NOT_RUNNING = 1
EXIT_CLUSTER_NOT_RUNNING = 2
EXIT_KUBECONFIG_NOT_RUNNING = 4
EXIT_ALL_NOT_RUNNING = 7
EXIT_GUEST_NOT_FOUND = 85
NOT_FOUND_MARKERS = ('" not found', "There is no local cluster named", "Profile not found")
STATUS_FIELDS = ("Name", "Host", "Kubelet", "APIServer", "Kubeconfig", "Worker")


class MinikubeError(GenaiStackError):
    """A minikube command failed or printed something unreadable (details: cmd, rc, stdout, stderr)."""


def _json_documents(text):
    """JSON values in minikube's output: the whole text, else each line; CloudEvents dropped."""
    text = (text or "").strip()
    if not text:
        return []
    try:
        docs = [json.loads(text)]
    except ValueError:
        docs = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    continue
    return [d for d in docs if not (isinstance(d, dict) and "specversion" in d)]


def _event_messages(text):
    """Messages of the CloudEvents lines minikube prints in JSON mode (errors among them)."""
    messages = []
    for line in (text or "").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and "specversion" in doc:
            message = (doc.get("data") or {}).get("message")
            if message:
                messages.append(message.strip())
    return messages


def _nodes(stdout):
    for doc in _json_documents(stdout):
        nodes = doc if isinstance(doc, list) else [doc]
        nodes = [n for n in nodes if isinstance(n, dict) and "Host" in n]
        if nodes:
            return nodes
    return []


def parse_status(rc, stdout, stderr):
    """``minikube status -o json`` -> {exists, state, rc, status}.

    ``status`` is the control-plane node's entry ({} when the profile does not exist).
    """
    text = "{0}\n{1}".format(stdout or "", stderr or "")
    nodes = _nodes(stdout)
    if not nodes:
        if rc == EXIT_GUEST_NOT_FOUND or any(marker in text for marker in NOT_FOUND_MARKERS):
            return {"exists": False, "state": ABSENT, "rc": rc, "status": {}}
        if rc == EXIT_ALL_NOT_RUNNING and not text.strip():
            # nothing to report and nothing running: no machine for this profile
            return {"exists": False, "state": ABSENT, "rc": rc, "status": {}}
        detail = "; ".join(_event_messages(stdout)) or text.strip()[-800:] or "no output"
        raise MinikubeError("minikube status failed (rc={0}): {1}".format(rc, detail), rc=rc, stdout=stdout, stderr=stderr)
    control = next((n for n in nodes if not n.get("Worker")), nodes[0])
    status = {k: control[k] for k in STATUS_FIELDS if k in control}
    host, kubelet, apiserver = control.get("Host"), control.get("Kubelet"), control.get("APIServer")
    if host in ("Nonexistent", "None", None, ""):
        return {"exists": False, "state": ABSENT, "rc": rc, "status": status}
    if host != "Running":
        state = STOPPED
    elif apiserver == "Paused":
        state = PAUSED
    elif kubelet != "Running" or apiserver not in ("Running", "Irrelevant") or \
            control.get("Kubeconfig") not in ("Configured", "Irrelevant", None):
        state = DEGRADED
    else:
        state = RUNNING
    return {"exists": True, "state": state, "rc": rc, "status": status}


def parse_addons(stdout):
    """``minikube addons list -o json`` -> {addon: enabled}.

    Every addon minikube knows is a key; without a profile minikube maps each to {} (False here).
    """
    for doc in _json_documents(stdout):
        if isinstance(doc, dict) and doc and all(isinstance(v, dict) for v in doc.values()):
            return {name: value.get("Status") == "enabled" for name, value in sorted(doc.items())}
    raise MinikubeError("could not read the output of minikube addons list: {0!r}".format((stdout or "").strip()[-300:]),
                        stdout=stdout)


def parse_profile(stdout, profile):
    """The Config of ``profile`` in ``minikube profile list -o json`` ({} when it is not listed)."""
    for doc in _json_documents(stdout):
        if isinstance(doc, dict) and ("valid" in doc or "invalid" in doc):
            for entry in (doc.get("valid") or []) + (doc.get("invalid") or []):
                if isinstance(entry, dict) and entry.get("Name") == profile:
                    return entry.get("Config") or {}
    return {}


def parse_list(stdout):
    """A JSON list of strings in minikube's output (``config defaults ... -o json``); [] when none."""
    for doc in _json_documents(stdout):
        if isinstance(doc, list) and all(isinstance(item, str) for item in doc):
            return doc
    return []


REFUSAL = re.compile(r"Exiting due to ([A-Z][A-Z0-9_]+): ?(.*)")

# Which option a refusal is about, by the prefix of minikube's reason ID (pkg/minikube/reason).
REASON_OPTIONS = (
    ("RSRC_INSUFFICIENT_CORES", "cpus"),
    ("RSRC_", "memory"),  # RSRC_INSUFFICIENT_{REQ,SYS,CONTAINER}_MEMORY; storage has no option here
    ("DRV_", "driver"),
    ("PROVIDER_", "driver"),
    ("K8S_OLD_UNSUPPORTED", "kubernetes_version"),
    ("K8S_NEW_UNSUPPORTED", "kubernetes_version"),
    ("K8S_DOWNGRADE_UNSUPPORTED", "kubernetes_version"),
    ("MK_ADDON_", "addons"),
    ("SVC_ADDON_", "addons"),
    ("MK_RESERVED_PROFILE", "profile"),
    ("MK_USAGE", "extra_args"),
)


def parse_refusal(stdout, stderr):
    """(reason ID, message) of minikube's refusal in its output, (None, None) when it has none.

    Reads the CloudEvent of type ...error (JSON mode) or the ``Exiting due to ID: message`` line.
    """
    for line in (stdout or "").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and str(doc.get("type", "")).endswith(".error"):
            data = doc.get("data") or {}
            if data.get("name"):
                return data["name"], (data.get("message") or "").strip()
    for text in (stderr, stdout):
        match = REFUSAL.search(text or "")
        if match:
            return match.group(1), match.group(2).strip()
    return None, None


def refused_option(reason):
    """The module option a minikube reason ID is about (``cpus`` for RSRC_INSUFFICIENT_CORES), or None."""
    for prefix, option in REASON_OPTIONS:
        if reason and reason.startswith(prefix):
            return option
    return None


def unknown_versions(wanted, known):
    """[wanted] when the Kubernetes version ``wanted`` is not among ``known`` (minikube's list); else [].

    ``stable`` and ``latest`` are minikube's aliases and always known; the leading v is optional.
    """
    if not wanted or wanted in ("stable", "latest") or not known:
        return []
    return [] if _version(wanted) in {_version(v) for v in known} else [wanted]


def kube_context(kubeconfig, profile):
    """{kube_context, api_server} of the context named ``profile`` in a parsed kubeconfig ({} if absent)."""
    contexts = {c.get("name"): c.get("context") or {} for c in (kubeconfig or {}).get("contexts") or []}
    if profile not in contexts:
        return {}
    clusters = {c.get("name"): c.get("cluster") or {} for c in (kubeconfig or {}).get("clusters") or []}
    server = clusters.get(contexts[profile].get("cluster"), {}).get("server")
    return {"kube_context": profile, "api_server": server}


_MEMORY = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_MEMORY_FACTORS = {"": 1, "m": 1, "k": 1.0 / 1024, "g": 1024, "t": 1024 * 1024}


def memory_mb(value):
    """Minikube's memory notation (4096, 4096mb, 4g, 4GiB) in MB; None for 'max'/'no-limit'/unreadable."""
    if value is None:
        return None
    match = _MEMORY.match(str(value))
    if not match:
        return None
    return int(int(match.group(1)) * _MEMORY_FACTORS[match.group(2).lower()])


def _version(value):
    return str(value or "").strip().lstrip("v")


def drift(desired, config):
    """Warnings for settings of an existing profile that differ from the options.

    ``minikube start`` cannot change them in place, so they are reported, not applied.
    """
    if not config:
        return []
    profile = desired["profile"]
    warnings = []

    def warn(option, current, wanted):
        warnings.append(
            "Profile {0} has {1}={2}, not {3}; minikube applies {1} only when it creates a profile "
            "(run with state=absent, then state=started, to recreate it)".format(profile, option, current, wanted))

    if desired.get("driver") and config.get("Driver") and config["Driver"] != desired["driver"]:
        warn("driver", config["Driver"], desired["driver"])
    if desired.get("cpus") and config.get("CPUs") and int(config["CPUs"]) != int(desired["cpus"]):
        warn("cpus", config["CPUs"], desired["cpus"])
    wanted_memory = memory_mb(desired.get("memory"))
    if wanted_memory and config.get("Memory") and int(config["Memory"]) != wanted_memory:
        warn("memory", "{0}mb".format(config["Memory"]), desired["memory"])
    current_version = (config.get("KubernetesConfig") or {}).get("KubernetesVersion")
    wanted_version = desired.get("kubernetes_version")
    if wanted_version and wanted_version not in ("stable", "latest") and current_version:
        if _version(current_version) != _version(wanted_version):
            warn("kubernetes_version", current_version, wanted_version)
    return warnings


def start_command(desired, with_addons):
    cmd = [desired["minikube_path"], "start", "-p", desired["profile"]]
    if desired.get("driver"):
        cmd.append("--driver={0}".format(desired["driver"]))
    if desired.get("cpus"):
        cmd.append("--cpus={0}".format(desired["cpus"]))
    if desired.get("memory"):
        cmd.append("--memory={0}".format(desired["memory"]))
    if desired.get("kubernetes_version"):
        cmd.append("--kubernetes-version={0}".format(desired["kubernetes_version"]))
    cmd.append("--wait=all")
    if desired.get("wait_timeout"):
        cmd.append("--wait-timeout={0}s".format(desired["wait_timeout"]))
    if with_addons:
        cmd.extend("--addons={0}".format(addon) for addon in desired.get("addons") or [])
    cmd.extend(desired.get("extra_args") or [])
    return cmd


def plan(desired, current):
    """The mutating commands (argv lists) that bring the profile to ``desired["state"]``.

    ``current`` is {"status": parse_status(...), "addons": parse_addons(...) or None when they
    could not be read}. A new profile gets its addons with --addons at start; an existing one
    gets ``minikube addons enable`` for each requested addon that is not enabled (every one of
    them when its addons could not be read).
    """
    status, addons = current["status"], current.get("addons")
    binary, profile = desired["minikube_path"], desired["profile"]
    state = desired["state"]
    if state == "absent":
        return [[binary, "delete", "-p", profile]] if status["exists"] else []
    if state == "stopped":
        return [[binary, "stop", "-p", profile]] if status["state"] in (RUNNING, DEGRADED, PAUSED) else []
    if not status["exists"]:
        return [start_command(desired, with_addons=True)]
    commands = []
    if status["state"] in (STOPPED, DEGRADED):
        commands.append(start_command(desired, with_addons=False))
    elif status["state"] == PAUSED:
        commands.append([binary, "unpause", "-p", profile])
    for addon in desired.get("addons") or []:
        if addons is None or not addons.get(addon):
            commands.append([binary, "addons", "enable", addon, "-p", profile])
    return commands

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: minikube
short_description: Start, stop or delete a Minikube cluster profile and enable its addons
version_added: 1.0.0
author:
  - genai.stack maintainers (@genai-stack)
description:
  - Brings a Minikube profile to the state asked for, idempotently. It first reads
    C(minikube status -p PROFILE -o json), whose exit code is a bitmask (1 host not running,
    2 kubelet or API server not running, 4 kubeconfig not configured; 85 profile not found), and C(minikube addons list -p PROFILE -o json),
    and runs a mutating command only when the profile is not already in that state.
  - With O(state=started), runs C(minikube start --wait=all) when the profile does not exist or is not
    running (C(minikube unpause) when it is paused), then enables the requested addons that are disabled.
    A new profile gets its addons with C(--addons) at start.
  - CPUs, memory, driver and Kubernetes version of an existing profile cannot be changed by
    C(minikube start); when they differ from the options, the module warns and does not recreate the
    profile. Use O(state=absent) then O(state=started) to recreate it.
  - With O(state=stopped), runs C(minikube stop) when the profile is running. With O(state=absent), runs
    C(minikube delete) when the profile exists.
  - Before anything runs, refuses a O(driver), O(kubernetes_version) or addon that this minikube does not
    know (C(minikube config defaults driver|kubernetes-version -o json), C(minikube addons list -o json)).
  - "When minikube refuses a command, fails naming the option and minikube's reason, for example
    C(minikube refused cpus=64: RSRC_INSUFFICIENT_CORES: ...). A refused start of a new profile leaves an
    invalid profile behind; the module deletes it."
  - Tested against a real minikube v1.38.1 (docker driver, containerd) and, in unit tests, against the
    outputs recorded from it.
options:
  state:
    description:
      - Desired state of the profile.
    type: str
    choices: [started, stopped, absent]
    default: started
  profile:
    description:
      - Name of the Minikube profile, also the name of its kubeconfig context.
    type: str
    default: minikube
  driver:
    description:
      - Driver of a new profile, for example V(docker), V(podman), V(kvm2) or V(none) (C(--driver)).
      - Minikube picks one when not set.
    type: str
  cpus:
    description:
      - Number of CPUs of a new profile (C(--cpus)). Minikube refuses more than the host has.
      - Minikube picks one when not set (2 for the docker driver).
    type: int
  memory:
    description:
      - Memory of a new profile in Minikube's notation, for example V(4096mb), V(4g) or V(8192) (C(--memory)).
      - Minikube picks it from the host's memory when not set.
    type: str
  kubernetes_version:
    description:
      - Kubernetes version of a new profile, for example V(v1.30.0) or V(stable) (C(--kubernetes-version)).
    type: str
  addons:
    description:
      - Addons that must be enabled when O(state=started). Addons not listed are left as they are.
      - None by default; V(ingress) and V(metrics-server) pull their images from registries when enabled.
    type: list
    elements: str
    default: []
  extra_args:
    description:
      - Further arguments appended to C(minikube start), for example V(--container-runtime=containerd).
    type: list
    elements: str
    default: []
  minikube_path:
    description:
      - Path of the C(minikube) executable. Looked up on E(PATH) when not set.
    type: path
  wait_timeout:
    description:
      - Seconds C(minikube start) waits for every component to be ready (C(--wait=all --wait-timeout)).
      - V(0) leaves minikube's own default.
    type: int
    default: 600
notes:
  - Check mode reads the profile and reports the commands it would run, without running them.
  - The module runs C(minikube) on the target host, as the user whose profiles are wanted.
seealso:
  - name: minikube start
    description: Minikube's documentation of C(minikube start) and its flags.
    link: https://minikube.sigs.k8s.io/docs/commands/start/
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Start the genai profile with the ingress and metrics-server addons (needs registry access)
  genai.stack.minikube:
    profile: genai
    driver: docker
    cpus: 2
    memory: 4g
    kubernetes_version: v1.34.4
    addons:
      - ingress
      - metrics-server
  register: genai_minikube

- name: Show the cluster address and context
  ansible.builtin.debug:
    msg: "{{ genai_minikube.ip }} ({{ genai_minikube.kube_context }})"

- name: Start a profile with containerd and only the ingress addon
  genai.stack.minikube:
    profile: lab
    addons:
      - ingress
    extra_args:
      - --container-runtime=containerd

- name: Stop the profile
  genai.stack.minikube:
    profile: genai
    state: stopped

- name: Delete the profile
  genai.stack.minikube:
    profile: genai
    state: absent
"""

RETURN = r"""
profile:
  description: Name of the profile.
  returned: always
  type: str
  sample: genai
kube_context:
  description: Name of the kubeconfig context of the profile (Minikube names it after the profile).
  returned: always
  type: str
  sample: genai
status:
  description:
    - Output of C(minikube status -o json) for the control-plane node, read after the changes (before
      them in check mode). Empty when the profile does not exist.
  returned: always
  type: dict
  sample:
    Name: genai
    Host: Running
    Kubelet: Running
    APIServer: Running
    Kubeconfig: Configured
    Worker: false
addons:
  description:
    - Whether each requested addon is enabled. In check mode, the state the module would leave.
    - Empty when the profile does not exist.
  returned: always
  type: dict
  sample:
    ingress: true
    metrics-server: true
api_server:
  description: URL of the profile's API server in its kubeconfig context, when the profile is running.
  returned: when the profile is running and its context is in the kubeconfig
  type: str
  sample: https://127.0.0.1:32771
kubeconfig:
  description: The kubeconfig file holding the profile's context (E(KUBECONFIG), else C(~/.kube/config)).
  returned: when the profile is running and its context is in the kubeconfig
  type: str
  sample: /home/user/.kube/config
ip:
  description: IP address of the profile (C(minikube ip)), when it is running. In check mode, when already running.
  returned: when the profile is running
  type: str
  sample: 192.168.49.2
commands:
  description: The mutating commands the module ran, or would run in check mode.
  returned: always
  type: list
  elements: str
  sample:
    - minikube start -p genai --driver=docker --wait=all --wait-timeout=600s
    - minikube addons enable ingress -p genai
"""

import os  # noqa: E402 - imports follow the documentation in Ansible modules
import pwd  # noqa: E402
import shlex  # noqa: E402

try:
    import yaml  # a dependency of ansible-core, not always of the target's Python
except ImportError:  # pragma: no cover - then the kubeconfig is not read
    yaml = None

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.genai.stack.plugins.module_utils import minikube_cli  # noqa: E402
from ansible_collections.genai.stack.plugins.module_utils.minikube_cli import MinikubeError  # noqa: E402

# Plain text output: no emoji or colours in the messages the module reports.
ENVIRONMENT = {"MINIKUBE_IN_STYLE": "false"}


def argument_spec():
    return {
        "state": {"type": "str", "choices": ["started", "stopped", "absent"], "default": "started"},
        "profile": {"type": "str", "default": "minikube"},
        "driver": {"type": "str"},
        "cpus": {"type": "int"},
        "memory": {"type": "str"},
        "kubernetes_version": {"type": "str"},
        "addons": {"type": "list", "elements": "str", "default": []},
        "extra_args": {"type": "list", "elements": "str", "default": []},
        "minikube_path": {"type": "path"},
        "wait_timeout": {"type": "int", "default": 600},
    }


def command_line(cmd):
    return " ".join(shlex.quote(arg) for arg in cmd)


def run_minikube(module, cmd, check_rc=True):
    rc, stdout, stderr = module.run_command(cmd, environ_update=ENVIRONMENT)
    if check_rc and rc != 0:
        raise MinikubeError(
            "{0} failed (rc={1}): {2}".format(command_line(cmd), rc, (stderr or stdout or "").strip()),
            cmd=command_line(cmd), rc=rc, stdout=stdout, stderr=stderr,
        )
    return rc, stdout, stderr


def read_status(module, desired):
    cmd = [desired["minikube_path"], "status", "-p", desired["profile"], "-o", "json"]
    rc, stdout, stderr = run_minikube(module, cmd, check_rc=False)
    try:
        return minikube_cli.parse_status(rc, stdout, stderr)
    except MinikubeError as exc:
        exc.details["cmd"] = command_line(cmd)
        raise


def read_addons(module, desired, status):
    """The addons of an existing profile, None when they cannot be read (an unreadable stopped profile)."""
    if not status["exists"]:
        return None
    cmd = [desired["minikube_path"], "addons", "list", "-p", desired["profile"], "-o", "json"]
    rc, stdout, stderr = run_minikube(module, cmd, check_rc=status["state"] == minikube_cli.RUNNING)
    if rc != 0:
        return None
    return minikube_cli.parse_addons(stdout)


def read_config(module, desired):
    rc, stdout, dummy = run_minikube(module, [desired["minikube_path"], "profile", "list", "-o", "json"], check_rc=False)
    return minikube_cli.parse_profile(stdout, desired["profile"]) if rc == 0 else {}


def read_defaults(module, desired, prop):
    """What ``minikube config defaults PROP -o json`` lists ([] when this minikube cannot say)."""
    rc, stdout, dummy = run_minikube(
        module, [desired["minikube_path"], "config", "defaults", prop, "-o", "json"], check_rc=False)
    return minikube_cli.parse_list(stdout) if rc == 0 else []


def refuse_unknown(module, desired, addons):
    """Refuse, before anything runs, a driver, Kubernetes version or addon this minikube does not know."""
    driver = desired.get("driver")
    if driver:
        drivers = read_defaults(module, desired, "driver")
        if drivers and driver not in drivers:
            raise MinikubeError("minikube refused driver={0}: not a driver minikube supports on this host "
                                "(it supports: {1})".format(driver, ", ".join(drivers)),
                                option="driver", reason="DRV_UNSUPPORTED")
    wanted = desired.get("kubernetes_version")
    if wanted:
        versions = read_defaults(module, desired, "kubernetes-version")
        if minikube_cli.unknown_versions(wanted, versions):
            raise MinikubeError("minikube refused kubernetes_version={0}: not a Kubernetes version this minikube "
                                "knows (it knows {1} .. {2}, or stable/latest)".format(wanted, versions[-1], versions[0]),
                                option="kubernetes_version", reason="K8S_UNKNOWN_VERSION")
    if desired.get("addons"):
        known = addons
        if not known:
            rc, stdout, dummy = run_minikube(module, [desired["minikube_path"], "addons", "list", "-o", "json"],
                                             check_rc=False)
            known = minikube_cli.parse_addons(stdout) if rc == 0 else {}
        unknown = [a for a in desired["addons"] if known and a not in known]
        if unknown:
            raise MinikubeError("minikube refused addons={0}: {1} not an addon minikube knows (it knows: {2})".format(
                ",".join(desired["addons"]), ", ".join(unknown) + (" is" if len(unknown) == 1 else " are"),
                ", ".join(sorted(known))), option="addons", reason="MK_ADDON_UNKNOWN")


def option_value(desired, option, cmd):
    if option == "addons" and cmd[1:3] == ["addons", "enable"]:
        return cmd[3]
    value = desired.get(option)
    if isinstance(value, list):
        return ",".join(value) if option != "extra_args" else " ".join(value)
    return value


def run_change(module, desired, cmd, existed):
    """Run one mutating command; a refusal fails naming the option, and a refused new profile is deleted."""
    rc, stdout, stderr = run_minikube(module, cmd, check_rc=False)
    if rc == 0:
        return
    reason, message = minikube_cli.parse_refusal(stdout, stderr)
    option = minikube_cli.refused_option(reason)
    detail = "{0}: {1}".format(reason, message) if reason else (stderr or stdout or "").strip()[-800:]
    if option:
        msg = "minikube refused {0}={1}: {2} (exit {3})".format(option, option_value(desired, option, cmd), detail, rc)
    else:
        msg = "{0} failed (exit {1}): {2}".format(command_line(cmd), rc, detail)
    cleaned = False
    if cmd[1] == "start" and not existed:
        # A refused start leaves an "invalid" profile behind; remove it so a corrected run starts clean.
        cleaned = run_minikube(module, [desired["minikube_path"], "delete", "-p", desired["profile"]],
                               check_rc=False)[0] == 0
        if cleaned:
            msg += "; the profile it left behind was deleted"
    raise MinikubeError(msg, cmd=command_line(cmd), rc=rc, reason=reason, option=option, stdout=stdout,
                        stderr=stderr, cleaned_up=cleaned)


def read_kube_context(module, profile):
    """{kube_context, api_server, kubeconfig} from the kubeconfig minikube writes (KUBECONFIG, else ~/.kube/config)."""
    if yaml is None:
        return {}
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or \
        [os.path.join(os.environ.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir, ".kube", "config")]
    for path in paths:
        try:
            with open(path) as handle:
                found = minikube_cli.kube_context(yaml.safe_load(handle), profile)
        except (IOError, OSError, yaml.YAMLError):
            continue
        if found:
            found["kubeconfig"] = path
            return found
    return {}


def run(module):
    desired = dict(module.params)
    if not desired["minikube_path"]:
        desired["minikube_path"] = module.get_bin_path("minikube", required=True)
    if desired["wait_timeout"] is not None and desired["wait_timeout"] < 0:
        raise MinikubeError("wait_timeout must not be negative, got {0}".format(desired["wait_timeout"]),
                            option="wait_timeout")

    status = read_status(module, desired)
    addons = read_addons(module, desired, status)
    if desired["state"] == "started":
        refuse_unknown(module, desired, addons)
        if status["exists"]:
            for warning in minikube_cli.drift(desired, read_config(module, desired)):
                module.warn(warning)

    commands = minikube_cli.plan(desired, {"status": status, "addons": addons})
    changed = bool(commands)
    if changed and not module.check_mode:
        for cmd in commands:
            run_change(module, desired, cmd, status["exists"])
        status = read_status(module, desired)
        addons = read_addons(module, desired, status)

    if module.check_mode and desired["state"] == "started":
        reported = dict.fromkeys(desired["addons"], True)
    elif addons is None:
        reported = {}
    else:
        reported = {name: addons.get(name, False) for name in desired["addons"]}

    result = {
        "changed": changed,
        "profile": desired["profile"],
        "kube_context": desired["profile"],
        "status": status["status"],
        "addons": reported,
        "commands": [command_line(cmd) for cmd in commands],
    }
    if status["state"] == minikube_cli.RUNNING:
        dummy, stdout, dummy = run_minikube(module, [desired["minikube_path"], "ip", "-p", desired["profile"]])
        result["ip"] = stdout.strip()
        result.update(read_kube_context(module, desired["profile"]))
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run(module)
    except MinikubeError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

"""runc wrapper for dockerd on hosts where root lacks some capabilities (CAP_SYS_RESOURCE here).

Docker 20.10 gives a ``--privileged`` container every capability the kernel knows, and
asks for negative ``oom_score_adj`` values when told to. A process can only grant
capabilities that are in its own bounding set, and can only lower ``oom_score_adj`` below
its own value with CAP_SYS_RESOURCE, so runc fails ("operation not permitted", "failed to
update /proc/self/oom_score_adj"). Before ``runc create`` or ``runc run`` this wrapper
edits the bundle's OCI ``config.json``, and before ``runc exec --process FILE`` (``docker
exec``) that process file:

- removes from every capability set (bounding, effective, inheritable, permitted,
  ambient) each capability outside this process's bounding set (``CapBnd`` in
  ``/proc/self/status``);
- raises ``process.oomScoreAdj`` to this process's own value when it is lower.

then runs the real runc (``GENAI_REAL_RUNC``, default ``/usr/sbin/runc``) with the same
arguments. tests/cluster/runc-oom-clamp is the same idea for the local test cluster.
"""
import json
import os
import sys

RUNC = os.environ.get("GENAI_REAL_RUNC", "/usr/sbin/runc")
CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")

# Linux capability numbers (include/uapi/linux/capability.h) -> OCI names.
CAP_NAMES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
]


def held_capabilities(status_text):
    """Names of the capabilities in the ``CapBnd`` mask of a /proc/<pid>/status text.

    Bits above the known names are ignored: a capability this table does not name is
    never removed from a spec (runc reports it, as it would without the wrapper).
    """
    for line in status_text.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return {name for bit, name in enumerate(CAP_NAMES) if mask >> bit & 1}
    raise ValueError("no CapBnd line in the status text")


def clamp_spec(spec, held, oom_floor):
    """Edit an OCI runtime spec (dict) in place; return the list of changes made.

    ``held``: capability names the runtime may grant; ``oom_floor``: the lowest
    ``oom_score_adj`` it may set. Unknown capability names are left alone.
    """
    return clamp_process(spec.get("process") or {}, held, oom_floor)


def clamp_process(process, held, oom_floor):
    """Edit an OCI ``process`` object (dict; also the file of ``runc exec --process``) in place;
    return the list of changes made. Same rules as clamp_spec."""
    changes = []
    caps = process.get("capabilities") or {}
    known = set(CAP_NAMES)
    for name in CAP_SETS:
        values = caps.get(name)
        if not values:
            continue
        kept = [c for c in values if c in held or c not in known]
        if len(kept) != len(values):
            changes.append("%s: removed %s" % (name, ", ".join(sorted(set(values) - set(kept)))))
            caps[name] = kept
    adj = process.get("oomScoreAdj")
    if adj is not None and adj < oom_floor:
        process["oomScoreAdj"] = oom_floor
        changes.append("oomScoreAdj: %d -> %d" % (adj, oom_floor))
    return changes


def bundle_of(args):
    """The bundle directory of a runc command line, or None (``--bundle``/``-b``, else cwd for create/run)."""
    for i, arg in enumerate(args):
        if arg in ("--bundle", "-b") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--bundle=") or arg.startswith("-b="):
            return arg.split("=", 1)[1]
    return None


def command_of(args):
    """The runc subcommand: the first argument that is not a global option or its value."""
    takes_value = {"--root", "--log", "--log-format", "--criu", "--rootless"}
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in takes_value:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def process_file_of(args):
    """The file of ``runc exec --process FILE`` (``-p``), or None."""
    for i, arg in enumerate(args):
        if arg in ("--process", "-p") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--process="):
            return arg.split("=", 1)[1]
    return None


def clamp_file(path, clamp):
    """Apply clamp(obj, held, floor) to the JSON file at path; rewrite it only when changed."""
    with open(path) as fh:
        obj = json.load(fh)
    with open("/proc/self/status") as fh:
        held = held_capabilities(fh.read())
    with open("/proc/self/oom_score_adj") as fh:
        floor = int(fh.read().strip())
    if clamp(obj, held, floor):
        with open(path + ".tmp", "w") as fh:
            json.dump(obj, fh)
        os.replace(path + ".tmp", path)


def main():
    args = sys.argv[1:]
    command = command_of(args)
    if command in ("create", "run"):
        path = os.path.join(bundle_of(args) or os.getcwd(), "config.json")
        if os.path.exists(path):
            clamp_file(path, clamp_spec)
    elif command == "exec":
        path = process_file_of(args)
        if path and os.path.exists(path):
            clamp_file(path, clamp_process)
    os.execv(RUNC, [RUNC] + args)


if __name__ == "__main__":
    main()

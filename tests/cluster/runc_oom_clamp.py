"""runc wrapper for hosts where the runtime lacks CAP_SYS_RESOURCE.

The kubelet asks for negative oom_score_adj values (-998 for pod sandboxes, -997 for
Guaranteed pods). Lowering oom_score_adj below the caller's own value needs
CAP_SYS_RESOURCE, which this machine's root does not have, so runc's init fails with
"failed to update /proc/self/oom_score_adj: Permission denied". Before `runc create`,
this wrapper raises any such value in the bundle's config.json to the lowest value the
process may set (its own), then runs the real runc with the same arguments.
"""
import json
import os
import sys

RUNC = os.environ.get("GENAI_REAL_RUNC", "/usr/sbin/runc")


def bundle_of(args):
    for i, arg in enumerate(args):
        if arg in ("--bundle", "-b") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--bundle="):
            return arg.split("=", 1)[1]
    return None


def clamp(bundle):
    path = os.path.join(bundle, "config.json")
    with open(path) as fh:
        spec = json.load(fh)
    with open("/proc/self/oom_score_adj") as fh:
        floor = int(fh.read().strip())
    process = spec.get("process") or {}
    if "oomScoreAdj" in process and process["oomScoreAdj"] < floor:
        process["oomScoreAdj"] = floor
        with open(path + ".tmp", "w") as fh:
            json.dump(spec, fh)
        os.replace(path + ".tmp", path)


def main():
    args = sys.argv[1:]
    if "create" in args or "run" in args:
        bundle = bundle_of(args)
        if bundle:
            clamp(bundle)
    os.execv(RUNC, [RUNC] + args)


if __name__ == "__main__":
    main()

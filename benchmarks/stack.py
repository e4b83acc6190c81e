# Copyright: genai.stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long genai.stack takes against plain kubectl, on one cluster in one run.

    .venv/bin/python benchmarks/stack.py [-i inventories/local] [--namespace bench-genai]
                                         [--manifests DIR] [--keep]

Steps, each timed on the wall clock:

1. ``site.yml`` fresh converge into an empty namespace (the namespace is deleted first);
2. ``site.yml`` no-change re-run;
3. the same manifests through ``kubectl apply --server-side`` and ``kubectl rollout status``
   tier by tier into the emptied namespace ("fresh");
4. the same kubectl commands again ("no-change").

For steps 1-2 it also reports the task count and changed count (json callback) and the
controller's peak memory: the largest sum of the resident set sizes of ansible-playbook and
all its child processes (worker forks, modules), sampled every 0.2 s from /proc.

The manifests for kubectl are, by default, the objects genai.stack applied in step 1, read
back from the cluster (every object labelled ``app.kubernetes.io/part-of=<system>``, with
server-maintained fields removed), so both sides apply exactly the same objects. With
``--manifests DIR`` they are read from DIR instead (one YAML file per tier, applied in file
name order, as ``playbooks/render.yml`` writes them). Manifests with Secrets are written under
tests/output/benchmark with mode 0600 and removed at the end.

It prints a table with the figures, the ratios and the targets of issue 10 (fresh converge
<= 1.25x kubectl; no-change re-run <= 2.5x kubectl's no-change re-apply and <= 12 s;
controller peak memory <= 300 MB) and the load average before and after, since the machine is
shared. The namespace is deleted at the end unless --keep.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
PLAYBOOK = os.path.join(BIN, "ansible-playbook") if os.path.exists(os.path.join(BIN, "ansible-playbook")) \
    else "ansible-playbook"
KUBECTL = os.environ.get("KUBECTL") or (
    os.path.join(REPO, ".cluster", "bin", "kubectl")
    if os.path.exists(os.path.join(REPO, ".cluster", "bin", "kubectl")) else "kubectl")
PAGE = os.sysconf("SC_PAGE_SIZE")
TIER_ORDER = ("foundation", "datastores", "backend", "worker", "frontend", "ingress", "monitoring")
FIRST_KINDS = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "NetworkPolicy",
               "PersistentVolumeClaim", "Issuer", "Certificate")
EXPORT_KINDS = ("serviceaccounts,roles,rolebindings,configmaps,secrets,networkpolicies,persistentvolumeclaims,"
                "services,deployments,statefulsets,cronjobs,horizontalpodautoscalers,poddisruptionbudgets,ingresses")
TARGETS = {"fresh_ratio": 1.25, "rerun_ratio": 2.5, "rerun_seconds": 12.0, "peak_mb": 300.0}


def tree_rss(root_pid):
    """Sum of RSS (bytes) of root_pid and its descendants, from /proc."""
    parents = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(stat.split("/")[2])] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    members, changed = {root_pid}, True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in members and pid not in members:
                members.add(pid)
                changed = True
    total = 0
    for pid in members:
        try:
            with open("/proc/{0}/statm".format(pid)) as handle:
                total += int(handle.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def timed(cmd, env=None, sample=False):
    """Run cmd; returns (seconds, stdout, peak tree RSS bytes or None). Fails loudly on error."""
    start = time.time()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    done = threading.Event()

    def sampler():
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.2)

    thread = threading.Thread(target=sampler) if sample else None
    if thread:
        thread.start()
    out, err = proc.communicate()
    done.set()
    if thread:
        thread.join()
    seconds = time.time() - start
    if proc.returncode != 0:
        sys.stderr.write(out[-4000:] + err[-4000:])
        raise SystemExit("{0} failed (rc {1})".format(" ".join(cmd[:3]), proc.returncode))
    return seconds, out, (peak[0] if sample else None)


def kubectl(*args, check=True, input_text=None):
    proc = subprocess.run([KUBECTL, *args], capture_output=True, text=True, input=input_text, check=False)
    if check and proc.returncode != 0:
        raise SystemExit("kubectl {0} failed: {1}".format(" ".join(args), proc.stderr.strip()))
    return proc


def delete_namespace(namespace):
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=300s", check=False)


def converge(inventory, namespace, extra):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    cmd = [PLAYBOOK, "site.yml", "-i", inventory, "-e", json.dumps({"genai_namespace": namespace})] + extra
    seconds, out, peak = timed(cmd, env=env, sample=True)
    report = _json_report(out)
    tasks = sum(len(play["tasks"]) for play in report["plays"])
    changed = sum(host.get("changed", 0) for host in report["stats"].values())
    return {"seconds": seconds, "tasks": tasks, "changed": changed, "peak_mb": peak / 2 ** 20}


def _json_report(out):
    """The json callback's document; progress lines printed by action plugins may precede it."""
    start = out.find("\n{") + 1 if not out.startswith("{") else 0
    try:
        return json.JSONDecoder().raw_decode(out[start:])[0]
    except ValueError as exc:
        raise SystemExit("no JSON report from ansible-playbook: {0}\n{1}".format(exc, out[:2000])) from exc


def clean(obj):
    metadata = obj["metadata"]
    for key in ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink",
                "ownerReferences"):
        metadata.pop(key, None)
    annotations = metadata.get("annotations") or {}
    for key in list(annotations):
        if key.startswith(("deployment.kubernetes.io/", "kubectl.kubernetes.io/", "pv.kubernetes.io/",
                           "volume.", "autoscaling.alpha")):
            annotations.pop(key)
    obj.pop("status", None)
    spec = obj.get("spec") or {}
    if obj["kind"] == "Service":
        for key in ("clusterIP", "clusterIPs"):
            spec.pop(key, None)
    if obj["kind"] == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
    return obj


def export_tiers(namespace, system, workdir):
    """The objects genai.stack applied, grouped into tier files in apply order."""
    out = kubectl("get", EXPORT_KINDS, "-n", namespace, "-l", "app.kubernetes.io/part-of=" + system,
                  "-o", "json").stdout
    items = [clean(o) for o in json.loads(out)["items"]
             if not any(r.get("controller") for r in o["metadata"].get("ownerReferences") or [])]
    ns = json.loads(kubectl("get", "namespace", namespace, "-o", "json").stdout)
    tiers = {"foundation": [clean(ns)] + [o for o in items if o["kind"] in FIRST_KINDS]}
    for obj in items:
        if obj["kind"] in FIRST_KINDS:
            continue
        tier = (obj["metadata"].get("labels") or {}).get("app.kubernetes.io/component") or "backend"
        if obj["kind"] == "Ingress":
            tier = "ingress"
        tiers.setdefault(tier, []).append(obj)
    files = []
    order = [t for t in TIER_ORDER if t in tiers] + sorted(t for t in tiers if t not in TIER_ORDER)
    for index, tier in enumerate(order):
        path = os.path.join(workdir, "{0:02d}-{1}.json".format(index, tier))
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump({"apiVersion": "v1", "kind": "List", "items": tiers[tier]}, handle)
        files.append(path)
    return files


def workloads_of(path):
    with open(path) as handle:
        text = handle.read()
    try:
        docs = json.loads(text).get("items", [])
    except ValueError:
        import yaml

        docs = [d for d in yaml.safe_load_all(text) if d]
    return ["{0}/{1}".format(d["kind"].lower(), d["metadata"]["name"]) for d in docs
            if d.get("kind") in ("Deployment", "StatefulSet")]


def kubectl_tiers(files, namespace):
    start = time.time()
    for path in files:
        kubectl("apply", "--server-side", "--force-conflicts", "--field-manager", "bench-kubectl", "-f", path)
        for workload in workloads_of(path):
            kubectl("rollout", "status", workload, "-n", namespace, "--timeout=600s")
    return time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("-i", "--inventory", default="inventories/local")
    parser.add_argument("--namespace", default="bench-genai", help="namespace to deploy into (deleted first)")
    parser.add_argument("--system", default="genai", help="genai_system of the inventory (part-of label)")
    parser.add_argument("--manifests", help="directory of per-tier manifest files for the kubectl runs")
    parser.add_argument("--keep", action="store_true", help="keep the namespace at the end")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], help="passed to ansible-playbook")
    args = parser.parse_args()
    extra = [x for value in args.extra_vars for x in ("-e", value)]
    load_before = os.getloadavg()

    delete_namespace(args.namespace)
    fresh = converge(args.inventory, args.namespace, extra)
    rerun = converge(args.inventory, args.namespace, extra)

    workdir = tempfile.mkdtemp(prefix="benchmark-", dir=_output_dir())
    try:
        if args.manifests:
            files = sorted(glob.glob(os.path.join(args.manifests, "*.y*ml")) +
                           glob.glob(os.path.join(args.manifests, "*.json")))
        else:
            files = export_tiers(args.namespace, args.system, workdir)
        delete_namespace(args.namespace)
        kubectl_fresh = kubectl_tiers(files, args.namespace)
        kubectl_rerun = kubectl_tiers(files, args.namespace)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not args.keep:
            delete_namespace(args.namespace)
    load_after = os.getloadavg()

    rows = [
        ("site.yml fresh converge", fresh["seconds"], "{0} tasks, {1} changed, peak {2:.0f} MB".format(
            fresh["tasks"], fresh["changed"], fresh["peak_mb"])),
        ("site.yml no-change re-run", rerun["seconds"], "{0} tasks, {1} changed, peak {2:.0f} MB".format(
            rerun["tasks"], rerun["changed"], rerun["peak_mb"])),
        ("kubectl apply --server-side + rollout status, tier by tier", kubectl_fresh, "{0} tier files".format(
            len(files))),
        ("kubectl no-change re-apply + rollout status", kubectl_rerun, ""),
    ]
    print("\n| run | seconds | notes |\n|---|---|---|")
    for name, seconds, notes in rows:
        print("| {0} | {1:.1f} | {2} |".format(name, seconds, notes))
    peak = max(fresh["peak_mb"], rerun["peak_mb"])
    checks = [
        ("fresh converge / kubectl tier by tier", fresh["seconds"] / kubectl_fresh, TARGETS["fresh_ratio"], "x"),
        ("no-change re-run / kubectl no-change", rerun["seconds"] / kubectl_rerun, TARGETS["rerun_ratio"], "x"),
        ("no-change re-run seconds", rerun["seconds"], TARGETS["rerun_seconds"], " s"),
        ("controller peak memory", peak, TARGETS["peak_mb"], " MB"),
    ]
    print("\n| measure | value | target | met |\n|---|---|---|---|")
    for name, value, target, unit in checks:
        print("| {0} | {1:.2f}{3} | <= {2}{3} | {4} |".format(name, value, target, unit,
                                                              "yes" if value <= target else "NO"))
    print("\nload average (1, 5, 15 min): before {0}, after {1}; CPUs: {2}".format(
        " ".join("{0:.2f}".format(x) for x in load_before), " ".join("{0:.2f}".format(x) for x in load_after),
        os.cpu_count()))


def _output_dir():
    path = os.path.join(REPO, "tests", "output", "benchmark")
    os.makedirs(path, exist_ok=True)
    return path


if __name__ == "__main__":
    main()

"""Issue 9 item 6 on the cluster: the live genai stack (inventories/local) runs restricted
where its images allow it, and still works.

inventories/local is deployed as it is (its users, read-only root filesystems, emptyDirs and
preStop hooks) into a namespace of its own, with its Ingress switched off so that it can share
the cluster with the genai namespace. Then: every container has a read-only root filesystem
and the users docs/security.md names; every pod is Ready and none logged a write to a
read-only path; what each image writes still works (the worker's heartbeat behind `celery inspect
ping`, MariaDB's socket in /run/mysqld, a Redis snapshot in /data).

clusterlib.NAMESPACE_PREFIX (GENAI_TEST_NAMESPACE_PREFIX, default t-) prefixes the namespace.
"""
import json
import os
import subprocess

import pytest
import yaml
from clusterlib import ANSIBLE_PLAYBOOK, NAMESPACE_PREFIX, REPO, kget, kubectl, needs_cluster

pytestmark = needs_cluster

NS = NAMESPACE_PREFIX + "hardening"
OUTPUT = os.path.join(REPO, "tests", "output", "hardening")
APPS = ("gateway", "chat-service", "ai-service", "worker", "frontend")
USERS = dict(dict.fromkeys(APPS, 10001), mysql=999, redis=999, qdrant=1000)


@pytest.fixture(scope="module")
def hardened():
    os.makedirs(OUTPUT, exist_ok=True)
    vars_file = os.path.join(OUTPUT, NS + ".yml")
    with open(vars_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"genai_system": NS, "genai_namespace": NS, "genai_ingress_overrides": {"enabled": False},
                        "genai_wait_timeout": 300, "verify_wait_timeout": 120}, handle)
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=180s", check=False)
    try:
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "site.yml", "-i", "inventories/local", "-e", "@" + vars_file],
                              cwd=REPO, capture_output=True, text=True, timeout=1500, check=False)
        assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
        yield
    finally:
        kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def exec_in(target, *command):
    return kubectl("-n", NS, "exec", target, "--", *command, check=False, timeout=60)


def test_every_container_is_read_only_and_runs_as_its_user(hardened):
    workloads = kget(NS, "deployments,statefulsets")["items"]
    assert sorted(w["metadata"]["name"] for w in workloads) == sorted(USERS)
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == USERS[name], name
        assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
        assert "/tmp" in mounts or name == "redis", (name, mounts)
    lifecycles = {w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0].get("lifecycle")
                  for w in workloads}
    assert lifecycles["gateway"] == lifecycles["frontend"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_every_pod_is_ready_and_none_failed_to_write(hardened):
    pods = kget(NS, "pods")["items"]
    assert len(pods) >= len(USERS)
    for pod in pods:
        name = pod["metadata"]["name"]
        statuses = pod["status"].get("containerStatuses", [])
        assert statuses and all(s["ready"] for s in statuses), (name, statuses)
        logs = kubectl("-n", NS, "logs", name, "--all-containers", check=False).stdout
        if any(s["restartCount"] for s in statuses):
            logs += kubectl("-n", NS, "logs", name, "--all-containers", "--previous", check=False).stdout
        assert "Read-only file system" not in logs, (name, logs[-2000:])


def test_what_the_images_write_still_works(hardened):
    # the worker's liveness: the stand-in's heartbeat in /tmp (an emptyDir) is fresh
    proc = exec_in("deploy/worker", "celery", "-A", "app", "inspect", "ping")
    assert proc.returncode == 0 and "pong" in proc.stdout, proc.stdout + proc.stderr
    # MariaDB answers on its socket in /run/mysqld (an emptyDir)
    proc = exec_in("mysql-0", "mysqladmin", "--socket=/run/mysqld/mysqld.sock", "ping")
    assert "mysqld is alive" in proc.stdout or "Access denied" in proc.stderr, proc.stdout + proc.stderr
    # Redis can snapshot into /data (an emptyDir)
    proc = exec_in("deploy/redis", "sh", "-c", "redis-cli set genai-hardening 1 >/dev/null && redis-cli save")
    assert proc.stdout.strip() == "OK", proc.stdout + proc.stderr
    info = exec_in("deploy/redis", "redis-cli", "info", "persistence").stdout
    assert "rdb_last_bgsave_status:ok" in info, info
    # the read-only root really is read-only
    proc = exec_in("deploy/gateway", "sh", "-c", "touch /app/probe")
    assert proc.returncode != 0 and "Read-only file system" in proc.stderr, json.dumps(proc.__dict__, default=str)

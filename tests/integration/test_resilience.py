"""What seed 003 calls done, proven through the ingress controller (issue 9 item 5).

playbooks/resilience.yml runs against a small system (tests/integration/ingress_env.py):
- self-healing: every running pod of every tier is deleted; the system must be healthy
  again (health and requests through the controller), and the time it took is printed;
- zero-downtime: a stream of requests through the Ingress to the gateway during an image
  upgrade (a second tag of the stand-in, made with ctr) and during an upgrade to an image
  that does not exist with rollback on failure; no request may fail. The failed round must
  also fail for its reason (the gateway's image cannot be pulled), roll back (apply
  state=rollback reports it; the previous image is back at a newer revision) and be served
  by the previous version only (no container of the failed ReplicaSet ever started).
The gateway drains on SIGTERM (STANDIN_DRAIN_SECONDS), the graceful shutdown every server
behind a rolling update needs.

A second system proves the collection's own answer for applications that stop at once on
SIGTERM: the gateway with its drain switched off and a preStop sleep (the component's
lifecycle.pre_stop) upgrades through the Ingress with no failed request, and one of its pods
takes the sleep's seconds to terminate (the kubelet's sleep action ran).

GENAI_TEST_NAMESPACE_PREFIX (default t-) prefixes the namespaces and Ingress hosts, so that a
second run can share the cluster with a CI run.
"""
import json
import os
import subprocess
import time

import pytest
from clusterlib import NAMESPACE_PREFIX, kget, kubectl, needs_cluster
from ingress_env import OUTPUT, addons_present, delete_namespace, log, playbook, small_system, write_inventory

pytestmark = needs_cluster

PREFIX = NAMESPACE_PREFIX
NS = PREFIX + "ing-res"
NS_PRE_STOP = PREFIX + "ing-prestop"
PRE_STOP_SECONDS = 5
CONTAINERD = os.environ.get("CONTAINERD_ADDRESS", "/run/genai-stack/containerd/containerd.sock")
UPGRADE_TAG = "1.0.1-upgrade"


def upgrade_image():
    """The upgrade's image: the stand-in under a second tag (a new pod template, a real rollout)."""
    reason = addons_present()
    assert reason is None, reason
    proc = subprocess.run(["ctr", "--address", CONTAINERD, "-n", "k8s.io", "images", "tag", "--force",
                           "localhost/genai-stack-test/app:1.0.0", "localhost/genai-stack-test/app:" + UPGRADE_TAG],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "ctr images tag failed: " + proc.stderr


def cert_manager_tls(namespace):
    return {"mode": "cert_manager", "secret_name": namespace + "-tls", "issuer": "genai-test-ca",
            "issuer_kind": "ClusterIssuer"}


@pytest.fixture(scope="module")
def resilient_system():
    upgrade_image()
    inventory = write_inventory(NS, small_system(NS, NS + ".local", cert_manager_tls(NS),
                                                 gateway_env={"STANDIN_DRAIN_SECONDS": "5"}))
    try:
        playbook(inventory, "site.yml")
        yield inventory
    finally:
        delete_namespace(NS)


def test_self_healing_and_zero_downtime_upgrades(resilient_system):
    report_file = os.path.join(OUTPUT, NS + "-report.json")
    if os.path.exists(report_file):
        os.unlink(report_file)
    extra = {"verify_upgrade_image": {"tag": UPGRADE_TAG}, "verify_failed_upgrade_image": {"tag": "0.0.0-absent"},
             "resilience_report_file": report_file}
    rc, out, _recap = playbook(resilient_system, os.path.join("playbooks", "resilience.yml"),
                               "-e", json.dumps(extra), expect_ok=False)
    assert os.path.exists(report_file), out[-8000:]
    with open(report_file, encoding="utf-8") as fh:
        report = json.load(fh)
    healing = report["self_healing"]
    log("MEASURE self-healing: {0} pods of the tiers {1} deleted, healthy again after {2} s".format(
        healing["pods_deleted"], ", ".join(healing["tiers"]), healing["seconds"]))
    for entry in report["zero_downtime"]:
        log("MEASURE zero-downtime {0}: {1} requests in {2} s, {3} failed {4}; served by {5}; tier failed: {6}".format(
            entry["round"], entry["sent"], entry["seconds"], entry["failed"], entry["reasons"], entry["served_by"],
            entry["tier_failed"]))
        if entry.get("checks"):
            log("MEASURE zero-downtime {0} checks: {1}".format(entry["round"], json.dumps(entry["checks"])))
    assert rc == 0, out[-8000:]
    assert "self-healing verified" in out
    assert healing["healthy"] and int(healing["pods_deleted"]) >= 2
    assert set(healing["tiers"]) >= {"backend", "frontend"}

    rounds = {e["round"]: e for e in report["zero_downtime"]}
    assert set(rounds) == {"upgrade", "failed upgrade with rollback"}
    upgrade, failed = rounds["upgrade"], rounds["failed upgrade with rollback"]
    assert upgrade["verified"] and int(upgrade["failed"]) == 0 and not upgrade["tier_failed"], upgrade
    assert int(upgrade["sent"]) >= 50
    assert failed["verified"] and int(failed["failed"]) == 0 and failed["tier_failed"], failed
    # failed for the right reason: the image of the upgrade cannot be pulled, named with the component
    checks = failed["checks"]
    assert checks["failure_reason"] in ("ErrImagePull", "ImagePullBackOff"), failed
    assert "gateway: " + checks["failure_reason"] in failed["tier_error"], failed["tier_error"]
    # the rollback ran (apply state=rollback) and is in effect: previous image, a newer revision
    assert checks["rolled_back"] and checks["template_restored"], checks
    assert all(i.endswith(":" + UPGRADE_TAG) for i in checks["previous_images"]), checks
    assert checks["images_after"] == checks["previous_images"], checks
    assert checks["revision_after"] > checks["revision_before"], checks
    # only the previous version answered: every answer from the gateway, no container of the
    # failed ReplicaSet ever started, the Ready pods at the end run the previous image
    assert checks["previous_version_served"] and checks["served_only_by_component"], checks
    assert failed["served_by"] == {"gateway": failed["sent"]} and int(failed["sent"]) >= 20, failed
    assert checks["new_version_replicasets"] and not checks["new_version_started"], checks
    assert checks["ready_pods_after"], checks
    # after the rollback the upgraded version still runs
    deployment = kget(NS, "deployment", "gateway")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":" + UPGRADE_TAG), image
    revision = int(deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    assert revision == checks["revision_after"], (revision, checks)


@pytest.fixture(scope="module")
def pre_stop_system():
    """The gateway stops at once on SIGTERM (no drain); its preStop sleep is all that protects it."""
    upgrade_image()
    variables = small_system(NS_PRE_STOP, NS_PRE_STOP + ".local", cert_manager_tls(NS_PRE_STOP),
                             gateway_env={"STANDIN_DRAIN_SECONDS": "0"})
    variables["genai_components"]["gateway"]["lifecycle"] = {"pre_stop": {"sleep": {"seconds": PRE_STOP_SECONDS}}}
    inventory = write_inventory(NS_PRE_STOP, variables)
    try:
        playbook(inventory, "site.yml")
        yield inventory
    finally:
        delete_namespace(NS_PRE_STOP)


def test_a_pre_stop_sleep_makes_upgrades_zero_downtime_without_a_draining_application(pre_stop_system):
    deployment = kget(NS_PRE_STOP, "deployment", "gateway")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}}, container
    report_file = os.path.join(OUTPUT, NS_PRE_STOP + "-report.json")
    if os.path.exists(report_file):
        os.unlink(report_file)
    extra = {"verify_upgrade_image": {"tag": UPGRADE_TAG}, "resilience_self_healing": False,
             "resilience_report_file": report_file}
    rc, out, _recap = playbook(pre_stop_system, os.path.join("playbooks", "resilience.yml"),
                               "-e", json.dumps(extra), expect_ok=False)
    assert os.path.exists(report_file), out[-8000:]
    with open(report_file, encoding="utf-8") as fh:
        report = json.load(fh)
    (upgrade,) = report["zero_downtime"]
    log("MEASURE zero-downtime with preStop sleep {0} s and no drain: {1} requests in {2} s, {3} failed {4}; "
        "served by {5}".format(PRE_STOP_SECONDS, upgrade["sent"], upgrade["seconds"], upgrade["failed"],
                               upgrade["reasons"], upgrade["served_by"]))
    assert rc == 0, out[-8000:]
    assert upgrade["verified"] and int(upgrade["failed"]) == 0 and not upgrade["tier_failed"], upgrade
    assert int(upgrade["sent"]) >= 50, upgrade
    # the kubelet ran the sleep: a pod that exits at once on SIGTERM takes the sleep's time to go
    pods = kget(NS_PRE_STOP, "pods", "-l", "app.kubernetes.io/name=gateway")["items"]
    assert pods, "no gateway pod"
    started = time.monotonic()
    kubectl("delete", "pod", "-n", NS_PRE_STOP, pods[0]["metadata"]["name"], "--wait=true", "--timeout=60s")
    seconds = time.monotonic() - started
    log("MEASURE a gateway pod with preStop sleep {0} s terminated in {1:.1f} s".format(PRE_STOP_SECONDS, seconds))
    assert PRE_STOP_SECONDS <= seconds < 30, seconds

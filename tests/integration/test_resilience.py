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
"""
import json
import os
import subprocess

import pytest
from clusterlib import kget, needs_cluster
from ingress_env import OUTPUT, addons_present, delete_namespace, log, playbook, small_system, write_inventory

pytestmark = needs_cluster

NS = "t-ing-res"
CONTAINERD = os.environ.get("CONTAINERD_ADDRESS", "/run/genai-stack/containerd/containerd.sock")
UPGRADE_TAG = "1.0.1-upgrade"


@pytest.fixture(scope="module")
def resilient_system():
    reason = addons_present()
    assert reason is None, reason
    # the upgrade's image: the stand-in under a second tag (a new pod template, a real rollout)
    proc = subprocess.run(["ctr", "--address", CONTAINERD, "-n", "k8s.io", "images", "tag", "--force",
                           "localhost/genai-stack-test/app:1.0.0", "localhost/genai-stack-test/app:" + UPGRADE_TAG],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "ctr images tag failed: " + proc.stderr
    inventory = write_inventory(NS, small_system(NS, "t-ing-res.local", {
        "mode": "cert_manager", "secret_name": "t-ing-res-tls", "issuer": "genai-test-ca", "issuer_kind": "ClusterIssuer"},
        gateway_env={"STANDIN_DRAIN_SECONDS": "5"}))
    try:
        playbook(inventory, "site.yml")
        yield inventory
    finally:
        delete_namespace(NS)


def test_self_healing_and_zero_downtime_upgrades(resilient_system):
    report_file = os.path.join(OUTPUT, "resilience-report.json")
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

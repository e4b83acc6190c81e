"""An HPA that scales (issue 11 item 6), on the cluster's metrics-server.

The gateway of a small system (tests/integration/ingress_env.py) has an HPA (1-3 replicas,
50 % of a 20m CPU request, a 10 s scale-down stabilisation window). A bounded load (at
most 60 s) from this machine through the ingress controller to the gateway makes it scale
above its minimum; after the load it must come back to the minimum. The replica counts
over time are printed (pytest -s shows them) and asserted.
"""
import http.client
import threading
import time

import pytest
from clusterlib import kget, kubectl, needs_cluster, node_ip, wait_until
from ingress_env import addons_present, delete_namespace, log, playbook, small_system, write_inventory

pytestmark = needs_cluster

NS = "t-ing-hpa"
HOST = "api.t-ing-hpa.local"
LOAD_SECONDS = 60
LOAD_THREADS = 6


@pytest.fixture(scope="module")
def hpa_system():
    reason = addons_present()
    assert reason is None, reason
    assert kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", check=False).returncode == 0, \
        "no metrics-server on the cluster (APIService v1beta1.metrics.k8s.io)"
    inventory = write_inventory(NS, small_system(NS, "t-ing-hpa.local", {"mode": "none"}, hpa=True))
    try:
        playbook(inventory, "site.yml")
        yield inventory
    finally:
        delete_namespace(NS)


def hpa_state():
    hpa = kget(NS, "hpa", "gateway")
    status = hpa.get("status") or {}
    cpu = None
    for metric in status.get("currentMetrics") or []:
        if metric.get("type") == "Resource" and metric["resource"]["name"] == "cpu":
            cpu = metric["resource"]["current"].get("averageUtilization")
    return {"current": status.get("currentReplicas"), "desired": status.get("desiredReplicas"), "cpu": cpu,
            "min": hpa["spec"].get("minReplicas", 1)}


def load(address, stop, counts):
    while not stop.is_set():
        try:
            conn = http.client.HTTPConnection(address, 80, timeout=5)
            conn.request("GET", "/", headers={"Host": HOST})
            resp = conn.getresponse()
            resp.read()
            conn.close()
            counts[resp.getheader("X-Served-By") == "gateway"] += 1
        except OSError:
            counts[False] += 1


def test_gateway_hpa_scales_up_under_load_and_back_down(hpa_system):
    address = node_ip()
    # metrics-server needs a scrape or two of the new pod before the HPA has a metric
    wait_until("a CPU metric on the gateway HPA", lambda: hpa_state()["cpu"] is not None, timeout=180, interval=5)
    start = hpa_state()
    assert start["current"] == start["min"] == 1, start

    series = []
    stop = threading.Event()
    counts = {True: 0, False: 0}
    threads = [threading.Thread(target=load, args=(address, stop, counts), daemon=True)
               for _index in range(LOAD_THREADS)]
    t0 = time.monotonic()
    for thread in threads:
        thread.start()
    peak = 1
    try:
        while time.monotonic() - t0 < LOAD_SECONDS:
            state = hpa_state()
            series.append((round(time.monotonic() - t0), "load", state["current"], state["desired"], state["cpu"]))
            peak = max(peak, state["current"] or 0)
            if peak > start["min"]:
                break
            time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    load_seconds = round(time.monotonic() - t0)
    log("load: {0} requests answered by the gateway, {1} other/failed, for {2}s".format(
        counts[True], counts[False], load_seconds))
    assert counts[True] > 0

    back = None
    while time.monotonic() - t0 < load_seconds + 240:
        state = hpa_state()
        series.append((round(time.monotonic() - t0), "idle", state["current"], state["desired"], state["cpu"]))
        peak = max(peak, state["current"] or 0)
        if peak > start["min"] and state["current"] == start["min"]:
            back = round(time.monotonic() - t0)
            break
        time.sleep(5)
    log("MEASURE gateway HPA replicas over time (s since load start, phase, current, desired, cpu %):")
    for row in series:
        log("  t={0:>4}s {1:<4} replicas={2} desired={3} cpu={4}%".format(*row))
    assert peak > start["min"], "the gateway never scaled above {0} under load: {1}".format(start["min"], series)
    assert back is not None, "the gateway did not scale back to {0} within 240 s: {1}".format(start["min"], series)
    log("MEASURE scaled 1 -> {0} under {1}s of load; back to 1 at {2}s".format(peak, load_seconds, back))

"""A real browser opens the deployed application (issue 11 item 7).

The genai system of inventories/local (what `make deploy` deploys) is converged with
site.yml, then headless Chromium (Debian's `chromium`) loads https://app.genai.local/ and
https://api.genai.local/healthz with only those two hosts mapped to the node
(--host-resolver-rules; every other name fails to resolve), background networking off, and
the test CA trusted through an NSS database in a private HOME. Screenshots go to
tests/output/. The same load without the CA must fail with ERR_CERT_AUTHORITY_INVALID, so
the check can tell a trusted certificate from an untrusted one.

Chromium missing: skipped, unless GENAI_STACK_REQUIRE_BROWSER is set (then it fails).
"""
import base64
import os
import shutil
import subprocess

import pytest
from clusterlib import REPO, kget, kubectl, needs_cluster, node_ip
from ingress_env import OUTPUT, addons_present, log, playbook

pytestmark = needs_cluster

NS = "genai"
HOSTS = ("app.genai.local", "api.genai.local")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CERTUTIL = shutil.which("certutil")
REQUIRED = bool(os.environ.get("GENAI_STACK_REQUIRE_BROWSER"))


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CERTUTIL):
        missing = "chromium" if not CHROMIUM else "certutil (libnss3-tools)"
        if REQUIRED:
            pytest.fail("GENAI_STACK_REQUIRE_BROWSER is set but {0} is not installed "
                        "(apt-get install -y chromium libnss3-tools)".format(missing))
        pytest.skip("{0} is not installed (apt-get install -y chromium libnss3-tools)".format(missing))
    return CHROMIUM


@pytest.fixture(scope="module")
def genai_system():
    reason = addons_present()
    assert reason is None, reason
    existed = kubectl("get", "namespace", NS, check=False).returncode == 0
    playbook(os.path.join(REPO, "inventories", "local"), "site.yml")
    yield
    if not existed:
        playbook(os.path.join(REPO, "inventories", "local"), os.path.join("playbooks", "teardown.yml"),
                 "-e", "genai_teardown_purge=true", expect_ok=False)


def nss_home(tmp_path, name, ca_pem):
    """A HOME whose ~/.pki/nssdb trusts ca_pem (None: an empty database)."""
    home = tmp_path / name
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", "sql:" + str(db), "-N", "--empty-password"], check=True, capture_output=True)
    if ca_pem:
        ca_file = home / "ca.crt"
        ca_file.write_text(ca_pem)
        subprocess.run([CERTUTIL, "-d", "sql:" + str(db), "-A", "-t", "C,,", "-n", "genai-test-ca", "-i", str(ca_file)],
                       check=True, capture_output=True)
    return str(home)


def chromium(home, url, *mode):
    ip = node_ip()
    rules = ", ".join(["MAP {0} {1}".format(host, ip) for host in HOSTS] + ["MAP * ~NOTFOUND", "EXCLUDE localhost"])
    args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
            "--host-resolver-rules=" + rules, "--user-data-dir=" + os.path.join(home, "profile"),
            "--window-size=1280,800", "--virtual-time-budget=5000", *mode, url]
    env = dict(os.environ, HOME=home)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)
    return proc


def test_browser_opens_app_and_api_with_the_test_ca(browser, genai_system, tmp_path):
    secret = kget(NS, "secret", "genai-tls")
    ca_pem = base64.b64decode(secret["data"]["ca.crt"]).decode()
    trusted = nss_home(tmp_path, "trusted", ca_pem)
    os.makedirs(OUTPUT, exist_ok=True)

    for url, expect in (("https://app.genai.local/", "genai-stack test stand-in is serving"),
                        ("https://api.genai.local/healthz", '"status": "ok"')):
        dom = chromium(trusted, url, "--dump-dom")
        assert expect in dom.stdout, "{0}: {1}\n{2}".format(url, dom.stdout[-2000:], dom.stderr[-2000:])
        assert "ERR_CERT" not in dom.stdout
        shot = os.path.join(OUTPUT, "browser-" + url.split("//")[1].split("/")[0] + ".png")
        if os.path.exists(shot):
            os.unlink(shot)
        proc = chromium(trusted, url, "--screenshot=" + shot)
        assert os.path.exists(shot) and os.path.getsize(shot) > 1000, proc.stderr[-2000:]
        log("{0}: loaded with the test CA trusted, screenshot {1}".format(url, os.path.relpath(shot, REPO)))

    untrusted = nss_home(tmp_path, "untrusted", None)
    dom = chromium(untrusted, "https://app.genai.local/", "--dump-dom")
    assert "genai-stack test stand-in is serving" not in dom.stdout
    assert "ERR_CERT_AUTHORITY_INVALID" in dom.stdout + dom.stderr, dom.stdout[-2000:] + dom.stderr[-2000:]

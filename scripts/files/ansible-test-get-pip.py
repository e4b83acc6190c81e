# Offline stand-in for ansible-test's get-pip bootstrap (this machine reaches the package
# index only through a TLS-intercepting proxy): pip from ensurepip, the machine's CA bundle
# written into the venv's pip.conf, then the requested packages through pip itself.
import ensurepip
import os
import subprocess
import sys

with open(os.path.join(sys.prefix, "pip.conf"), "w") as conf:
    conf.write("[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ndefault-timeout = 180\n")
ensurepip.bootstrap(upgrade=True)
os.environ.pop("PIP_CONFIG_FILE", None)  # ensurepip sets it to /dev/null
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)

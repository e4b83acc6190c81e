#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection placed at ansible_collections/genai/stack.
# ansible-test builds a virtualenv per test and bootstraps pip in it with a script that
# ignores the machine's pip configuration (ensurepip sets PIP_CONFIG_FILE=/dev/null), so
# behind a TLS-intercepting proxy its pip cannot verify PyPI. We give it a bootstrap that
# uses the machine's CA bundle (scripts/files/ansible-test-get-pip.py); the tests and
# their pinned requirements are ansible-test's own.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
pip_version=$(python -c '
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
import sys
print(get_venv_packages(NativePythonConfig(version="%d.%d" % sys.version_info[:2]))["pip"].replace(".", "_"))
' 2>/dev/null || echo 24_2)
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp "$ROOT/scripts/files/ansible-test-get-pip.py" "$cache/get_pip_$pip_version.py"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/genai/stack
# Our modules reuse kubernetes.core's auth argument spec and doc fragment: ansible-test finds
# other collections only beside this one, so kubernetes.core (from the venv's ansible package)
# is copied there.
mkdir -p "$dest" "$work/ansible_collections/kubernetes"
cp -r "$(python -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])')" \
  "$work/ansible_collections/kubernetes/core"
(cd "$ROOT" && git ls-files -co --exclude-standard | grep -v '^collections/' | tar -cf - -T - 2>/dev/null) | tar -C "$dest" -xf -
cd "$dest"
git init -q && git add -A
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no \
  --skip-test pslint --skip-test shellcheck "$@"

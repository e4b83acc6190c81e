#!/usr/bin/env bash
# Create or refresh .venv from requirements.txt (pinned); skipped when nothing changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# The interpreter: GENAI_PYTHON, else the system's /usr/bin/python3 when it is 3.11 or newer
# (ansible-core 2.19's minimum), else python3 from PATH. The system's comes first because the
# venv links to its interpreter and the Minikube test runs ansible-playbook as an
# unprivileged user: a Python under root's 0700 home (pyenv) cannot be run by that user.
PYTHON=${GENAI_PYTHON:-}
if [ -z "$PYTHON" ]; then
  PYTHON=python3
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    PYTHON=/usr/bin/python3
  fi
fi
stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1) $(command -v "$PYTHON")"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
  say "installing python3-venv"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
say "creating $VENV from requirements.txt with $("$PYTHON" --version) ($(command -v "$PYTHON"))"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -r "$ROOT/requirements.txt"
echo "$want" > "$stamp"
say "virtualenv ready: $("$VENV/bin/ansible" --version | head -1)"

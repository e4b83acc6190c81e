#!/usr/bin/env bash
# Create or refresh .venv from requirements.txt (pinned); skipped when nothing changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  say "installing python3-venv"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi
say "creating $VENV from requirements.txt"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -r "$ROOT/requirements.txt"
echo "$want" > "$stamp"
say "virtualenv ready: $("$VENV/bin/ansible" --version | head -1)"

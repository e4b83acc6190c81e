#!/usr/bin/env bash
# Writes the build context of the example execution environment and checks it holds the
# collection requirements (no image is built). Usage: tests/awx/test_ee_context.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
exec "$repo/.venv/bin/python" -m pytest -q "$repo/tests/awx/test_ee_context.py" "$@"

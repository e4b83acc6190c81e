# Shared helpers of the Makefile's scripts. Sourced, not run.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${GENAI_VENV:-$ROOT/.venv}
export PATH="$VENV/bin:$ROOT/.cluster/bin:$PATH"
export ANSIBLE_CONFIG=$ROOT/ansible.cfg
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
export PIP_DISABLE_PIP_VERSION_CHECK=1
say() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

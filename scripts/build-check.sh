#!/usr/bin/env bash
# Build the collection tarball, install it into a temporary collections path and check
# that its modules' documentation renders from the installed copy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build "$ROOT" --output-path "$out" --force
tarball=$(ls "$out"/genai-stack-*.tar.gz)
echo "built $(basename "$tarball") ($(du -h "$tarball" | cut -f1))"
# Only the installed copy may be found, not the clone's collections/ link: no repo ansible.cfg.
: > "$out/ansible.cfg"
export ANSIBLE_CONFIG=$out/ansible.cfg
# kubernetes.core comes from the virtualenv's ansible package: no Galaxy access needed.
ansible-galaxy collection install "$tarball" -p "$out/collections" --no-deps --force
export ANSIBLE_COLLECTIONS_PATH="$out/collections:$(python -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')"
cd "$out"
for module in genai.stack.health genai.stack.minikube genai.stack.apply genai.stack.ingress_check; do
  ansible-doc "$module" > "$out/doc.txt"
  grep -q "^> MODULE $module" "$out/doc.txt" || { echo "ansible-doc $module did not render"; exit 1; }
  echo "ansible-doc $module: $(wc -l < "$out/doc.txt") lines"
done
ansible-doc -t role genai.stack.backend > /dev/null
tar -tzf "$tarball" | grep -qE '(^|/)(\.venv|\.cluster|collections)/' && { echo "tarball contains build junk"; exit 1; }
echo "collection build ok"

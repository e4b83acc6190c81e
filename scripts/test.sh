#!/usr/bin/env bash
# The whole test suite (`make test`, and `.ci/run`): every step runs, each timed; a summary
# follows and the exit status is non-zero when any step failed. Logs: tests/output/logs/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
LOGS=$ROOT/tests/output/logs
mkdir -p "$LOGS"
export KUBECONFIG=${GENAI_TEST_KUBECONFIG:-$ROOT/.cluster/kubeconfig}

STEPS=(${GENAI_TEST_STEPS:-venv lint sanity unit build cluster integration molecule seeds awx kind minikube})
SEED_SYSTEMS=(${GENAI_TEST_SEEDS:-todo-app rag-system my-saas-chat chat4all})
declare -A RESULT TIME
passed=0; failed=0

run_step() {
  local name=$1 t0=$SECONDS rc
  say "=== $name"
  "step_$name" > "$LOGS/$name.log" 2>&1
  rc=$?
  TIME[$name]=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    RESULT[$name]=passed; passed=$((passed + 1))
    say "--- $name passed (${TIME[$name]}s)"
  else
    RESULT[$name]="FAILED (rc $rc)"; failed=$((failed + 1))
    say "--- $name FAILED (${TIME[$name]}s); last lines of $LOGS/$name.log:"
    tail -40 "$LOGS/$name.log" >&2
  fi
  return $rc
}

apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
pytest_strict() {
  pytest "$@"
  local rc=$?
  [ $rc -eq 5 ] && echo "pytest collected no tests: failing"
  return $rc
}

step_venv() { "$ROOT/scripts/venv.sh"; }
step_lint() {
  local rc=0
  yamllint -s . || rc=1
  ansible-lint --offline -q || rc=1
  ruff check plugins tests scripts || rc=1
  antsibull-changelog lint || rc=1
  return $rc
}
step_sanity() { "$ROOT/scripts/sanity.sh"; }
step_unit() { pytest_strict -q -p no:cacheprovider tests/unit; }
step_build() { "$ROOT/scripts/build-check.sh"; }
step_cluster() {
  "$ROOT/tests/cluster/cluster" up && "$ROOT/tests/images/images" import
}
# The browser test needs Debian's chromium and certutil (an NSS db trusting the test CA);
# under make test it must run, never skip.
step_integration() {
  apt_install chromium libnss3-tools || return 1
  GENAI_STACK_REQUIRE_BROWSER=1 pytest_strict -q -p no:cacheprovider -n 2 --dist loadfile --durations=30 tests/integration
}
step_molecule() { (cd "$ROOT" && molecule test -s default); }
# Every other seed system, one after the other: converge, idempotence, verify, purge.
step_seeds() {
  local rc=0 system
  prebuild_start
  for system in "${SEED_SYSTEMS[@]}"; do
    say "seed system $system"
    GENAI_SEED=$system molecule test -s seeds || { say "seed system $system FAILED"; rc=1; }
  done
  return $rc
}
# kind (tests/kind) and Minikube (tests/minikube) scenarios, each with the Docker engine of
# tests/docker started for its lifetime and stopped after.
step_kind() { prebuild_wait; "$ROOT/tests/kind/molecule-kind"; }
step_minikube() { prebuild_wait; "$ROOT/tests/minikube/test"; }

# The Go programs of the kind and Minikube steps are built in the background while the seeds
# converge (a no-op when cached); their steps wait for it and read its log on failure.
PREBUILD_PID=
prebuild_start() {
  [[ " ${STEPS[*]} " == *" kind "* || " ${STEPS[*]} " == *" minikube "* ]] || return 0
  say "building kind and Minikube in the background (log: $LOGS/prebuild.log)"
  ( nice -n 10 "$ROOT/tests/kind/node-image" kind >/dev/null &&
    nice -n 10 "$ROOT/tests/minikube/build.sh" ) > "$LOGS/prebuild.log" 2>&1 &
  PREBUILD_PID=$!
}
prebuild_wait() {
  [ -n "$PREBUILD_PID" ] || return 0
  local rc=0
  wait "$PREBUILD_PID" || rc=$?
  PREBUILD_PID=
  [ $rc -eq 0 ] || { echo "background build of kind/Minikube failed:"; tail -30 "$LOGS/prebuild.log"; }
  return $rc
}

step_awx() {
  if [ -d "$ROOT/tests/awx" ]; then
    pytest_strict -q -p no:cacheprovider tests/awx
  else
    echo "no tests/awx"; return 1
  fi
}

for s in "${STEPS[@]}"; do
  run_step "$s"
  # Without a virtualenv or a cluster the later steps cannot mean anything.
  if [ "${RESULT[$s]}" != passed ] && { [ "$s" = venv ] || [ "$s" = cluster ]; }; then
    say "stopping: $s is required by the steps after it"
    break
  fi
done

echo
echo "step            result        seconds"
for s in "${STEPS[@]}"; do
  [ -n "${RESULT[$s]:-}" ] && printf '%-15s %-13s %s\n' "$s" "${RESULT[$s]}" "${TIME[$s]}"
done
echo "steps: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $passed -eq ${#STEPS[@]} ]

#!/bin/sh
# Runs the property tests of tests/it/fuzz_inputs.rs (job input, .flaky-detector.yml, JUnit,
# go test -json, Jest JSON, pending history entries, history folder files, .git files) with
# many cases, for a bounded time.
#   FUZZ_CASES   cases per target (default 20000)
#   FUZZ_SECONDS wall-clock bound for the whole run (default 900)
# Exit status: 0 when every target held, 124 when the time bound was hit, else the
# failure (proptest prints the minimal failing input).
set -eu
cd "$(dirname "$0")/.."
cases="${FUZZ_CASES:-20000}"
seconds="${FUZZ_SECONDS:-900}"
echo "fuzz: ${cases} cases per target, at most ${seconds} s"
start=$(date +%s)
status=0
FUZZ_CASES="$cases" timeout "$seconds" cargo test --quiet --test it -- fuzz_inputs:: --test-threads 1 || status=$?
echo "fuzz: 8 targets x ${cases} cases in $(( $(date +%s) - start )) s, exit ${status}"
exit "$status"

#!/bin/sh
# Entry point of the RunPod serverless image, choosing the mode as RunPod's SDK does:
# with --test_input '<json>', or without RUNPOD_WEBHOOK_GET_JOB (a local `docker run`), one
# local test job (from the flag or ./test_input.json); on RunPod, the worker, which gets the
# other arguments (e.g. --concurrency 2).
set -eu
bin="${FLAKY_DETECTOR_BIN:-flaky-detector}"
for arg in "$@"; do
  case "$arg" in
    --test_input | --test_input=*) exec "$bin" "$@" ;;
  esac
done
if [ -z "${RUNPOD_WEBHOOK_GET_JOB:-}" ]; then
  exec "$bin" "$@"
fi
# As PID 1 the binary forks into a small init that reaps orphans (src/cli/init.rs), so no
# tini is needed.
exec "$bin" worker "$@"

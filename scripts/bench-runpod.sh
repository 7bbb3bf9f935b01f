#!/bin/sh
# Prints the RunPod front ends' figures: worker start to its first job-take, idle worker
# memory and CPU, and `serve` answering /status under load while a job runs.
# Needs wrk for the load (apt-get install wrk). Takes about 40 s after the release build.
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found; install it with: apt-get install wrk" >&2
    exit 1
fi
exec cargo bench --bench runpod

#!/bin/sh
# Entry point of the RunPod serverless image: runs the flaky-detector worker, which reads
# the platform's RUNPOD_* variables. Extra arguments go to `flaky-detector worker`.
set -eu
exec "${FLAKY_DETECTOR_BIN:-flaky-detector}" worker "$@"

#!/bin/sh
# Container entry point: starts the RunPod worker. Arguments pass through, so
# `docker run IMAGE --test_input '{"input": {...}}'` runs RunPod's local test.
set -eu
exec flaky-detector worker "$@"

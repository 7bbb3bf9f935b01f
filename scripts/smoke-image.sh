#!/bin/sh
# Smoke test of a built image, to run before pushing it: each bundled example goes through
# the image's entry point (run.sh, RunPod's local test via --test_input) with seeds 1..20, and
# the verdict and failing seeds must be the ones the example is built to produce.
#
#   scripts/smoke-image.sh IMAGE [EXAMPLE...]
#   SMOKE_DOCKER=path/to/engine scripts/smoke-image.sh IMAGE [EXAMPLE...]
#   SMOKE_BINARY=target/release/flaky-detector scripts/smoke-image.sh - [EXAMPLE...]
#
# EXAMPLE is a folder name under examples/ (default: all six; pass `python` for the image of
# Dockerfile.python-only). With SMOKE_BINARY set, the examples run on this machine through
# that binary instead of in a container (IMAGE is then ignored), which tests this script.
# SMOKE_DOCKER names a program that takes docker's `run` arguments in place of docker (as
# scripts/image-check.sh does with podman). Each line also names the isolation mechanism the
# job's runs got inside the container. Needs docker (or SMOKE_DOCKER, or SMOKE_BINARY) and
# python3 on this machine.
set -eu

usage() {
    echo "usage: $0 IMAGE [python|go|typescript-jest|typescript-vitest|javascript-mocha|rust]..." >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
image=$1
shift
if [ "$#" -eq 0 ]; then
    set -- python go typescript-jest typescript-vitest javascript-mocha rust
fi
command -v python3 >/dev/null || { echo "error: python3 is needed to read the results" >&2; exit 1; }
engine=${SMOKE_DOCKER:-docker}
if [ -z "${SMOKE_BINARY:-}" ]; then
    command -v "$engine" >/dev/null || { echo "error: $engine is not installed" >&2; exit 1; }
fi
root=$(cd "$(dirname "$0")/.." && pwd)

# Prints: framework, test command, failing seeds among 1..20 (fixed by each example's seeded
# tests; see examples/*/README.md).
expectation() {
    case $1 in
        python) echo "python|pytest -q tests|1 2 6 14 15 16 17" ;;
        go) echo "go|go test -count=1 ./...|1 9 10 14 15 20" ;;
        typescript-jest) echo "typescript-jest|npx jest|2 3 10 16 17" ;;
        typescript-vitest) echo "typescript-vitest|npx vitest run|4 5 6 8 19 20" ;;
        javascript-mocha) echo "javascript-mocha|npx mocha|1 2 8 10 11 16 18" ;;
        rust) echo "rust|cargo test|2 7 9 10 12 13 17 19" ;;
        *) return 1 ;;
    esac
}

# Runs one job document and prints the job's stdout.
run_job() {
    if [ -n "${SMOKE_BINARY:-}" ]; then
        "$SMOKE_BINARY" --test_input "$1"
    else
        "$engine" run --rm -e FLAKY_ALLOW_LOCAL_REPOS=1 "$image" --test_input "$1"
    fi
}

# Reads the job's stdout and prints "framework verdict failing-seeds…|mechanism", or the
# job's error.
read_result() {
    python3 -c '
import json, sys
for line in reversed(sys.stdin.read().splitlines()):
    try:
        doc = json.loads(line)
    except ValueError:
        continue
    if isinstance(doc, dict) and "error" in doc:
        sys.exit("job error: %s" % doc["error"])
    if isinstance(doc, dict) and "output" in doc:
        out = doc["output"]
        print(*[out["framework"], out["verdict"], *sorted(out["failing_seeds"])], sep=" ", end="|")
        print(out.get("isolation_mechanism", "none"))
        sys.exit(0)
sys.exit("no result JSON in the output")
'
}

failed=0
for example in "$@"; do
    spec=$(expectation "$example") || { echo "error: unknown example \`$example\`" >&2; usage; }
    framework=${spec%%|*}
    rest=${spec#*|}
    command=${rest%%|*}
    seeds=${rest#*|}
    if [ -n "${SMOKE_BINARY:-}" ]; then
        repo=$root/examples/$example
    else
        repo=/app/examples/$example
    fi
    input=$(printf '{"input": {"repo": "%s", "test_command": "%s", "runs": 20, "parallelism": 4, "seeds": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20], "timeout": 300}}' "$repo" "$command")
    want="$framework flaky $seeds"
    if got=$(run_job "$input" | read_result); then
        mechanism=${got##*|}
        got=${got%|*}
        if [ "$got" = "$want" ]; then
            echo "ok      $example: $got (isolation: $mechanism)"
            continue
        fi
        echo "FAILED  $example: got \`$got\`, want \`$want\`" >&2
    else
        echo "FAILED  $example: the job did not produce a result" >&2
    fi
    failed=$((failed + 1))
done
if [ "$failed" -gt 0 ]; then
    echo "$failed example(s) failed" >&2
    exit 1
fi
echo "all examples passed"

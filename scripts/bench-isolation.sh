#!/usr/bin/env bash
# Isolation benchmark (issue 7). Prints figures; asserts nothing.
#  1. Per isolation mode, the cost of a run's place for a 50 MB repository with a 200 MB
#     virtualenv inside it: ms per run at parallelism 8, and new disk with 8 runs in flight
#     (examples/bench_isolation.rs).
#  2. The core benchmark: 500 runs of `true` at parallelism 2 on a tiny repository with
#     `isolation: run` (and `shared`, for reference) against `seq 500 | xargs -P2 -n1 true`.
#     The goal is run mode within 1.15x of xargs.
# Usage: scripts/bench-isolation.sh [ROUNDS]   (FLAKY_WORK_DIR picks the filesystem)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"

cargo build --release --quiet --bin flaky-detector --example bench_isolation
bin=target/release/flaky-detector

scratch="$(mktemp -d "${FLAKY_WORK_DIR:-${TMPDIR:-/tmp}}/bench-isolation.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "== per-run place: 50 MB repository + 200 MB virtualenv, parallelism 8 =="
target/release/examples/bench_isolation "$scratch" 48

echo
echo "== core: 500 runs of true, parallelism 2, tiny repository (${rounds} rounds) =="
tiny="$scratch/tiny"
mkdir -p "$tiny/src"
echo "tiny" > "$tiny/README"
echo "print(1)" > "$tiny/src/main.py"
export FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache"
mkdir -p "$FLAKY_WORK_DIR" "$FLAKY_CACHE_DIR"

seconds() { # command... -> wall seconds on stdout
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
xargs_true() { seq 500 | xargs -P2 -n1 true; }
detector() { "$bin" run --repo "$tiny" -c true -n 500 -p 2 --isolation "$1" --json; }

declare -a xs runs shareds
for ((i = 0; i < rounds; i++)); do
    xs+=("$(seconds xargs_true)")
    runs+=("$(seconds detector run)")
    shareds+=("$(seconds detector shared)")
done
stats() { # values... -> "min median"
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[1], v[int((NR + 1) / 2)] }'
}
read -r x_min x_med <<< "$(stats "${xs[@]}")"
read -r r_min r_med <<< "$(stats "${runs[@]}")"
read -r s_min s_med <<< "$(stats "${shareds[@]}")"
printf '%-34s %8s %8s %14s\n' "" "min s" "median s" "median/xargs"
printf '%-34s %8s %8s %14s\n' "seq 500 | xargs -P2 -n1 true" "$x_min" "$x_med" "1.00"
printf '%-34s %8s %8s %14.2f\n' "flaky-detector --isolation run" "$r_min" "$r_med" "$(awk -v a="$r_med" -v b="$x_med" 'BEGIN { print a / b }')"
printf '%-34s %8s %8s %14.2f\n' "flaky-detector --isolation shared" "$s_min" "$s_med" "$(awk -v a="$s_med" -v b="$x_med" 'BEGIN { print a / b }')"

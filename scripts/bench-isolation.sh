#!/usr/bin/env bash
# Isolation benchmark (issue 7). Prints figures; asserts nothing.
#  1. Per isolation mode, the cost of a run's place for a 50 MB repository with a 200 MB
#     virtualenv inside it: ms per run at parallelism 8, and new disk with 8 runs in flight
#     (benches/isolation.rs).
#  2. The core benchmark: 500 runs of `true` at parallelism 2 on a tiny repository with
#     each isolation mode against `seq 500 | xargs -P2 -n1 true`, wall and CPU time.
#     The goal is run mode within 1.15x of xargs.
# Usage: scripts/bench-isolation.sh [ROUNDS]   (FLAKY_WORK_DIR picks the filesystem)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-5}"

cargo build --release --quiet --bin flaky-detector
cargo bench --quiet --bench isolation --no-run
bin=target/release/flaky-detector

scratch="$(mktemp -d "${FLAKY_WORK_DIR:-${TMPDIR:-/tmp}}/bench-isolation.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

echo "== per-run place: 50 MB repository + 200 MB virtualenv, parallelism 8 =="
cargo bench --quiet --bench isolation -- "$scratch" 48

echo
echo "== core: 500 runs of true, parallelism 2, tiny repository (${rounds} rounds) =="
tiny="$scratch/tiny"
mkdir -p "$tiny/src"
echo "tiny" > "$tiny/README"
echo "print(1)" > "$tiny/src/main.py"
export FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache"
mkdir -p "$FLAKY_WORK_DIR" "$FLAKY_CACHE_DIR"

measure() { # command... -> "wall cpu" seconds (cpu = user + sys of the command and its children)
    local TIMEFORMAT='%R %U %S' t
    t=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
    awk -v t="$t" 'BEGIN { split(t, f, " "); printf "%.3f %.3f", f[1], f[2] + f[3] }'
}
xargs_true() { seq 500 | xargs -P2 -n1 true; }
detector() { "$bin" run --repo "$tiny" -c true -n 500 -p 2 --isolation "$1" --json; }

declare -A wall cpu
for ((i = 0; i < rounds; i++)); do
    for name in xargs run slot shared; do
        if [ "$name" = xargs ]; then m=$(measure xargs_true); else m=$(measure detector "$name"); fi
        wall[$name]+="${m% *} "
        cpu[$name]+="${m#* } "
    done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-36s %12s %12s %14s\n' "median of ${rounds}" "wall s" "cpu s" "wall / xargs"
xw=$(median "${wall[xargs]}")
for name in xargs run slot shared; do
    w=$(median "${wall[$name]}")
    c=$(median "${cpu[$name]}")
    label="flaky-detector --isolation $name"
    [ "$name" = xargs ] && label="seq 500 | xargs -P2 -n1 true"
    printf '%-36s %12s %12s %14.2f\n' "$label" "$w" "$c" "$(awk -v a="$w" -v b="$xw" 'BEGIN { print a / b }')"
done

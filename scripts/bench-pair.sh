#!/usr/bin/env bash
# Two flaky-detector binaries side by side on the fast default path, with `xargs -P` as the
# yardstick: $RUNS x `true` at parallelism $PARALLELISM in a git clone of a generated
# $FILES-file project, handed over as a local directory (as jobs get them). The three take
# turns within each of $ROUNDS rounds, so background load hits them alike; prints each one's
# median wall time and its ratio to xargs. Asserts nothing.
#
# Usage: scripts/bench-pair.sh BIN_A BIN_B
#   e.g. BIN_A = a release build of main, BIN_B = one of the commit before a change
# Environment: ROUNDS [7]  RUNS [500]  PARALLELISM [2]  FILES [300]
set -euo pipefail
export LC_ALL=C
[ $# -eq 2 ] || { echo "usage: $0 BIN_A BIN_B" >&2; exit 2; }
bin_a="$1" bin_b="$2"
for bin in "$bin_a" "$bin_b"; do
    [ -x "$bin" ] || { echo "bench-pair: no executable at $bin" >&2; exit 1; }
done
rounds="${ROUNDS:-7}" runs="${RUNS:-500}" par="${PARALLELISM:-2}" files="${FILES:-300}"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-pair.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
origin="$scratch/origin"
mkdir -p "$origin"
for ((i = 0; i < files - 1; i++)); do
    mkdir -p "$origin/pkg/d$((i / 50))"
    printf 'VALUE = %d\n' "$i" > "$origin/pkg/d$((i / 50))/m$i.py"
done
echo "generated project ($files files)" > "$origin/README.md"
git -C "$origin" init -q
git -C "$origin" add -A
git -C "$origin" -c user.name=bench -c user.email=bench@localhost commit -q -m generated
git clone -q --no-local "$origin" "$scratch/clone"
git clone -q --no-local "$origin" "$scratch/clone.xargs"

# Seconds, to the millisecond, that "$@" takes from start to exit.
wall() {
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s%N)
    awk -v ns="$((end - start))" 'BEGIN {printf "%.3f\n", ns / 1e9}'
}
detector() {
    FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache" FLAKY_DB="$scratch/history.db" \
        "$1" run --repo "$scratch/clone" --command true --runs "$runs" --parallelism "$par" --json
}
plain() { (cd "$scratch/clone.xargs" && seq "$runs" | xargs -P "$par" -n1 true); }
mkdir -p "$scratch/work" "$scratch/cache"

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
: > "$scratch/a"; : > "$scratch/b"; : > "$scratch/x"
detector "$bin_a" > /dev/null 2>&1 || { echo "bench-pair: $bin_a failed a warm-up job" >&2; exit 1; }
detector "$bin_b" > /dev/null 2>&1 || { echo "bench-pair: $bin_b failed a warm-up job" >&2; exit 1; }
for ((round = 1; round <= rounds; round++)); do
    wall detector "$bin_a" >> "$scratch/a"
    wall detector "$bin_b" >> "$scratch/b"
    wall plain >> "$scratch/x"
done
a=$(median < "$scratch/a") b=$(median < "$scratch/b") x=$(median < "$scratch/x")
echo "$runs x true at P=$par in a $files-file clone, median of $rounds rounds (load $(cut -d' ' -f1 /proc/loadavg)):"
printf '  xargs -P%s  %6.3f s\n' "$par" "$x"
ratio() { awk -v p="$1" -v q="$2" 'BEGIN {printf "%.3f", p / q}'; }
printf '  A %s  %6.3f s  %sx xargs\n' "$bin_a" "$a" "$(ratio "$a" "$x")"
printf '  B %s  %6.3f s  %sx xargs\n' "$bin_b" "$b" "$(ratio "$b" "$x")"
printf '  A / B  %s\n' "$(ratio "$a" "$b")"

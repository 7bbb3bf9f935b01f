#!/usr/bin/env bash
# Build-once benchmark (issue 15). Prints figures; asserts nothing.
# 100 runs at parallelism 2 of (a) the Go example (`go test -count=1 ./...`) and (b) the Rust
# example (`cargo test`): flaky-detector (build_once auto, then off) against
# `seq 100 | xargs -P2` of the plain command with a seed variable per run. Every cache is
# warmed first (one detector job and one plain run each), so the figures compare the
# per-run cost, not a cold build. Detector times are whole jobs (copy, install check, build,
# runs, summary) with confirmation off. The target is build_once >= 3x faster than xargs.
# Usage: scripts/bench-build-once.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"

# FLAKY_BIN: an already built binary (default: a release build of this checkout).
if [ -z "${FLAKY_BIN:-}" ]; then
    cargo build --release --quiet --bin flaky-detector
fi
bin="${FLAKY_BIN:-$PWD/target/release/flaky-detector}"

scratch="$(mktemp -d "${FLAKY_WORK_DIR:-${TMPDIR:-/tmp}}/bench-build-once.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache"
mkdir -p "$FLAKY_WORK_DIR" "$FLAKY_CACHE_DIR"
cp -r examples/go "$scratch/go"
mkdir -p "$scratch/rust"
cp -r examples/rust/Cargo.toml examples/rust/Cargo.lock examples/rust/src examples/rust/tests "$scratch/rust/"
# The plain runs share one build cache, as a developer's loop would.
export GOCACHE="$scratch/gocache" GOFLAGS=-modcacherw CARGO_TARGET_DIR="$scratch/target"

seconds() { # command... -> wall seconds
    local TIMEFORMAT='%R' t
    t=$( { time "$@" > /dev/null 2>&1; } 2>&1 )
    echo "$t"
}
detector() { # repo command mode
    "$bin" run --repo "$1" -c "$2" -n "$runs" -p 2 --no-confirm --build-once "$3" --json \
        --db "$scratch/history.db"
}
plain() { # dir seed-variable command
    (cd "$1" && seq "$runs" | xargs -P2 -I{} env "$2={}" sh -c "$3 || true")
}

printf '%-34s %10s %10s %10s %12s %12s\n' "$runs runs at P=2" "xargs s" "once s" "plain s" \
    "xargs/once" "xargs/plain"
report() { # label xargs once plain
    printf '%-34s %10s %10s %10s %12.2f %12.2f\n' "$1" "$2" "$3" "$4" \
        "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')" \
        "$(awk -v a="$2" -v b="$4" 'BEGIN { print a / b }')"
}

go_cmd="go test -count=1 ./..."
(cd "$scratch/go" && { go test -count=1 ./... > /dev/null 2>&1 || true; })
"$bin" run --repo "$scratch/go" -c "$go_cmd" -n 2 -p 2 --no-confirm --json \
    --db "$scratch/history.db" > /dev/null 2>&1 || true
x=$(seconds plain "$scratch/go" GO_TEST_SEED "$go_cmd")
o=$(seconds detector "$scratch/go" "$go_cmd" auto)
p=$(seconds detector "$scratch/go" "$go_cmd" off)
report "(a) go test -count=1 ./..." "$x" "$o" "$p"

rust_cmd="cargo test"
(cd "$scratch/rust" && { cargo test > /dev/null 2>&1 || true; })
"$bin" run --repo "$scratch/rust" -c "$rust_cmd" -n 2 -p 2 --no-confirm --json \
    --db "$scratch/history.db" > /dev/null 2>&1 || true
x=$(seconds plain "$scratch/rust" TEST_SEED "$rust_cmd")
o=$(seconds detector "$scratch/rust" "$rust_cmd" auto)
p=$(seconds detector "$scratch/rust" "$rust_cmd" off)
report "(b) cargo test" "$x" "$o" "$p"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

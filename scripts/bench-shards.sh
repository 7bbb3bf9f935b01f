#!/usr/bin/env bash
# Sharding benchmark: 1,000 runs submitted as one job to one local `serve`, then split into
# 4 shards over 4 local `serve` processes (one shard each, as RunPod spreads shards over an
# endpoint's workers). Prints the wall time of each and the ratio. Both use the same
# seeds (1..1000), so both must report the same failures; the script exits non-zero if
# they do not.
#
# The test sleeps SLEEP seconds per run (default 0.1), like a test waiting on I/O; a
# CPU-bound test gains nothing from 4 servers on one 2-core machine, only on 4 workers.
#
# Usage: scripts/bench-shards.sh [RUNS] [PARALLELISM]   (defaults 1000 and 4)
set -euo pipefail

runs="${1:-1000}"
parallelism="${2:-4}"
sleep_seconds="${SLEEP:-0.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cargo build --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/debug/flaky-detector"

scratch="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

mkdir -p "$scratch/repo"
# Fails for every 50th seed: the same 20 failures in both set-ups.
cat > "$scratch/repo/test.sh" <<EOF
sleep $sleep_seconds
test \$((TEST_SEED % 50)) -ne 0
EOF

urls=()
for i in 1 2 3 4; do
  dir="$scratch/serve$i"
  mkdir -p "$dir"
  FLAKY_WORK_DIR="$dir/work" FLAKY_CACHE_DIR="$dir/cache" FLAKY_DB="$dir/history.db" \
    "$bin" serve --port 0 --allow-local-repos >"$dir/stdout" 2>"$dir/stderr" &
  pids+=("$!")
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$dir/stdout"; then break; fi
    sleep 0.1
  done
  url="$(sed -n 's/^listening on //p' "$dir/stdout")"
  if [ -z "$url" ]; then
    echo "serve $i did not start:" >&2
    cat "$dir/stderr" >&2
    exit 1
  fi
  urls+=("$url")
done

seeds="$(seq -s, 1 "$runs")"
common=(--repo "$scratch/repo" --command "sh test.sh" --seed "$seeds" --parallelism "$parallelism"
        --no-confirm --poll-interval 0.2 --timeout 3600 --json)

# Prints: seconds failures total_runs.
measure() {
  local started ended
  started="$(date +%s.%N)"
  "$bin" submit "$@" "${common[@]}" >"$scratch/summary.json" 2>"$scratch/stderr" || {
    cat "$scratch/stderr" >&2
    exit 1
  }
  ended="$(date +%s.%N)"
  python3 - "$started" "$ended" "$scratch/summary.json" <<'PY'
import json, sys
started, ended, path = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = json.load(open(path))
print(f"{ended - started:.2f} {s['failures']} {s['total_runs']}")
PY
}

read -r one_seconds one_failures one_total < <(measure --url "${urls[0]}")
read -r four_seconds four_failures four_total < <(
  measure --url "${urls[0]}" --url "${urls[1]}" --url "${urls[2]}" --url "${urls[3]}" --shards 4)

printf '%-28s %6s %8s %9s\n' setup runs failures seconds
printf '%-28s %6s %8s %9s\n' "1 job on 1 serve" "$one_total" "$one_failures" "$one_seconds"
printf '%-28s %6s %8s %9s\n' "4 shards on 4 serves" "$four_total" "$four_failures" "$four_seconds"
python3 -c "import sys; print(f'wall-time ratio (1 job / 4 shards): {float(sys.argv[1]) / float(sys.argv[2]):.2f}x')" \
  "$one_seconds" "$four_seconds"
echo "(${runs} runs, ${parallelism} at once per serve, ${sleep_seconds} s per run, $(nproc) cores)"

if [ "$one_failures" != "$four_failures" ] || [ "$one_total" != "$four_total" ]; then
  echo "the sharded summary differs from the single job's" >&2
  exit 1
fi

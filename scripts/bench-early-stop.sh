#!/usr/bin/env bash
# Early-stop benchmark: for an always-failing command and one failing about 70 % of runs,
# asks for 200 runs with and without `--stop-early` and prints how many runs each used and
# whether both reach the same verdict and severity. Exits non-zero if early stop used more
# than half the runs or changed the verdict or severity.
#
# Usage: scripts/bench-early-stop.sh [RUNS] [PARALLELISM]   (defaults 200 and 4)
set -euo pipefail

runs="${1:-200}"
parallelism="${2:-4}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

cargo build --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/debug/flaky-detector"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/repo" "$scratch/work" "$scratch/cache"
export FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache"

# name|command: seeds are drawn at random, so the 70 % command fails for seed % 10 < 7.
cases=(
  "always-failing|sh -c 'echo connection refused >&2; exit 1'"
  "fails ~70%|sh -c 'test \$((TEST_SEED % 10)) -ge 7'"
)

# Prints: runs-used runs-saved verdict severity rate ci-low ci-high.
figures() {
  python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["total_runs"], s["runs_saved"], s["verdict"], s["severity"],
      s["repro_rate"], s["ci_low"], s["ci_high"])'
}

status=0
printf '%-16s %-11s %5s %6s %7s  %-15s %-9s %6s  %-13s %7s\n' \
  case mode asked used used% verdict severity rate "95% CI" seconds
for entry in "${cases[@]}"; do
  name="${entry%%|*}"
  command="${entry#*|}"
  declare -A verdict=() severity=()
  for mode in full stop-early; do
    flags=(--no-confirm)
    if [[ "$mode" == stop-early ]]; then
      flags+=(--stop-early)
    fi
    started="$(date +%s.%N)"
    json="$("$bin" run --repo "$scratch/repo" -c "$command" -n "$runs" -p "$parallelism" \
      "${flags[@]}" --json 2>/dev/null)"
    ended="$(date +%s.%N)"
    read -r used saved v sev rate low high < <(figures <<<"$json")
    verdict[$mode]="$v"
    severity[$mode]="$sev"
    share="$(python3 -c "print(f'{100 * $used / $runs:.0f}%')")"
    seconds="$(python3 -c "print(f'{$ended - $started:.1f}')")"
    printf '%-16s %-11s %5s %6s %7s  %-15s %-9s %6s  %-13s %7s\n' \
      "$name" "$mode" "$runs" "$used" "$share" "$v" "$sev" "$rate" "$low-$high" "$seconds"
    if [[ "$mode" == stop-early ]]; then
      if (( used * 2 > runs )); then
        echo "  FAIL: early stop used more than half of the $runs runs ($saved saved)"
        status=1
      fi
      if [[ "${verdict[full]}" != "$v" || "${severity[full]}" != "$sev" ]]; then
        echo "  FAIL: early stop said $v/$sev, the full run ${verdict[full]}/${severity[full]}"
        status=1
      else
        echo "  ok: same verdict and severity as the full $runs runs, $saved runs saved"
      fi
    fi
  done
  unset verdict severity
done
exit "$status"

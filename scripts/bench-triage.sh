#!/usr/bin/env bash
# Triage benchmark (issue 25): a pytest project of FILES x 20 passing tests (each sleeping
# 10 ms) plus the six tests of tests/support/triage.rs (one per verdict), base on `main`
# and head on `feature`, cloned as a worker gets it. The red run's JUnit (head, CI_ONLY=1)
# goes to `flaky-detector triage`; the script prints, per failing test, its verdict and the
# runs a side it took to settle, and the triage's wall time, beside the alternative of
# rerunning the whole suite MAX_RUNS times on each side: with flaky-detector `run` and with
# plain `xargs -P` reruns of pytest.
#
# Usage: scripts/bench-triage.sh [MAX_RUNS] [PARALLELISM] [FILES]   (defaults 60, 2, 10)
#        FLAKY_BIN=path/to/flaky-detector uses that binary instead of building a release one.
set -euo pipefail

max_runs="${1:-60}"
parallelism="${2:-2}"
files="${3:-10}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${FLAKY_BIN:-}"
if [ -z "$bin" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  bin="$root/target/release/flaky-detector"
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/work" "$scratch/cache"
export FLAKY_WORK_DIR="$scratch/work" FLAKY_CACHE_DIR="$scratch/cache"

src="$scratch/src"
python3 - "$src" "$files" <<'PY'
import pathlib, subprocess, sys
out, files = pathlib.Path(sys.argv[1]), int(sys.argv[2])
(out / "tests").mkdir(parents=True)
def git(*args):
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", *args], cwd=out, check=True, capture_output=True)
for f in range(files):
    body = "import time\n" + "".join(f"\ndef test_pass_{i}():\n    time.sleep(0.01)\n" for i in range(20))
    (out / "tests" / f"test_suite_{f}.py").write_text(body)
common = ("import os\nSEED = int(os.environ['TEST_SEED'])\n\n"
          "def test_flaky_before():\n    assert SEED % 3 != 0\n\n"
          "def test_ci_only():\n    assert os.environ.get('CI_ONLY') != '1'\n\n"
          "def test_broken_both():\n    assert False\n\n")
base = common + "def test_regression():\n    assert 1 + 1 == 2\n\ndef test_new_flake():\n    pass\n"
head = common + ("def test_regression():\n    assert 1 + 1 == 3\n\ndef test_new_flake():\n    assert SEED % 2 != 0\n\n"
                 "def test_brand_new():\n    assert False\n")
(out / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n*.xml\n")
(out / "tests" / "test_triage.py").write_text(base)
git("init", "-q", "-b", "main"); git("add", "-A"); git("commit", "-qm", "base")
git("checkout", "-qb", "feature")
(out / "tests" / "test_triage.py").write_text(head)
git("commit", "-qam", "head"); git("checkout", "-q", "main")
PY
git clone -q --bare "$src" "$scratch/origin.git"
origin="$scratch/origin.git"
git clone -q --branch feature "$origin" "$scratch/head"
(
  cd "$scratch/head"
  CI_ONLY=1 TEST_SEED=6 python3 -m pytest -q --junitxml="$scratch/red.xml" tests >/dev/null 2>&1 || true
)
tests=$((files * 20 + 6))
now() { date +%s.%N; }
command="python3 -m pytest -q tests"

t0=$(now)
"$bin" triage --repo "$origin" --ref feature --from-junit "$scratch/red.xml" --command "$command" \
  --max-runs "$max_runs" -p "$parallelism" --json >"$scratch/triage.json" 2>/dev/null
t1=$(now)
"$bin" run --repo "$origin" --ref feature --command "$command" --runs "$max_runs" -p "$parallelism" \
  --no-confirm --json >/dev/null 2>&1 || true
"$bin" run --repo "$origin" --ref main --command "$command" --runs "$max_runs" -p "$parallelism" \
  --no-confirm --json >/dev/null 2>&1 || true
t2=$(now)
git clone -q --branch main "$origin" "$scratch/base"
for side in head base; do
  (cd "$scratch/$side" && seq "$max_runs" | xargs -P "$parallelism" -I{} sh -c "TEST_SEED={} $command >/dev/null 2>&1 || true")
done
t3=$(now)

python3 - "$scratch/triage.json" "$t0" "$t1" "$t2" "$t3" "$max_runs" "$parallelism" "$tests" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
t0, t1, t2, t3 = map(float, sys.argv[2:6])
max_runs, p, tests = sys.argv[6], sys.argv[7], sys.argv[8]
triage = summary["triage"]
print(f"suite: {tests} tests; budget {max_runs} runs a side; parallelism {p}")
print(f"| failing test | verdict | runs a side to settle | failed at head | failed at base |")
print(f"|---|---|---|---|---|")
for t in triage["tests"]:
    base = "new" if t.get("new_at_head") else f"{t['base']['failures']}/{t['base']['runs']}"
    print(f"| {t['test'].split('::')[-1]} | {t['verdict']} | {t['settled_after']} | {t['head']['failures']}/{t['head']['runs']} | {base} |")
print(f"triage: {triage['head_runs']} runs at head + {triage['base_runs']} at base of the 6 failing tests, {t1 - t0:.1f} s ({triage['stopped']})")
print(f"whole suite {max_runs} times a side with flaky-detector run: {t2 - t1:.1f} s")
print(f"whole suite {max_runs} times a side with xargs -P {p} (no verdict): {t3 - t2:.1f} s")
PY

#!/usr/bin/env bash
# Issue 10's table in one run: the Python seed project, flaky-detector with default settings
# (and `--isolation shared --no-confirm`), and `xargs -P` running the same command, each on a
# git clone handed over as a local repository path, as jobs get them. Prints figures and
# asserts nothing; the raw numbers stay in $BENCH_OUT (raw.tsv, one row per measurement).
#
# Workloads (parallelism $PARALLELISM, default 2):
#   (a) a generated 300-file project: $TRUE_RUNS x `true`; $FLAKY_RUNS x a pytest test failing ~40 %
#       by its seed (TEST_SEED); $OUT_RUNS runs each printing 1 MiB and failing;
#   (b) a clone of a real Python project ($REAL_PROJECT_GIT, default pytoolz/toolz):
#       50 x `pytest -q $REAL_TEST_FILE`;
#   (c) a generated 5,000-file project: $ISO_RUNS x `true`, shown as milliseconds per run
#       above xargs (the per-run isolation cost);
#   (d) 2 x `true` on the 300-file project, in seconds: a job's fixed cost.
# Every figure is the median of $ROUNDS rounds; contenders take turns within a round so
# background load hits them alike. Each contender's time is its whole process, start to exit
# (the seed worker's Python start and SDK import included, as in a real job).
#
# How each contender runs a workload:
#   - xargs: `seq N | xargs -P2 -n1 CMD` in its own clone; when the test reads a seed,
#     `xargs -I{} env FLAKY_SEED={} TEST_SEED={} CMD` instead (CMD split as the detector splits it);
#   - flaky-detector: `run --repo CLONE -c CMD -n N -p 2 --json` (FLAKY_BIN, else built here
#     with `cargo build --release --bin flaky-detector`); cache, work dir and history in scratch;
#   - the seed project: `python worker.py --test_input '{"input": {"repo": CLONE, ...}}'` in a
#     clone of it, in a virtualenv holding its requirements (requirements-minimal.txt: runpod,
#     pytest, PyYAML) from PyPI; the same virtualenv's pytest serves all contenders. RunPod's
#     webhook variables point at 127.0.0.1; with --test_input the SDK makes no request.
#
# Usage: scripts/bench-real-checkout.sh
# Environment (all optional):
#   SEED_PROJECT_GIT  git dir or URL of runpod-Henrik/serverless_test
#                     [/work/.mirror/runpod-Henrik+serverless_test/repo]
#   REAL_PROJECT_GIT  git dir or URL of the real project [/work/.mirror/pytoolz+toolz/repo]
#   REAL_TEST_FILE    its test file [toolz/tests/test_dicttoolz.py]
#   FLAKY_BIN         flaky-detector binary to measure [built from this checkout]
#   BENCH_VENV        virtualenv to create or reuse [a fresh one in scratch]
#   BENCH_OUT         where raw.tsv, table.md and per-run logs go [target/bench-real-checkout]
#   ROUNDS [3]  PARALLELISM [2]  TRUE_RUNS [500]  FLAKY_RUNS [100]  REAL_RUNS [50]  OUT_RUNS [200]
#   ISO_RUNS [200]
#   CONTENDERS        subset of "xargs seed default shared" [all four]
set -euo pipefail
export LC_ALL=C
root="$(cd "$(dirname "$0")/.." && pwd)"

seed_git="${SEED_PROJECT_GIT:-/work/.mirror/runpod-Henrik+serverless_test/repo}"
real_git="${REAL_PROJECT_GIT:-/work/.mirror/pytoolz+toolz/repo}"
real_test="${REAL_TEST_FILE:-toolz/tests/test_dicttoolz.py}"
rounds="${ROUNDS:-3}"
par="${PARALLELISM:-2}"
flaky_runs="${FLAKY_RUNS:-100}"
real_runs="${REAL_RUNS:-50}"
iso_runs="${ISO_RUNS:-200}"
true_runs="${TRUE_RUNS:-500}"
out_runs="${OUT_RUNS:-200}"
read -r -a contenders <<<"${CONTENDERS:-xargs seed default shared}"
out="${BENCH_OUT:-$root/target/bench-real-checkout}"

die() { echo "bench-real-checkout: $*" >&2; exit 1; }
note() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

reachable() { git ls-remote "$1" HEAD > /dev/null 2>&1; }
reachable "$seed_git" || die "the seed project is not at SEED_PROJECT_GIT=$seed_git.
  Get it with the session's fetch tool (github:runpod-Henrik/serverless_test, which leaves a git
  dir under /work/.mirror/), or where GitHub is reachable:
  git clone --mirror https://github.com/runpod-Henrik/serverless_test /some/dir; then set SEED_PROJECT_GIT=/some/dir"
reachable "$real_git" || die "the real project is not at REAL_PROJECT_GIT=$real_git.
  Get it with the fetch tool (github:pytoolz/toolz) or git clone --mirror it, then set REAL_PROJECT_GIT"

if [ -n "${FLAKY_BIN:-}" ]; then
    bin="$FLAKY_BIN"
else
    note "building the release binary"
    (cd "$root" && cargo build --release --quiet --bin flaky-detector)
    bin="$root/target/release/flaky-detector"
fi
[ -x "$bin" ] || die "no flaky-detector binary at $bin"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-real-checkout.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$out"
raw="$out/raw.tsv"
printf 'workload\tcontender\tround\twall_s\truns\tfailures\treplays\tdetail\n' > "$raw"

# --- the seed project and the shared virtualenv ---------------------------------------------
seed_dir="$scratch/seed"
git clone -q "$seed_git" "$seed_dir"
venv="${BENCH_VENV:-$scratch/venv}"
if [ ! -e "$venv/.bench-ready" ]; then
    note "installing the seed project's requirements into $venv (PyPI)"
    python3 -m venv "$venv"
    reqs="$seed_dir/requirements-minimal.txt"
    [ -f "$reqs" ] || reqs="$seed_dir/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs" pytest
    touch "$venv/.bench-ready"
fi
export PATH="$venv/bin:$PATH"
py="$venv/bin/python"

# --- the checkouts ----------------------------------------------------------------------------
# A project of $2 files: Python modules in folders of 50, a seeded test failing ~40 % of seeds.
generate() {
    local dir="$1" files="$2" i
    mkdir -p "$dir/tests"
    echo "generated benchmark project ($files files)" > "$dir/README.md"
    cat > "$dir/tests/test_flaky.py" <<'EOF'
import os
import random


def test_fails_for_about_forty_percent_of_seeds():
    rng = random.Random(int(os.environ.get("TEST_SEED", "0")))
    assert rng.random() >= 0.4
EOF
    for ((i = 0; i < files - 2; i++)); do
        mkdir -p "$dir/pkg/d$((i / 50))"
        printf 'VALUE = %d\n\n\ndef value():\n    return VALUE\n' "$i" > "$dir/pkg/d$((i / 50))/m$i.py"
    done
    git -C "$dir" init -q
    git -C "$dir" add -A
    git -C "$dir" -c user.name=bench -c user.email=bench@localhost commit -q -m "generated"
}
# Two clones of each project: one the detector and the seed project copy from (left as
# cloned), one xargs works in (its runs leave caches there, as they would in a CI checkout).
# --no-local: objects arrive packed, as from a real remote, not as thousands of hard links.
clone_pair() {
    git clone -q --no-local "$1" "$2"
    git clone -q --no-local "$1" "$2.xargs"
}
note "generating and cloning the projects"
generate "$scratch/origin300" 300
generate "$scratch/origin5000" 5000
clone_pair "$scratch/origin300" "$scratch/p300"
clone_pair "$scratch/origin5000" "$scratch/p5000"
clone_pair "$real_git" "$scratch/real"
[ -f "$scratch/real/$real_test" ] || die "no $real_test in the real project's clone"

# --- contenders -------------------------------------------------------------------------------
export FLAKY_CACHE_DIR="$scratch/cache" FLAKY_WORK_DIR="$scratch/work" FLAKY_DB="$scratch/history.db"
mkdir -p "$FLAKY_CACHE_DIR" "$FLAKY_WORK_DIR"

# Each runs one measurement; the stats_* functions afterwards, out of the timed span, print
# "runs failures replays detail" for raw.tsv ("-" where the contender cannot tell).
run_xargs() { # dir runs seeded cmd
    local dir="$1" n="$2" seeded="$3" cmd="$4" status=0 argv
    eval "argv=($cmd)"
    if [ "$seeded" = yes ]; then
        (cd "$dir.xargs" && seq "$n" | xargs -P"$par" -I{} env FLAKY_SEED={} TEST_SEED={} "${argv[@]}") \
            > /dev/null 2>&1 || status=$?
    else
        (cd "$dir.xargs" && seq "$n" | xargs -P"$par" -n1 "${argv[@]}") > /dev/null 2>&1 || status=$?
    fi
    # 123: some command exited non-zero, as a failing test does.
    [ "$status" = 0 ] || [ "$status" = 123 ] || die "xargs exited $status on $cmd"
}
run_detector() { # log dir runs cmd [flags...]
    local log="$1" dir="$2" n="$3" cmd="$4"
    shift 4
    "$bin" run --repo "$dir" -c "$cmd" -n "$n" -p "$par" --json "$@" > "$log.json" 2> "$log.err" \
        || die "flaky-detector failed on $cmd: $(tail -c 600 "$log.err")"
}
stats_detector() { # log
    "$py" - "$1.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s.get("confirmation") or {}
replays = c.get("alone_runs", 0) + c.get("load_runs", 0)
detail = [f"{k}={s[k]}" for k in ("isolation", "verdict") if s.get(k) is not None]
detail.append(f"install={s['install']['status']}")
print(len(s.get("results", [])), s["failures"], replays, ",".join(detail))
EOF
    # Summaries of the 1 MiB workload are large: keep a head for reading.
    head -c 4096 "$1.json" > "$1.head.json" && rm -f "$1.json"
}
run_seed() { # log dir runs cmd
    local log="$1" dir="$2" n="$3" cmd="$4" input
    input="$("$py" -c 'import json, sys; print(json.dumps({"input": {"repo": sys.argv[1],
        "test_command": sys.argv[2], "runs": int(sys.argv[3]), "parallelism": int(sys.argv[4])}}))' \
        "$dir" "$cmd" "$n" "$par")"
    # Its result (all output of all runs) is logged on one line: keep the start of each line.
    (cd "$seed_dir" && env -u RUNPOD_REALTIME_PORT \
        RUNPOD_WEBHOOK_GET_JOB=http://127.0.0.1:9/job-take \
        RUNPOD_WEBHOOK_POST_OUTPUT=http://127.0.0.1:9/job-done \
        RUNPOD_WEBHOOK_PING=http://127.0.0.1:9/ping \
        "$py" worker.py --test_input "$input" 2>&1 | cut -c1-400 > "$log.log") \
        || die "the seed worker failed on $cmd: $(tail -c 600 "$log.log")"
}
stats_seed() { # log runs
    grep -q "Local testing complete" "$1.log" || die "the seed worker did not finish: $(tail -c 600 "$1.log")"
    local failures
    failures="$(grep -o "'failures': [0-9]*" "$1.log" | head -1 | grep -o '[0-9]*$' || echo -)"
    echo "$2 ${failures:--} - -"
}

measure() { # workload round contender dir runs seeded cmd
    local workload="$1" round="$2" who="$3" dir="$4" n="$5" seeded="$6" cmd="$7"
    local log="$out/logs/$workload-$who-$round" start end wall figures
    mkdir -p "$out/logs"
    start="$EPOCHREALTIME"
    case "$who" in
        xargs) run_xargs "$dir" "$n" "$seeded" "$cmd" ;;
        seed) run_seed "$log" "$dir" "$n" "$cmd" ;;
        default) run_detector "$log" "$dir" "$n" "$cmd" ;;
        shared) run_detector "$log" "$dir" "$n" "$cmd" --isolation shared --no-confirm ;;
        *) die "unknown contender $who (CONTENDERS takes xargs seed default shared)" ;;
    esac
    end="$EPOCHREALTIME"
    wall="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')"
    case "$who" in
        xargs) figures="$n - - -" ;;
        seed) figures="$(stats_seed "$log" "$n")" ;;
        *) figures="$(stats_detector "$log")" ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$workload" "$who" "$round" "$wall" "${figures// /$'\t'}" >> "$raw"
    note "$workload $who round $round: ${wall} s ($figures)"
}

# The workloads, in the order of the table.
names=()
declare -A w_dir w_runs w_seeded w_cmd w_label
workload() { # name dir runs seeded label cmd
    names+=("$1")
    w_dir[$1]="$2" w_runs[$1]="$3" w_seeded[$1]="$4" w_label[$1]="$5" w_cmd[$1]="$6"
}
workload true500 "$scratch/p300" "$true_runs" no "$true_runs × \`true\`, 300-file git clone" true
workload flaky "$scratch/p300" "$flaky_runs" yes \
    "$flaky_runs × a 40 %-flaky pytest test, 300-file git clone" "pytest -q tests/test_flaky.py"
real_name="$(basename "$real_git" .git)"
[ "$real_name" = repo ] && real_name="$(basename "$(dirname "$real_git")")"
workload real "$scratch/real" "$real_runs" yes \
    "${real_name#*+} ($(git -C "$scratch/real" ls-files | wc -l) files), $real_runs × \`pytest $real_test\`" \
    "pytest -q $real_test"
workload out1m "$scratch/p300" "$out_runs" no "$out_runs runs × 1 MiB stdout, failing, 300-file git clone" \
    "sh -c 'head -c 1048576 /dev/zero | tr \"\\0\" x; exit 1'"
# Two runs: what a job costs besides its runs (copying the checkout, the isolation probe,
# history, removing the scratch directory), shown in seconds.
workload fixed2 "$scratch/p300" 2 no "2 × \`true\`, 300-file git clone: a job's fixed cost" true
workload iso5000 "$scratch/p5000" "$iso_runs" no \
    "5,000-file git clone, $iso_runs × \`true\`: per run above xargs" true

if [[ " ${contenders[*]} " =~ " default "|" shared " ]]; then
    note "warming up (the detector's install cache for the real project, page cache)"
    for name in "${names[@]}"; do
        run_detector "$scratch/warm-$name" "${w_dir[$name]}" 2 "${w_cmd[$name]}"
    done
fi

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
    for name in "${names[@]}"; do
        # Rotate who goes first so a burst of load does not always land on the same one.
        for ((k = 0; k < ${#contenders[@]}; k++)); do
            who="${contenders[$(((k + r) % ${#contenders[@]}))]}"
            measure "$name" "$r" "$who" "${w_dir[$name]}" "${w_runs[$name]}" "${w_seeded[$name]}" "${w_cmd[$name]}"
        done
    done
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- the table --------------------------------------------------------------------------------
median() { # workload contender -> median wall seconds
    awk -F'\t' -v w="$1" -v c="$2" '$1 == w && $2 == c { print $4 }' "$raw" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
header="| work | \`xargs -P$par\` |"
rule="|---|---|"
for who in "${contenders[@]}"; do
    case "$who" in
        xargs) continue ;;
        seed) header+=" the Python project |" ;;
        default) header+=" flaky-detector (default) |" ;;
        shared) header+=" \`--isolation shared --no-confirm\` |" ;;
    esac
    rule+="---|"
done
{
    echo "$header"
    echo "$rule"
    for name in "${names[@]}"; do
        n="${w_runs[$name]}"
        xs="$(median "$name" xargs)"
        row="| ${w_label[$name]} | ${xs:-?} s |"
        for who in "${contenders[@]}"; do
            [ "$who" = xargs ] && continue
            s="$(median "$name" "$who")"
            if [ -z "$s" ] || [ -z "$xs" ]; then
                row+=" — |"
            elif [ "$name" = fixed2 ]; then
                row+="$(awk -v s="$s" 'BEGIN { printf " %.3f s |", s }')"
            elif [ "$name" = iso5000 ]; then
                row+="$(awk -v s="$s" -v x="$xs" -v n="$n" 'BEGIN { printf " %+.1f ms/run (%.2f s) |", (s - x) * 1000 / n, s }')"
            else
                row+="$(awk -v s="$s" -v x="$xs" 'BEGIN { printf " %.2f × (%.2f s) |", s / x, s }')"
            fi
        done
        echo "$row"
    done
    echo
    echo "Median of $rounds rounds, parallelism $par, $(nproc) cores; load average $load_before before," \
        "$load_after after. Ratios are wall time ÷ xargs's; raw numbers in raw.tsv. Other" \
        "processes' load inflates every column: compare figures taken in the same run."
    echo "$("$bin" --version 2>/dev/null || echo "$bin"); seed project: $(git -C "$seed_dir" rev-parse --short HEAD)."
} | tee "$out/table.md"
echo "raw numbers: $raw; detector summaries and seed logs: $out/logs/" >&2

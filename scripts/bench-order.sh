#!/usr/bin/env bash
# Order-dependence benchmark (issue 24): for each runner (go test, Jest, Vitest, Mocha,
# pytest), makes a git repository with 20 tests among which a polluter-victim and a
# setter-brittle pair (the projects of tests/tools/order_languages.rs and tests/tools/order.rs),
# runs `flaky-detector run --shuffle` on a clone of it, and prints the runs the polluter
# search spent per finding (steps), the job's runs in all, and the wall time of the job.
# The JavaScript projects take the pinned dependencies of examples/ (npm ci, from the
# registry or npm's cache).
#
# Usage: scripts/bench-order.sh [RUNS] [PARALLELISM] [LANGUAGES...]
#        (defaults 20, 2, and go jest vitest mocha pytest)
#        FLAKY_BIN=path/to/flaky-detector uses that binary instead of building a release one.
set -euo pipefail

runs="${1:-20}"
parallelism="${2:-2}"
shift $(($# > 2 ? 2 : $#))
languages=("${@:-go jest vitest mocha pytest}")
read -r -a languages <<<"${languages[*]}"
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
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

# Writes the project of language $1 into directory $2.
write_project() {
  python3 - "$1" "$2" "$root" <<'PY'
import shutil, sys, pathlib
lang, out, root = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
out.mkdir(parents=True)
def write(name, text):
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text(text)
if lang == "go":
    src = ['package registry', '', 'import "testing"', '', 'var entries = map[string]bool{}', 'var configured bool', '',
           'func TestVictimNeedsEmptyRegistry(t *testing.T) {', '\tif len(entries) != 0 {', '\t\tt.Fatal("registry not empty")', '\t}', '}', '']
    src += [f'func TestOtherA{i}(t *testing.T) {{}}' for i in range(8)]
    src += ['func TestPolluterRegisters(t *testing.T) { entries["leftover"] = true }',
            'func TestSetterConfigures(t *testing.T) { configured = true }']
    src += [f'func TestOtherB{i}(t *testing.T) {{}}' for i in range(8)]
    src += ['func TestBrittleNeedsConfig(t *testing.T) {', '\tif !configured {', '\t\tt.Fatal("never configured")', '\t}', '}', '']
    write("go.mod", "module example.com/registry\n\ngo 1.19\n")
    write("registry.go", "package registry\n")
    write("registry_test.go", "\n".join(src))
elif lang == "pytest":
    write("tests/test_victim.py", "STATE = []\n\ndef test_b_needs_clean_state():\n    assert STATE == []\n\ndef test_a_pollutes():\n    STATE.append(1)\n")
    write("tests/test_brittle.py", "CONFIG = {}\n\ndef test_s_sets_config():\n    CONFIG['ready'] = True\n\ndef test_t_reads_config():\n    assert CONFIG.get('ready')\n")
    write("tests/test_others.py", "".join(f"def test_other_{i}():\n    pass\n\n" for i in range(16)))
else:
    example = {"jest": "typescript-jest", "vitest": "typescript-vitest", "mocha": "javascript-mocha"}[lang]
    lines = []
    if lang == "vitest":
        lines.append("import { describe, test, expect } from 'vitest';")
    if lang == "mocha":
        lines += ["const assert = require('node:assert/strict');", "const test = it;",
                  "const expect = (value) => ({ toBe: (want) => assert.equal(value, want) });"]
    lines += ["const registry = new Map();", "let configured = false;", "describe('registry', () => {",
              "  test('starts empty', () => { expect(registry.size).toBe(0); });"]
    lines += [f"  test('other a{i}', () => {{ expect(1).toBe(1); }});" for i in range(8)]
    lines += ["  test('adds an entry', () => { registry.set('leftover', true); });",
              "  test('configures', () => { configured = true; });"]
    lines += [f"  test('other b{i}', () => {{ expect(1).toBe(1); }});" for i in range(8)]
    lines += ["  test('needs config', () => { expect(configured).toBe(true); });", "});", ""]
    write("test/registry.test.js" if lang == "mocha" else "registry.test.js", "\n".join(lines))
    if lang == "jest":
        write("jest.config.js", "module.exports = { testEnvironment: 'node' };\n")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(root / "examples" / example / name, out / name)
    write(".gitignore", "node_modules\n")
PY
  git -C "$2" init -q
  git -C "$2" add -A
  git -C "$2" -c user.email=bench@example.com -c user.name=bench commit -qm project
}

printf '%-7s %-8s %-9s %-30s %-10s %s\n' runner victims found "search runs per finding" "job runs" "wall s"
for lang in "${languages[@]}"; do
  case "$lang" in
    go) command="go test ./..." ;;
    jest) command="npx jest" ;;
    vitest) command="npx vitest run" ;;
    mocha) command="npx mocha" ;;
    pytest) command="python3 -m pytest -q -p no:cacheprovider" ;;
    *) echo "unknown language $lang" >&2; exit 2 ;;
  esac
  write_project "$lang" "$scratch/$lang"
  start=$(date +%s.%N)
  # At its commit, as a worker gets a job: a clone of the repository, not its working tree.
  "$bin" run --repo "$scratch/$lang" --ref "$(git -C "$scratch/$lang" rev-parse HEAD)" \
    --command "$command" -n "$runs" -p "$parallelism" --shuffle --json \
    >"$scratch/$lang.json" 2>"$scratch/$lang.log" || true
  end=$(date +%s.%N)
  python3 - "$scratch/$lang.json" "$lang" "$start" "$end" <<'PY'
import json, sys
path, lang, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
try:
    s = json.load(open(path))
except ValueError:
    print(f"{lang:<7} the job failed: " + open(path.replace(".json", ".log")).read().strip()[-300:]); sys.exit(0)
victims = sum(1 for t in s["tests"] if t.get("classification") == "order-dependent")
found = s.get("order_dependence") or []
steps = ", ".join(f"{f['role']} {f.get('search_runs')}" for f in found) or "-"
extra = (s.get("confirmation") or {})
total = s["total_runs"] + extra.get("alone_runs", 0) + extra.get("load_runs", 0)
print(f"{lang:<7} {victims:<8} {len(found):<9} {steps:<30} {total:<10} {end - start:.1f}")
PY
done
echo "job runs: the shuffled runs and the confirmation's replays; the order phase's runs are the search runs plus two file-order runs per failing seed checked."

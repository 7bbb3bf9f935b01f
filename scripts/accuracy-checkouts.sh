#!/usr/bin/env bash
# Recreates the IDoFT checkouts of docs/accuracy.md at their listed commits and runs one
# job on each with a flaky-detector binary. Nothing of those projects is kept in this
# repository: checkouts, venvs and summaries go under $WORK (default /tmp/accuracy).
#
# Usage: scripts/accuracy-checkouts.sh [BINARY] [RUNS]
#   BINARY  flaky-detector binary (default target/debug/flaky-detector)
#   RUNS    runs per job (default 10, the default job's)
# MIRROR (default /work/.mirror) holds the git mirrors: one <owner>+<name>/repo per project
# (get them with `git clone --mirror https://github.com/<owner>/<name>`).
set -euo pipefail

BINARY=$(realpath "${1:-target/debug/flaky-detector}")
RUNS=${2:-10}
MIRROR=${MIRROR:-/work/.mirror}
WORK=${WORK:-/tmp/accuracy}
mkdir -p "$WORK"

# name | mirror | commit (IDoFT "SHA Detected") | pip packages | test file (and pytest
# options: six's dbm test needs a _dbm module this Python lacks) | IDoFT test | category
PROJECTS=(
  "six|benjaminp+six|c0be8815d13df45b6ae471c4c436cce8c192245d|pytest|test_six.py -k 'not dbm_ndbm'|test_six.py::test_lazy|OD-Vic"
  "domain2idna|PyFunceble+domain2idna|39a1c4e1ebb877ed511e53b618fbe437a685c970|pytest colorama idna|tests/test_converter.py|tests/test_converter.py::TestConverter::test_to_idna_single|OD-Vic"
  "configparse|jyn514+configparse|d7a4ee5b121de2be1858104723bdb7ac47df64ce|pytest pyyaml toml|test/test_all.py|test/test_all.py::test_positional|OD-Vic"
  "penman|goodmami+penman|e83cf6d006724d72a3e19a955aad94412da912b7|pytest|tests/test_layout.py|tests/test_layout.py::test_rearrange|NOD"
  "lithoxyl|mahmoud+lithoxyl|9961553a065a1ad8bb7a2407fe74f2cfd6c79a20|pytest boltons|lithoxyl/tests/test_stats.py|lithoxyl/tests/test_stats.py::test_momentacc_norm|NOD"
  "yamicache|mtik00+yamicache|1109d08b18be94bdee55e113309f7be29f25d840|pytest|tests/test_gc.py|tests/test_gc.py::test_deco_timeout|NOD"
)

only=${ONLY:-}
for entry in "${PROJECTS[@]}"; do
  IFS='|' read -r name mirror commit packages file test category <<<"$entry"
  if [[ -n "$only" && " $only " != *" $name "* ]]; then
    continue
  fi
  checkout="$WORK/$name"
  venv="$WORK/$name-venv"
  if [[ ! -d "$checkout" ]]; then
    git clone --quiet --no-checkout "$MIRROR/$mirror/repo" "$checkout"
  fi
  git -C "$checkout" checkout --quiet --force "$commit"
  # Dependencies come from our venv, not the project's pins (some no longer build).
  printf 'auto_install_dependencies: false\n' >"$checkout/.flaky-detector.yml"
  if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    "$venv/bin/pip" install --quiet --disable-pip-version-check $packages
  fi
  echo "== $name ($category $test) at ${commit:0:12}"
  start=$(date +%s)
  "$BINARY" run --repo "$checkout" --runs "$RUNS" --shuffle \
    --command "$venv/bin/python -m pytest -p no:cacheprovider $file" \
    --db "$WORK/history.db" --output "$WORK/$name.json" || true
  echo "   took $(($(date +%s) - start)) s; summary in $WORK/$name.json"
done

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
# ONLY="name name" runs only those projects; SETUP_ONLY=1 makes checkouts and venvs and
# stops. Order-dependent entries (OD-Vic, OD-Brit) run with --shuffle, the others without.
# For a non-deterministic (NOD) entry the IDoFT test is then run FRESH times (default 10) as
# a fresh `python -m pytest <test id>` in the same venv, the control beside the detector.
set -euo pipefail

BINARY=$(realpath "${1:-target/debug/flaky-detector}")
RUNS=${2:-10}
FRESH=${FRESH:-10}
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
  "freezegun-nod|spulec+freezegun|8994558274161b527ab83a3b13ea5969e9ebd144|pytest python-dateutil|tests/test_class_import.py|tests/test_class_import.py::test_import_after_start|NOD"
  "rambutan3|kevinarpe+kevinarpe-rambutan3|5d7469912b559338dc15f5c7fb2abc91103ea0c5|pytest|tests/check_args/base/test_RNotNoneTypeMatcher.py|tests/check_args/base/test_RNotNoneTypeMatcher.py::test_eq_ne_hash|NOD"
  "pydu|Prodesire+pydu|4a1c2f15f7274d5079fb08b02ab1dbe08c0cefef|pytest|tests/test_network.py|tests/test_network.py::test_get_free_port|NOD"
  "fparser|stfc+fparser|4be91d2e1078fa5588e84a3299131f297afba675|pytest six|src/fparser/one/tests/test_block_stmts.py|src/fparser/one/tests/test_block_stmts.py::test_implicit_topyf|NOD"
  "serpextract-nod|Parsely+serpextract|e156430b32eb833686820f490dbcdd989f27baa2|pytest six tldextract pylru iso3166|tests/test_serps.py|tests/test_serps.py::TestSERPs::test_mojeek|NOD"
  "freezegun-od|spulec+freezegun|b46da782a7a051081fd51577749cfc0074db0cc6|pytest python-dateutil|tests|tests/test_class_import.py::test_can_ignore_email_module|OD-Vic"
  "logzero|metachris+logzero|b5d49fc2b118c370994c4ae5360d7c246d43ddc8|pytest|tests/test_logzero.py|tests/test_logzero.py::test_write_to_logfile_and_stderr|OD-Vic"
  "geom|josiest+geom|d12b381706ee620cba1c6a6cb45ab7815e5a1dc9|pytest|test_geom.py|test_geom.py::test_epsilon|OD-Vic"
  "multiindex|sushobhit27+multiindex|b631e60bd47558eca9067a0dc87f0e713cddc6f2|pytest|multiindex/tests/test_multiindex.py|multiindex/tests/test_multiindex.py::test_insert|OD-Vic"
  "envyaml|thesimj+envyaml|79a220cabb69d71397310d941de205610cf5e4cb|pytest pyyaml|tests/test_envyaml.py|tests/test_envyaml.py::test_it_should_not_fail_when_try_load_non_exist_default_file|OD-Brit"
  "serpextract-od|Parsely+serpextract|aec8f2bd79c66953938569a24b05c693ab70b4ce|pytest six tldextract pylru iso3166|tests/test_serps.py|tests/test_serps.py::TestSERPs::test_custom_parser_explicit|OD-Vic"
  "json-storage|hefnawi+json-storage-manager|c7521fc4a576cf23a8c2454106bed6fb8c951b8d|pytest|tests/test_main.py|tests/test_main.py::test_get_no_item|OD-Vic"
  "poly_decomp|wsilva32+poly_decomp.py|cb1a47f218e076772b9df137c1928023882df5e5|pytest|tests/test_poly_decomp.py|tests/test_poly_decomp.py::TestPoly_Decomp::test_polygonAt|OD-Vic"
)

only=${ONLY:-}
for entry in "${PROJECTS[@]}"; do
  IFS='|' read -r name mirror commit packages file test category <<<"$entry"
  if [[ -n "$only" && " $only " != *" $name "* ]]; then
    continue
  fi
  checkout="$WORK/$name"
  # Not "$WORK/$name-venv": a venv whose path starts with the checkout's path is taken
  # for part of the checkout by the fork server's probe, which then turns itself off.
  venv="$WORK/venvs/$name"
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
  if [[ -n "${SETUP_ONLY:-}" ]]; then
    continue
  fi
  shuffle=()
  if [[ "$category" == OD* ]]; then
    shuffle=(--shuffle)
  fi
  echo "== $name ($category $test) at ${commit:0:12}"
  start=$(date +%s)
  "$BINARY" run --repo "$checkout" --runs "$RUNS" "${shuffle[@]}" \
    --command "$venv/bin/python -m pytest -p no:cacheprovider $file" \
    --db "$WORK/history.db" --output "$WORK/$name.json" || true
  echo "   took $(($(date +%s) - start)) s; summary in $WORK/$name.json"
  if [[ "$category" == NOD ]]; then
    failed=0
    for _ in $(seq "$FRESH"); do
      (cd "$checkout" && "$venv/bin/python" -m pytest -p no:cacheprovider -q "$test" \
        >/dev/null 2>&1) || failed=$((failed + 1))
    done
    echo "   fresh processes: $test failed $failed of $FRESH"
  fi
done

#!/usr/bin/env bash
# History at scale, as figures, for both stores side by side: 10,000 jobs with 1,000,000 run
# rows, the time to render each dashboard page (overview target <= 100 ms) and to record a
# 1,000-run job (target <= 50 ms), in SQLite (a WAL file) and in PostgreSQL. Prints figures;
# asserts nothing. A release build.
#
# Usage: scripts/bench-history.sh [--pg postgres://…] [--sqlite-only] [bench options]
#   --pg URL       measure this PostgreSQL database (its history tables are filled up to
#                  --jobs); without it a private server is started in a temp dir with
#                  Debian's binaries (/usr/lib/postgresql/*/bin, default settings, fsync on),
#                  as the `postgres` user when run as root, and removed afterwards.
#   --sqlite-only  skip PostgreSQL.
#   bench options  go to both runs: --jobs N (10000), --runs-per-job N (100).
# BENCH_PROFILE=debug uses a debug build (the figures are then not the README's release ones).
# The load average is printed before and after each store: the figures are only comparable
# on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url=""
sqlite_only=0
bench_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --pg) pg_url="${2:?--pg needs a postgres:// URL}"; shift 2 ;;
        --sqlite-only) sqlite_only=1; shift ;;
        *) bench_args+=("$1"); shift ;;
    esac
done

# BENCH_PROFILE=debug measures a debug build instead (quicker to build, slower to run).
profile="${BENCH_PROFILE:-release}"
if [ "$profile" = release ]; then profile=bench; else profile=dev; fi
# The bench target (benches/history.rs), built before anything is timed.
cargo bench --quiet --profile "$profile" --bench history --no-run
bench() { cargo bench --quiet --profile "$profile" --bench history -- "$@"; }
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-history.XXXXXX")"

as_server_user() { # from /, which the postgres user can read, unlike this checkout
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
pg_bin=""
cleanup() {
    if [ -n "$pg_bin" ]; then
        as_server_user "$pg_bin/pg_ctl" -D "$scratch/pg/data" -m fast -w stop > /dev/null 2>&1 || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

# A private PostgreSQL server on 127.0.0.1 and a free port, trust authentication.
start_postgres() {
    pg_bin="$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2> /dev/null | sort -V | tail -n 1)"
    if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
        echo "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql), or pass --pg URL" >&2
        pg_bin=""
        return 1
    fi
    mkdir -p "$scratch/pg"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$scratch" "$scratch/pg"; fi
    as_server_user "$pg_bin/initdb" -D "$scratch/pg/data" -U flaky --auth=trust > /dev/null
    local port
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_server_user "$pg_bin/pg_ctl" -D "$scratch/pg/data" -l "$scratch/pg/log" -w \
        -o "-p $port -k $scratch/pg -c listen_addresses=127.0.0.1" start > /dev/null
    pg_url="postgres://flaky@127.0.0.1:$port/postgres?sslmode=disable"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

measure() { # name output-file [bench args…]
    local name="$1" out="$2"
    shift 2
    echo "== $name: load average before $(loadavg)"
    bench "$@" | tee "$out"
    echo "== $name: load average after $(loadavg)"
}

measure SQLite "$scratch/sqlite.txt" ${bench_args[@]+"${bench_args[@]}"}
if [ "$sqlite_only" = 1 ]; then exit 0; fi
if [ -z "$pg_url" ]; then start_postgres; fi
measure PostgreSQL "$scratch/pg.txt" ${bench_args[@]+"${bench_args[@]}"} --db "$pg_url"

# Side by side: the medians (and p90) of each line both runs printed.
echo
printf '%-34s %24s %24s\n' "median (p90), ms" "SQLite" "PostgreSQL"
awk '
    function figures(line,   m, p) {
        m = line; sub(/.*median +/, "", m); sub(/ ms.*/, "", m)
        p = line; sub(/.*p90 +/, "", p); sub(/ ms.*/, "", p)
        return sprintf("%s (%s)", m, p)
    }
    /median/ {
        what = substr($0, 1, 34); sub(/ +$/, "", what)
        if (FILENAME == ARGV[1]) { order[++n] = what; sqlite[what] = figures($0) }
        else { pg[what] = figures($0) }
    }
    END {
        for (i = 1; i <= n; i++) {
            w = order[i]
            printf "%-34s %24s %24s\n", w, sqlite[w], (w in pg ? pg[w] : "-")
        }
    }
' "$scratch/sqlite.txt" "$scratch/pg.txt"

#!/bin/sh
# History at scale, as figures: 10,000 jobs with 1,000,000 run rows, the time to render each
# dashboard page (overview target <= 100 ms) and to record a 1,000-run job (target <= 50 ms).
# A release build; extra arguments go to the bench (--jobs N, --runs-per-job N, --db PATH).
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --quiet --bench history -- "$@"

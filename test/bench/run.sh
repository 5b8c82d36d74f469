#!/usr/bin/env bash
# `make bench`: installs what is missing (Django 3.2 and psycopg2 from Debian too),
# builds, and runs the benchmark on a throwaway cluster. Arguments go to bench.py
# (default: 100,000 b rows of 4 KB and 1,000,000 c rows, plus the series);
# BENCH_SCRIPT=jobs.py runs the chunked jobs' benchmark instead (make bench-jobs).
set -euo pipefail
cd "$(dirname "$0")/../.."
EXTRA_PACKAGES="python3-django python3-psycopg2" bash test/setup.sh
exec pg_virtualenv -v 15 /usr/bin/python3 "test/bench/${BENCH_SCRIPT:-bench.py}" "$@"

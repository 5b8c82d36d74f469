#!/usr/bin/env bash
# Differential fuzz of cascade_delete against PostgreSQL's native ON DELETE actions.
# Needs PGHOST/PGPORT/PGUSER (a superuser) and Debian's python3-psycopg2.
#   test/fuzz/run.sh [--cases N] [--seed S] [--no-shrink] [--verbose]
# Prints `fuzz: N passed, M failed` last; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
exec /usr/bin/python3 fuzz.py "$@"

#!/usr/bin/env bash
# Fault, scale and security torture suite for cascade_delete (issue 5:
# "Faults", "Scale", "Bad input and security").
#
#   test/torture/faults/run.sh          default run (a few minutes)
#   test/torture/faults/run.sh --long   the issue's sizes: 10,000,000 rows, a chain of
#                                       depth 1,000,000, 1,000 tables, 10 kill -9 trials
#
# Needs PGHOST/PGPORT/PGUSER of a superuser on a PostgreSQL 15 server with the
# extension installed (as inside pg_virtualenv), and Debian's python3-psycopg2.
# Each part creates its own databases (faults_<part>_..., dropped at the end).
# The kill -9 trials (crash.py) run on a throwaway cluster of their own
# (initdb in a temporary directory, a free port), so the server under test
# never restarts and its log shows no "terminated by signal" line.
# Environment: FAULTS_SEED, FAULTS_TRIALS, FAULTS_CRASH_TRIALS, FAULTS_ROWS,
# FAULTS_DEPTH, FAULTS_CYCLE_DEPTH, FAULTS_TABLES, PG_BINDIR (see each script).
# Prints "FIGURE ..." lines for the report and ends with
# "faults: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3

if [ "${1:-}" = "--long" ]; then
    export FAULTS_LONG=1
    export FAULTS_CRASH_TRIALS=${FAULTS_CRASH_TRIALS:-10}
fi
parts=(cancel errors ddl crash security scale)

passed=0
failed=0
if ! $PY -c 'import psycopg2' 2>/dev/null; then
    echo "python3-psycopg2 is missing (apt-get install python3-psycopg2)"
    echo "faults: 0 passed, 1 failed"
    exit 1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
for part in "${parts[@]}"; do
    echo "=== $part"
    $PY -B -u "$part.py" 2>&1 | tee "$log"
    out=$(tail -n 1 "$log")
    if [[ "$out" =~ ^$part:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        passed=$((passed + BASH_REMATCH[1]))
        failed=$((failed + BASH_REMATCH[2]))
    else
        echo "$part: no summary line (crashed?)"
        failed=$((failed + 1))
    fi
done
echo "faults: run took $(( $(date +%s) - start )) s"
echo "faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

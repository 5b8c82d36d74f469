#!/usr/bin/env bash
# Runs inside pg_virtualenv (PGHOST, PGPORT, PGUSER set): the pg_regress and
# isolation suites, then every script suite (clients, Django differential test,
# fuzzer, torture), then a scan of the server log for crashed backends.
# TEST_SUITES (space-separated: unit regress clients django django_admin django_signals django_jobs graph fuzz probes jobs jobs_differential restore replica citus concurrency faults)
# picks some; the default is all.
set -uo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
suites=${TEST_SUITES:-unit regress clients django django_admin django_signals django_jobs graph fuzz probes jobs jobs_differential restore replica citus concurrency faults}
failed=0
total=0
bad=0

log=$(pg_lsclusters 15 regress --no-header | awk '{print $7}')
start_line=$( [ -f "$log" ] && wc -l <"$log" || echo 0)

want() { [[ " $suites " == *" $1 "* ]]; }

# The pg_regress and isolation suites run three times, against the same
# expected outputs: with the defaults (small cascades of plain foreign keys by
# index probes), with cascade_delete.probe_rows = 0 (every cascade by
# statements; small ones keep their keys in memory) and with
# cascade_delete.memory_keys = 0 as well (every cascade uses key tables). Then
# the pg_regress suite once more in a database whose extension was installed
# as 0.1.0, given policies, and updated (test/restore checks those policies).
for mode in probes memory key_tables updated; do
if want regress; then
    echo "=== regress ($mode)"
    args=()
    if [ $mode = memory ]; then export PGOPTIONS="-c cascade_delete.probe_rows=0"; fi
    if [ $mode = key_tables ]; then export PGOPTIONS="-c cascade_delete.probe_rows=0 -c cascade_delete.memory_keys=0"; fi
    if [ $mode = updated ]; then
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS cd_updated" -c "CREATE DATABASE cd_updated"
        psql -X -q -v ON_ERROR_STOP=1 -d cd_updated \
            -c "CREATE EXTENSION cascade_delete VERSION '0.1.0'" \
            -c "CREATE TABLE up_a (id int PRIMARY KEY); CREATE TABLE up_b (id int PRIMARY KEY, a_id int)" \
            -c "SELECT cascade_delete_set_policy('up_b', '{a_id}', 'PROTECT', parent => 'up_a')" \
            -c "ALTER EXTENSION cascade_delete UPDATE" \
            -c "DROP TABLE up_b, up_a" >/dev/null
        args=(REGRESS_OPTS="--use-existing --dbname=cd_updated" ISOLATION=)
    fi
    out=$(make -s installcheck PG_CONFIG="$PG_CONFIG" "${args[@]}" 2>&1)
    status=$?
    unset PGOPTIONS
    echo "$out"
    if [ $status -ne 0 ]; then
        failed=1
        cat regression.diffs output_iso/regression.diffs 2>/dev/null
    fi
    # Each pg_regress run (regression, isolation) says "All N tests passed." or
    # "M of N tests failed."; add them up.
    n=0
    while read -r k; do n=$((n + k)); done < <(echo "$out" | sed -n 's/.*All \([0-9]*\) tests passed.*/\1/p; s/.* of \([0-9]*\) tests failed.*/\1/p')
    [ "$n" -gt 0 ] || { failed=1; bad=$((bad + 1)); }
    total=$((total + n))
    while read -r k; do bad=$((bad + k)); done < <(echo "$out" | sed -n 's/.* \([0-9]*\) of [0-9]* tests failed.*/\1/p')
    [ $status -eq 0 ] || [ "$bad" -gt 0 ] || bad=$((bad + 1))
fi
done

# A script suite prints "<name>: N passed, M failed" last and exits non-zero
# on failure.
run_suite() { # name script [args]
    local name=$1; shift
    echo "=== $name: $*"
    local out status line p f
    out=$("$@" 2>&1)
    status=$?
    echo "$out" | tail -n 40
    # failures scrolled out of the tail
    echo "$out" | head -n -40 | grep -E "^ *(FAIL|not ok)" | head -n 40
    line=$(echo "$out" | grep -E "^$name: [0-9]+ passed, [0-9]+ failed" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: no summary line (exit status $status)"
        failed=1; bad=$((bad + 1)); total=$((total + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) failed.*/\1/')
    total=$((total + p + f)); bad=$((bad + f))
    if [ "$f" -gt 0 ] || [ $status -ne 0 ]; then
        failed=1
        [ "$f" -gt 0 ] || { bad=$((bad + 1)); total=$((total + 1)); }
    fi
}

want unit && run_suite unit bash test/unit/run.sh
want clients && run_suite clients bash test/clients/run.sh
want django && run_suite django bash test/django/run.sh
want django_admin && run_suite django_admin env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/django/admintest.py
want django_signals && run_suite django_signals env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/django/signaltest.py
want django_jobs && run_suite django_jobs env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/django/jobtest.py
want graph && run_suite graph /usr/bin/python3 test/graph/run.py
want restore && run_suite restore /usr/bin/python3 test/restore/run.py
want replica && run_suite replica /usr/bin/python3 test/replica/run.py
# Citus: a coordinator and two workers of its own; one "skipped" line without Citus
want citus && run_suite citus /usr/bin/python3 test/citus/run.py
want fuzz && run_suite fuzz bash test/fuzz/run.sh
want probes && run_suite probes /usr/bin/python3 test/probes/run.py
want jobs && run_suite jobs /usr/bin/python3 test/jobs/run.py
want jobs_differential && run_suite jobs_differential env PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 test/jobs/differential.py --cases 80
want concurrency && run_suite concurrency bash test/torture/concurrency/run.sh
want faults && run_suite faults bash test/torture/faults/run.sh

if [ -f "$log" ]; then
    if tail -n +"$((start_line + 1))" "$log" | grep -E "terminated by signal|server process .* was terminated|TRAP:|leaked|leak: "; then
        echo "server log: a backend crashed or leaked (see above)"
        failed=1
        bad=$((bad + 1))
    fi
else
    echo "server log not found; cannot check for crashes"
    failed=1
fi

echo "$((total - bad)) passed, $bad failed"
exit $failed

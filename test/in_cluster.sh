#!/usr/bin/env bash
# Runs inside pg_virtualenv (PGHOST, PGPORT, PGUSER set): the pg_regress suite,
# then a scan of the server log for crashed backends.
set -uo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
failed=0

log=$(pg_lsclusters 15 regress --no-header | awk '{print $7}')
start_line=$( [ -f "$log" ] && wc -l <"$log" || echo 0)

out=$(make -s installcheck PG_CONFIG="$PG_CONFIG" 2>&1)
status=$?
echo "$out"
if [ $status -ne 0 ]; then
    failed=1
    cat regression.diffs output_iso/regression.diffs 2>/dev/null
fi
# Each pg_regress run (regression, isolation) says "All N tests passed." or
# "M of N tests failed."; add them up.
total=0; bad=0
while read -r n; do total=$((total + n)); done < <(echo "$out" | sed -n 's/.*All \([0-9]*\) tests passed.*/\1/p; s/.* of \([0-9]*\) tests failed.*/\1/p')
while read -r n; do bad=$((bad + n)); done < <(echo "$out" | sed -n 's/.* \([0-9]*\) of [0-9]* tests failed.*/\1/p')
[ "$total" -gt 0 ] || failed=1

if [ -f "$log" ]; then
    if tail -n +"$((start_line + 1))" "$log" | grep -E "terminated by signal|server process .* was terminated|TRAP:|leaked"; then
        echo "server log: a backend crashed or leaked (see above)"
        failed=1
        bad=$((bad + 1))
    fi
else
    echo "server log not found; cannot check for crashes"
    failed=1
fi

echo "$((total - ${bad:-0})) passed, ${bad:-0} failed"
exit $failed

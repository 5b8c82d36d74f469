#!/usr/bin/env bash
# Load and concurrency suite: test/torture/concurrency/load.py (threads of
# inserters, updaters, readers and cascade_delete callers for a bounded time,
# then checks of orphans, survivors, SQLSTATEs and counts), once with
# cascade_delete.lock_policy_tables off and once on.
#
# Runs inside an environment with PGHOST, PGPORT, PGUSER (a superuser) set,
# e.g. pg_virtualenv; creates and drops its own databases.
#
#   run.sh                      20 s of load in all (the CI default)
#   run.sh --seconds 600        a longer run; other options: load.py --help
#   run.sh --isolation ...      also run the concurrent_* isolation specs
#                               (normally `make installcheck` runs them, from
#                               the Makefile's ISOLATION list)
#
# Last line: "concurrency: N passed, M failed"; exit status 1 on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}

: "${PGHOST:?PGHOST must be set}" "${PGPORT:?PGPORT must be set}" "${PGUSER:?PGUSER must be set}"

isolation=0
args=()
for a in "$@"; do
    if [ "$a" = "--isolation" ]; then isolation=1; else args+=("$a"); fi
done

passed=0
failed=0

out=$("$PYTHON" "$here/load.py" "${args[@]}" 2>&1)
status=$?
echo "$out"
line=$(echo "$out" | sed -n 's/^concurrency-load: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' | tail -1)
if [ -n "$line" ]; then
    passed=$((passed + ${line% *}))
    failed=$((failed + ${line#* }))
fi
if [ $status -ne 0 ] && { [ -z "$line" ] || [ "${line#* }" = 0 ]; }; then
    echo "load.py exited with status $status"
    failed=$((failed + 1))
fi

if [ $isolation = 1 ]; then
    PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
    regress="$($PG_CONFIG --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress"
    specs=$(cd "$root/test/isolation/specs" && ls concurrent_*.spec | sed 's/\.spec$//')
    outdir=$(mktemp -d)
    iso=$("$regress" --inputdir="$root/test/isolation" --outputdir="$outdir" \
          --load-extension=cascade_delete --dbname=concurrency_iso_$$ $specs 2>&1)
    echo "$iso" | grep -E '^(test|ok|not ok) |\.\.\. '
    n_ok=$(echo "$iso" | grep -cE '\.\.\. ok')
    n_bad=$(echo "$iso" | grep -cE '\.\.\. FAILED')
    [ -f "$outdir/regression.diffs" ] && cat "$outdir/regression.diffs"
    passed=$((passed + n_ok))
    failed=$((failed + n_bad))
    rm -rf "$outdir"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS concurrency_iso_$$ WITH (FORCE)" || true
fi

echo "concurrency: $passed passed, $failed failed"
[ $failed -eq 0 ]

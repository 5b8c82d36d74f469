#!/usr/bin/env bash
# Calls cascade_delete by raw SQL through real clients: psycopg2 (and Django's
# connection), SQLAlchemy, node-postgres. Needs a running server reachable with
# PGHOST, PGPORT, PGUSER (a superuser), e.g. inside `pg_virtualenv -v 15`, with
# the extension installed; Debian's python3-psycopg2, python3-sqlalchemy,
# python3-django; node and npm (test/clients/node is installed with `npm ci`
# when node_modules is missing or out of date: the npm registry must be
# reachable then, or the node tests fail).
# Creates databases named clients_<pid>_*, drops them at the end. Prints one
# line per test and, last, `clients: N passed, M failed`; exits non-zero on any
# failure. About 5 seconds (plus npm ci the first time).
set -uo pipefail
cd "$(dirname "$0")"
here=$(pwd)

PYTHON=/usr/bin/python3
prefix="clients_$$"
template="${prefix}_tpl"
dbs=("$template")
passed=0
failed=0

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

cleanup() {
    for db in "${dbs[@]}"; do
        psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

fail() {  # a failure outside the test programs
    echo "not ok - $*"
    failed=$((failed + 1))
}

finish() {
    echo "clients: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}

# Adds up the `<suite>: N passed, M failed` line of one test program.
# A program that crashes before that line, or exits non-zero with 0 failed, counts as one failure.
tally() {  # suite status output
    local suite=$1 status=$2 out=$3 line
    line=$(printf '%s\n' "$out" | grep -E "^$suite: [0-9]+ passed, [0-9]+ failed$" | tail -n 1)
    if [ -z "$line" ]; then
        fail "$suite: no summary line (the program crashed, exit status $status)"
        return
    fi
    local p f
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        fail "$suite: exit status $status"
    fi
}

if ! psql_admin -c "CREATE DATABASE \"$template\"" >/dev/null ||
   ! psql -X -q -v ON_ERROR_STOP=1 -d "$template" -f schema.sql >/dev/null; then
    fail "could not create the fixture database from schema.sql"
    finish
fi

# run_client suite command...: a database copied from the template, then the program
run_client() {
    local suite=$1; shift
    local db="${prefix}_$suite"
    dbs+=("$db")
    echo "# $suite"
    if ! psql_admin -c "CREATE DATABASE \"$db\" TEMPLATE \"$template\"" >/dev/null; then
        fail "$suite: could not create database $db"
        return
    fi
    local out status
    out=$(CLIENTS_DB="$db" timeout 180 "$@" 2>&1)
    status=$?
    printf '%s\n' "$out"
    tally "$suite" "$status" "$out"
}

run_client psycopg2 "$PYTHON" "$here/test_psycopg2.py"
run_client sqlalchemy "$PYTHON" "$here/test_sqlalchemy.py"

# node-postgres: installed from the npm registry (package-lock.json) when missing.
# No registry, no node: the node tests fail, loudly; they are never skipped.
node_ready=1
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    fail "node-postgres: node or npm is not installed; the node tests did NOT run"
    node_ready=0
elif [ ! -f node/node_modules/.package-lock.json ] ||
     [ node/package-lock.json -nt node/node_modules/.package-lock.json ]; then
    echo "# npm ci (test/clients/node)"
    if ! (cd node && timeout 600 npm ci --no-audit --no-fund --loglevel=error); then
        fail "node-postgres: 'npm ci' failed (is the npm registry reachable?); the node tests did NOT run"
        node_ready=0
    fi
fi
if [ "$node_ready" -eq 1 ]; then
    run_client node-postgres node "$here/node/test_pg.js"
fi

finish

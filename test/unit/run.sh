#!/usr/bin/env bash
# Unit tests of the PostgreSQL-free sources (src/sql.cpp, src/plan.cpp, src/graph.cpp) with
# GoogleTest (Debian's libgtest-dev), and a check of the built library's own
# symbols: no server needed. Prints
# `unit: N passed, M failed` last; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=test/unit/unit_tests
if ! g++ -std=c++17 -Wall -Wextra -Werror -Isrc -o "$out" src/sql.cpp src/plan.cpp src/graph.cpp \
        test/unit/sql_test.cpp test/unit/plan_test.cpp test/unit/graph_test.cpp -lgtest -lgtest_main -pthread; then
    echo "unit: 0 passed, 1 failed (build)"
    exit 1
fi
log=$("$out" 2>&1)
status=$?
echo "$log" | grep -E "^\[ +(OK|FAILED) +\]" | grep -v " tests\?, listed below" 
passed=$(echo "$log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p')
failed=$(echo "$log" | sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below.*/\1/p')
# The extension's library may leave PostgreSQL's symbols undefined (the server
# provides them), never its own: a missing definition would only show when
# CREATE EXTENSION loads it.
if [ -f cascade_delete.so ]; then
    own=$(nm -C --undefined-only cascade_delete.so | grep -E " (cd::|cascade_delete)" || true)
    if [ -n "$own" ]; then
        echo "[  FAILED  ] cascade_delete.so leaves its own symbols undefined:"
        echo "$own"
        failed=$(( ${failed:-0} + 1 )); status=1
    else
        echo "[       OK ] cascade_delete.so defines every symbol of its own"
        passed=$(( ${passed:-0} + 1 ))
    fi
fi
echo "unit: ${passed:-0} passed, ${failed:-0} failed"
[ $status -eq 0 ] && [ "${passed:-0}" -gt 0 ]

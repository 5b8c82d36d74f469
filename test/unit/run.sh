#!/usr/bin/env bash
# Unit tests of the PostgreSQL-free sources (src/sql.cpp, src/plan.cpp) with
# GoogleTest (Debian's libgtest-dev): no server needed. Prints
# `unit: N passed, M failed` last; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=test/unit/unit_tests
if ! g++ -std=c++17 -Wall -Wextra -Werror -Isrc -o "$out" src/sql.cpp src/plan.cpp \
        test/unit/sql_test.cpp test/unit/plan_test.cpp -lgtest -lgtest_main -pthread; then
    echo "unit: 0 passed, 1 failed (build)"
    exit 1
fi
log=$("$out" 2>&1)
status=$?
echo "$log" | grep -E "^\[ +(OK|FAILED) +\]" | grep -v " tests\?, listed below" 
passed=$(echo "$log" | sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\..*/\1/p')
failed=$(echo "$log" | sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\?, listed below.*/\1/p')
echo "unit: ${passed:-0} passed, ${failed:-0} failed"
[ $status -eq 0 ] && [ "${passed:-0}" -gt 0 ]

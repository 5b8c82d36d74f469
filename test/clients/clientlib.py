"""Helpers shared by test_psycopg2.py and test_sqlalchemy.py: the cases of
cases.json, the expected database contents after a case, and a tiny test
runner that prints one line per test and a final `<suite>: N passed, M failed`."""
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

with open(os.path.join(HERE, "cases.json")) as f:
    CASES = json.load(f)


def database():
    """The database run.sh created for this client (PGHOST, PGPORT, PGUSER come from the environment)."""
    db = os.environ.get("CLIENTS_DB")
    if not db:
        sys.exit("CLIENTS_DB is not set: run test/clients/run.sh")
    return db


def dry(report):
    """What a dry run of a call without blockers returns."""
    return dict(report, dry_run=True, blocked=[])


def expected_after(before, case):
    """before (an app.snapshot() dict) with the case's gone rows removed and changed rows replaced."""
    after = {t: list(rows) for t, rows in before.items()}
    for table, rows in case.get("gone", {}).items():
        for row in rows:
            if row not in after[table]:
                raise AssertionError("cases.json: %s has no row %s before the call" % (table, row))
            after[table].remove(row)
    for table, pairs in case.get("changed", {}).items():
        for old, new in pairs:
            if old not in after[table]:
                raise AssertionError("cases.json: %s has no row %s before the call" % (table, old))
            after[table][after[table].index(old)] = new
    return normalize(after)


def normalize(snapshot):
    return {t: sorted(rows) for t, rows in snapshot.items()}


def check_equal(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s:\n  expected %r\n  actual   %r" % (what, expected, actual))


def check_contents(actual, expected):
    """Compare two snapshots table by table, naming the tables that differ."""
    actual, expected = normalize(actual), normalize(expected)
    bad = [t for t in sorted(set(actual) | set(expected)) if actual.get(t) != expected.get(t)]
    if bad:
        raise AssertionError("table contents differ:\n" + "\n".join(
            "  %s: expected %r\n  %s  actual   %r" % (t, expected.get(t), " " * len(t), actual.get(t))
            for t in bad))


class Runner:
    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = 0

    def test(self, name, fn, *args):
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the run goes on
            self.failed += 1
            print("not ok - %s: %s" % (name, name_error(e)))
            detail = traceback.format_exc() if not isinstance(e, AssertionError) else str(e)
            for line in detail.rstrip().splitlines():
                print("    " + line)
        else:
            self.passed += 1
            print("ok - %s" % name)
        sys.stdout.flush()

    def finish(self):
        print("%s: %d passed, %d failed" % (self.suite, self.passed, self.failed))
        sys.exit(1 if self.failed or not self.passed else 0)


def name_error(e):
    return type(e).__module__ + "." + type(e).__name__

#!/usr/bin/python3
"""cascade_delete through SQLAlchemy (Debian's python3-sqlalchemy 1.4, psycopg2
dialect): text() with :name bound parameters, in an ORM Session.  Note that
`:k::text[]` is not a bound parameter in text() (the `::` swallows it): write
CAST(:k AS text[]).  Run by run.sh (CLIENTS_DB names the database)."""
import uuid

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from clientlib import CASES, Runner, check_contents, check_equal, database, dry, expected_after

DB = database()
# No host, port or user in the URL: libpq takes them from PGHOST, PGPORT, PGUSER.
engine = create_engine("postgresql+psycopg2:///" + DB, future=True)
session = Session(engine)
run = Runner("sqlalchemy")

DELETE = text("SELECT cascade_delete(:t, :k)")
DELETE_DRY = text("SELECT cascade_delete(:t, :k, dry_run => :dry)")
DELETE_MANY = text("SELECT cascade_delete_many(:t, :keys)")
DELETE_MANY_DRY = text("SELECT cascade_delete_many(:t, :keys, dry_run => :dry)")


def reset():
    session.execute(text("SELECT app.reset()"))
    session.commit()


def snapshot(s=None):
    return (s or session).execute(text("SELECT app.snapshot()")).scalar_one()


def call(stmt, params, s=None):
    report = (s or session).execute(stmt, params).scalar_one()
    if not isinstance(report, dict):
        raise AssertionError("the jsonb report came back as %r, not a dict" % type(report))
    return report


def key_variants(kind, key):
    if kind == "int":
        return [("int", key), ("str", str(key))]
    if kind == "bigint":
        return [("int", int(key)), ("str", key)]
    if kind == "uuid":
        return [("uuid.UUID", uuid.UUID(key)), ("str", key)]
    if kind == "text":
        return [("str", key)]
    if kind == "composite":
        return [("list of str", key)]
    raise ValueError(kind)


def keys_variants(kind, keys):
    if kind == "composite":
        return [("list of lists of str", keys)]
    if kind == "int":
        return [("list of int", keys), ("list of str", [str(k) for k in keys])]
    if kind == "uuid":
        return [("list of uuid.UUID", [uuid.UUID(k) for k in keys]), ("list of str", keys)]
    raise ValueError(kind)


def dry_then_delete(case, stmt, dry_stmt, params):
    reset()
    before = snapshot()
    check_equal(call(dry_stmt, dict(params, dry=True)), dry(case["report"]), "dry-run report")
    session.commit()
    check_contents(snapshot(), before)
    check_equal(call(stmt, params), case["report"], "report")
    session.commit()
    check_contents(snapshot(), expected_after(before, case))


for case in CASES["deletes"]:
    for label, value in key_variants(case["kind"], case["key"]):
        run.test("cascade_delete, %s as %s" % (case["name"], label),
                 dry_then_delete, case, DELETE, DELETE_DRY, {"t": case["table"], "k": value})

for case in CASES["many"]:
    for label, value in keys_variants(case["kind"], case["keys"]):
        run.test("%s as %s" % (case["name"], label),
                 dry_then_delete, case, DELETE_MANY, DELETE_MANY_DRY, {"t": case["table"], "keys": value})

USABLE = CASES["deletes"][0]  # a = 42
SEVEN = {"table": "app.a", "gone": {"app.a": ["(7,seven)"], "app.b": ["(4,7)"], "app.c": ["(7,4)"]}}


def still_usable():
    check_equal(call(DELETE_DRY, {"t": USABLE["table"], "k": USABLE["key"], "dry": True}), dry(USABLE["report"]),
                "dry-run report after the error")
    session.commit()


# SQLSTATE class -> the exception SQLAlchemy wraps psycopg2's in
EXCEPTIONS = {"23503": sqlalchemy.exc.IntegrityError, "22P02": sqlalchemy.exc.DataError,
              "22003": sqlalchemy.exc.DataError, "22004": sqlalchemy.exc.DataError,
              "42P01": sqlalchemy.exc.ProgrammingError}


def error_case(case):
    reset()
    before = snapshot()
    if "keys" in case:
        stmt, params = DELETE_MANY, {"t": case["table"], "keys": case["keys"]}
    else:
        stmt, params = DELETE, {"t": case["table"], "k": case["key"]}
    try:
        call(stmt, params)
    except sqlalchemy.exc.DBAPIError as e:
        session.rollback()
        check_equal(e.orig.pgcode, case["sqlstate"], "SQLSTATE")
        if not isinstance(e, EXCEPTIONS[case["sqlstate"]]):
            raise AssertionError("SQLSTATE %s raised %r" % (case["sqlstate"], type(e)))
        if case["message"] not in e.orig.diag.message_primary:
            raise AssertionError("message %r does not contain %r" % (e.orig.diag.message_primary, case["message"]))
        if "detail" in case:
            check_equal(e.orig.diag.message_detail, case["detail"], "DETAIL")
    else:
        raise AssertionError("no error; expected SQLSTATE %s" % case["sqlstate"])
    check_contents(snapshot(), before)
    still_usable()


for case in CASES["errors"]:
    run.test("error: %s -> %s, rollback, session usable" % (case["name"], case["sqlstate"]), error_case, case)


def protect_dry_run():
    reset()
    before = snapshot()
    c = CASES["protect_dry_run"]
    check_equal(call(DELETE_DRY, {"t": c["table"], "k": c["key"], "dry": True}), c["report"],
                "dry-run report of a protected row")
    session.commit()
    check_contents(snapshot(), before)


run.test("dry run of a PROTECTed row reports the blocker instead of raising", protect_dry_run)


def rolled_back_transaction():
    """Deleted inside the transaction, visible there; the rollback brings every row back."""
    reset()
    before = snapshot()
    with Session(engine) as s:
        check_equal(call(DELETE, {"t": "app.a", "k": 42}, s), USABLE["report"], "report")
        check_contents(snapshot(s), expected_after(before, USABLE))
        check_contents(snapshot(), before)  # another connection does not see it
        s.rollback()
        check_contents(snapshot(s), before)
    check_contents(snapshot(), before)


run.test("transaction rolled back: nothing deleted", rolled_back_transaction)


def integrity_error_in_transaction():
    """Earlier work in the transaction (an UPDATE, a successful cascade_delete), then 23503:
    IntegrityError with pgcode 23503 and its message; after the rollback nothing has changed."""
    reset()
    before = snapshot()
    with Session(engine) as s:
        s.execute(text("UPDATE app.a SET name = :n WHERE id = :id"), {"n": "renamed", "id": 99})
        check_equal(call(DELETE, {"t": "app.a", "k": 7}, s),
                    {"total": 3, "deleted": {"app.a": 1, "app.b": 1, "app.c": 1}, "updated": {}}, "first report")
        try:
            call(DELETE, {"t": "app.a", "k": 13}, s)
        except sqlalchemy.exc.IntegrityError as e:
            check_equal(e.orig.pgcode, "23503", "SQLSTATE")
            check_equal(e.orig.diag.message_primary,
                        "delete from table app.a is blocked by policy PROTECT on app.guard(a_id)", "message")
            s.rollback()
        else:
            raise AssertionError("no IntegrityError")
        check_contents(snapshot(s), before)
        # the same session goes on
        check_equal(call(DELETE, {"t": "app.a", "k": 7}, s)["total"], 3, "total after the rollback")
        s.commit()
    check_contents(snapshot(), expected_after(before, SEVEN))


run.test("IntegrityError 23503 inside a transaction: rollback undoes everything, session goes on",
         integrity_error_in_transaction)


def core_connection():
    """Core, without the ORM: engine.begin() commits at the end of the block."""
    reset()
    before = snapshot()
    with engine.begin() as c:
        report = c.execute(text("SELECT cascade_delete_many(:t, CAST(:keys AS text[]))"),
                           {"t": "app.acct", "keys": [["eu", "1"], ["us", "2"]]}).scalar_one()
    check_equal(report, CASES["many"][0]["report"], "report")
    check_contents(snapshot(), expected_after(before, CASES["many"][0]))


run.test("Core connection, engine.begin(), CAST(:keys AS text[])", core_connection)


# cascade_delete_where takes an SQL condition, not a value: a bound parameter
# there is SQL text. Never build the condition by concatenating user input.
# Safe patterns: let the server quote the value,
#   text("SELECT cascade_delete_where(:t, format('code = %L', CAST(:v AS text)))")
#   text("SELECT cascade_delete_where(:t, 'code = ' || quote_literal(CAST(:v AS text)))")
# or, for keys, pass them as an array: text("SELECT cascade_delete_many(:t, :keys)").
EVIL = [c for c in CASES["deletes"] if c["key"] == "O'Brien; DROP TABLE app.t --"][0]


def where_format():
    reset()
    before = snapshot()
    stmt = text("SELECT cascade_delete_where(:t, format('code = %L', CAST(:v AS text)))")
    check_equal(call(stmt, {"t": "app.t", "v": EVIL["key"]}), EVIL["report"], "report")
    session.commit()
    check_contents(snapshot(), expected_after(before, EVIL))


def where_quote_literal_and_injection():
    reset()
    before = snapshot()
    value = "x' OR 'a' = 'a"
    unsafe = call(text("SELECT cascade_delete_where(:t, :cond, dry_run => true)"),
                  {"t": "app.t", "cond": "code = '" + value + "'"})  # what NOT to do
    check_equal(unsafe["deleted"], {"app.t": len(before["app.t"]), "app.t_child": len(before["app.t_child"])},
                "unsafe condition's dry-run counts: every row")
    safe = call(text("SELECT cascade_delete_where(:t, 'code = ' || quote_literal(CAST(:v AS text)), dry_run => true)"),
                {"t": "app.t", "v": value})
    check_equal(safe, dry({"total": 0, "deleted": {}, "updated": {}}), "quoted condition's dry-run report")
    session.commit()
    check_contents(snapshot(), before)


run.test("cascade_delete_where with format('%L') quoting a hostile value", where_format)
run.test("cascade_delete_where: concatenation is SQL injection, quote_literal() is not",
         where_quote_literal_and_injection)

session.close()
engine.dispose()
run.finish()

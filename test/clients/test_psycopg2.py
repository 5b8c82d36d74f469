#!/usr/bin/python3
"""cascade_delete through psycopg2 (Debian's python3-psycopg2), with bound
parameters as Django passes them, and through Django 3.2's own connection.
psycopg2 interpolates parameters on the client: a Python int becomes an integer
literal (the anyelement overload), a str a quoted literal of unknown type (the
text overload), a uuid.UUID '...'::uuid once register_uuid() ran (Django runs
it), a list an ARRAY[...] constructor.  Run by run.sh (CLIENTS_DB names the
database)."""
import json
import uuid

import psycopg2
import psycopg2.errors
import psycopg2.extras

from clientlib import CASES, Runner, check_contents, check_equal, database, dry, expected_after

DB = database()
psycopg2.extras.register_uuid()  # as django.db.backends.postgresql does on import
conn = psycopg2.connect(dbname=DB)  # not autocommit: every statement opens a transaction
run = Runner("psycopg2")


def reset():
    with conn.cursor() as cur:
        cur.execute("SELECT app.reset()")
    conn.commit()


def snapshot(c=None):
    with (c or conn).cursor() as cur:
        cur.execute("SELECT app.snapshot()")
        return cur.fetchone()[0]


def call(sql, params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        (report,), = cur.fetchall()
    if not isinstance(report, dict):
        raise AssertionError("the jsonb report came back as %r, not a dict" % type(report))
    return report


def key_variants(kind, key):
    """The Python values an application would pass for a key."""
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


def dry_then_delete(case, sql, param):
    """Dry run (nothing changes), then the real call, committed; checks reports and contents."""
    reset()
    before = snapshot()
    check_equal(call(sql + ", dry_run => %s)", (case["table"], param, True)), dry(case["report"]), "dry-run report")
    conn.commit()
    check_contents(snapshot(), before)
    check_equal(call(sql + ")", (case["table"], param)), case["report"], "report")
    conn.commit()
    check_contents(snapshot(), expected_after(before, case))


for case in CASES["deletes"]:
    for label, value in key_variants(case["kind"], case["key"]):
        run.test("cascade_delete, %s as %s" % (case["name"], label),
                 dry_then_delete, case, "SELECT cascade_delete(%s, %s", value)

for case in CASES["many"]:
    for label, value in keys_variants(case["kind"], case["keys"]):
        run.test("%s as %s" % (case["name"], label),
                 dry_then_delete, case, "SELECT cascade_delete_many(%s, %s", value)

USABLE = CASES["deletes"][0]  # a = 42


def still_usable():
    """After an error and a rollback, the same connection gives exact reports
    (nothing left over from the failed call in the extension's key tables)."""
    check_equal(call("SELECT cascade_delete(%s, %s, dry_run => true)", (USABLE["table"], USABLE["key"])),
                dry(USABLE["report"]), "dry-run report after the error")
    conn.commit()


def error_case(case):
    reset()
    before = snapshot()
    if "keys" in case:
        sql, param = "SELECT cascade_delete_many(%s, %s)", case["keys"]
    else:
        sql, param = "SELECT cascade_delete(%s, %s)", case["key"]
    try:
        call(sql, (case["table"], param))
    except psycopg2.Error as e:
        conn.rollback()
        check_equal(e.pgcode, case["sqlstate"], "SQLSTATE")
        if case["message"] not in e.diag.message_primary:
            raise AssertionError("message %r does not contain %r" % (e.diag.message_primary, case["message"]))
        if "detail" in case:
            check_equal(e.diag.message_detail, case["detail"], "DETAIL")
        if case["sqlstate"] == "23503":
            # Django catches this one: psycopg2 raises ForeignKeyViolation, an IntegrityError
            if not isinstance(e, psycopg2.errors.ForeignKeyViolation) or not isinstance(e, psycopg2.IntegrityError):
                raise AssertionError("23503 raised %r" % type(e))
    else:
        raise AssertionError("no error; expected SQLSTATE %s" % case["sqlstate"])
    check_contents(snapshot(), before)
    still_usable()


for case in CASES["errors"]:
    run.test("error: %s -> %s, rollback, connection usable" % (case["name"], case["sqlstate"]), error_case, case)


def protect_dry_run():
    reset()
    before = snapshot()
    c = CASES["protect_dry_run"]
    check_equal(call("SELECT cascade_delete(%s, %s, dry_run => true)", (c["table"], c["key"])), c["report"],
                "dry-run report of a protected row")
    conn.commit()
    check_contents(snapshot(), before)


run.test("dry run of a PROTECTed row reports the blocker instead of raising", protect_dry_run)


def autocommit_error():
    """Django's default: autocommit. The failed statement was its own transaction; no rollback needed."""
    reset()
    before = snapshot()
    c = psycopg2.connect(dbname=DB)
    c.autocommit = True
    try:
        with c.cursor() as cur:
            try:
                cur.execute("SELECT cascade_delete(%s, %s)", ("app.a", 13))
            except psycopg2.errors.ForeignKeyViolation:
                pass
            else:
                raise AssertionError("no 23503")
            check_contents(snapshot(c), before)
            cur.execute("SELECT cascade_delete(%s, %s)", ("app.a", 42))
            check_equal(cur.fetchone()[0], USABLE["report"], "report of the next call")
        check_contents(snapshot(c), expected_after(before, USABLE))
    finally:
        c.close()


run.test("autocommit connection: 23503, then the next call works without a rollback", autocommit_error)


# cascade_delete_where takes an SQL condition, not a value: a bound parameter
# there is SQL text. Never build the condition by concatenating user input.
# Safe patterns: let the server quote the value,
#   SELECT cascade_delete_where(%s, format('code = %%L', %s::text))
#   SELECT cascade_delete_where(%s, 'code = ' || quote_literal(%s::text))
# or, for keys, pass them as an array: SELECT cascade_delete_many(%s, %s).
WHERE_CASES = {c["key"]: c for c in CASES["deletes"] if c["table"] == "app.t"}
EVIL = "O'Brien; DROP TABLE app.t --"


def where_format():
    reset()
    before = snapshot()
    case = WHERE_CASES[EVIL]
    check_equal(call("SELECT cascade_delete_where(%s, format('code = %%L', %s::text))", ("app.t", EVIL)),
                case["report"], "report")
    conn.commit()
    check_contents(snapshot(), expected_after(before, case))


def where_quote_literal():
    reset()
    before = snapshot()
    case = WHERE_CASES["{x,y}"]
    check_equal(call("SELECT cascade_delete_where(%s, 'code = ' || quote_literal(%s::text))", ("app.t", "{x,y}")),
                case["report"], "report")
    conn.commit()
    check_contents(snapshot(), expected_after(before, case))


def where_concatenation_is_injection():
    reset()
    before = snapshot()
    value = "x' OR 'a' = 'a"
    # what NOT to do: the value becomes SQL and selects every row
    unsafe = call("SELECT cascade_delete_where(%s, %s, dry_run => true)", ("app.t", "code = '" + value + "'"))
    check_equal(unsafe["deleted"], {"app.t": len(before["app.t"]), "app.t_child": len(before["app.t_child"])},
                "unsafe condition's dry-run counts: every row")
    # the same value quoted by the server matches nothing
    safe = call("SELECT cascade_delete_where(%s, format('code = %%L', %s::text), dry_run => true)", ("app.t", value))
    check_equal(safe, dry({"total": 0, "deleted": {}, "updated": {}}), "quoted condition's dry-run report")
    conn.commit()
    check_contents(snapshot(), before)


def where_value_is_not_a_condition():
    reset()
    before = snapshot()
    try:
        call("SELECT cascade_delete_where(%s, %s)", ("app.t", "plain"))
    except psycopg2.errors.UndefinedColumn:  # 42703: "plain" was read as a column name
        conn.rollback()
    else:
        raise AssertionError("a bare value was accepted as a condition")
    check_contents(snapshot(), before)
    still_usable()


run.test("cascade_delete_where with format('%L') quoting a hostile value", where_format)
run.test("cascade_delete_where with quote_literal()", where_quote_literal)
run.test("cascade_delete_where: a concatenated value is SQL injection (dry run shows every row)",
         where_concatenation_is_injection)
run.test("cascade_delete_where: a bare value bound as the condition is 42703", where_value_is_not_a_condition)


def django_connection():
    """Django's own connection: raw SQL with %s parameters. Django 3.1+ turns off
    psycopg2's jsonb parsing on its connections, so the report is a JSON string."""
    import django
    from django.conf import settings
    from django.db import IntegrityError, connection, transaction

    if not settings.configured:
        settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": DB}})
        django.setup()
    reset()
    before = snapshot()
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT cascade_delete(%s, %s)", ["app.u", uuid.UUID(CASES["deletes"][4]["key"])])
            raw = cur.fetchone()[0]
        if not isinstance(raw, str):
            raise AssertionError("Django returned the report as %r; expected a JSON string" % type(raw))
        check_equal(json.loads(raw), CASES["deletes"][4]["report"], "report")
        check_contents(snapshot(), expected_after(before, CASES["deletes"][4]))
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SELECT cascade_delete(%s, %s)", ["app.a", 13])
        except IntegrityError as e:
            check_equal(e.__cause__.pgcode, "23503", "SQLSTATE")
        else:
            raise AssertionError("no IntegrityError")
        with connection.cursor() as cur:
            cur.execute("SELECT cascade_delete(%s, %s, dry_run => true)", ["app.a", 42])
            check_equal(json.loads(cur.fetchone()[0]), dry(USABLE["report"]), "dry-run report after the error")
    finally:
        connection.close()


run.test("Django 3.2 connection.cursor(): uuid key, report as JSON text, IntegrityError 23503", django_connection)


def django_savepoint():
    """Nested atomic blocks: the session's first call fails inside a savepoint that is
    rolled back (and the extension's session state with it); the outer block goes on."""
    from django.db import IntegrityError, connection, transaction

    reset()
    before = snapshot()
    connection.close()  # a new connection: the next call is its first
    try:
        with transaction.atomic():
            try:
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute("SELECT cascade_delete(%s, %s)", ["app.a", 13])
            except IntegrityError:
                pass
            else:
                raise AssertionError("no IntegrityError")
            with connection.cursor() as cur:
                cur.execute("SELECT cascade_delete(%s, %s)", ["app.a", 42])
                check_equal(json.loads(cur.fetchone()[0]), USABLE["report"], "report after the savepoint")
        check_contents(snapshot(), expected_after(before, USABLE))
    finally:
        connection.close()


run.test("Django nested atomic: 23503 in a savepoint on a new connection, outer block commits", django_savepoint)

conn.close()
run.finish()

#!/usr/bin/python3
"""Errors in the middle of a cascade: lock timeouts against locks another
session holds, and errors raised by user triggers after N rows (row and
statement triggers, BEFORE and AFTER, on the delete and the SET NULL paths,
deferred constraint triggers, a nested cascade_delete that fails, errors
that a trigger catches itself). Each must reach the caller with its own
SQLSTATE, message, detail and hint, change nothing, leave the key tables
empty, and leave the session usable: the same call succeeds afterwards.
"""
import time

import psycopg2

from lib import attempt, checksums, connect, key_tables, one, q, run_main, sqlstate

SCHEMA = """
CREATE SCHEMA e;
CREATE TABLE e.p (id int PRIMARY KEY, note text);
CREATE TABLE e.c (id int PRIMARY KEY, p_id int NOT NULL REFERENCES e.p ON DELETE CASCADE, pad text);
CREATE TABLE e.g (id int PRIMARY KEY, c_id int NOT NULL REFERENCES e.c ON DELETE CASCADE);
CREATE TABLE e.s (id int PRIMARY KEY, c_id int REFERENCES e.c ON DELETE SET NULL);
CREATE TABLE e.tag (id int PRIMARY KEY, c_ref int);   -- application-only key, policy CASCADE
CREATE TABLE e.other (id int PRIMARY KEY);
CREATE TABLE e.other_ref (id int PRIMARY KEY, other_id int REFERENCES e.other);  -- NO ACTION
CREATE INDEX ON e.c (p_id);
CREATE INDEX ON e.g (c_id);
CREATE INDEX ON e.s (c_id);
CREATE INDEX ON e.tag (c_ref);
SELECT cascade_delete_set_policy('e.tag', '{c_ref}', 'CASCADE', parent => 'e.c');
INSERT INTO e.p VALUES (1, 'one'), (2, 'two'), (3, 'three');
INSERT INTO e.c SELECT g, 1 + g % 3, 'c' || g FROM generate_series(1, 9000) g;
INSERT INTO e.g SELECT g, 1 + g % 9000 FROM generate_series(1, 27000) g;
INSERT INTO e.s SELECT g, g FROM generate_series(1, 9000) g;
INSERT INTO e.tag SELECT g, g FROM generate_series(1, 9000, 2) g;
INSERT INTO e.other VALUES (1), (2);
INSERT INTO e.other_ref VALUES (1, 1);

CREATE SEQUENCE e.cnt;
CREATE TABLE e.conf (n int, code text, kind text);
INSERT INTO e.conf VALUES (1, 'P0001', 'raise');
-- Raises on the n-th row (or statement) it sees, with the configured SQLSTATE.
CREATE FUNCTION e.fail_at_n() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    k bigint := nextval('e.cnt');
    cf e.conf;
BEGIN
    SELECT * INTO cf FROM e.conf;
    IF k = cf.n THEN
        RAISE EXCEPTION USING ERRCODE = cf.code,
            MESSAGE = format('%s refuses (%s %s %s, call %s)', TG_TABLE_NAME, TG_WHEN, TG_LEVEL, TG_OP, k),
            DETAIL = 'detail from the trigger', HINT = 'hint from the trigger';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
-- A nested cascade_delete that the NO ACTION row in other_ref refuses.
CREATE FUNCTION e.nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('e.cnt') = (SELECT n FROM e.conf) THEN
        PERFORM cascade_delete('e.other', 1);
    END IF;
    RETURN OLD;
END $$;
-- Errors the trigger catches itself (a subtransaction per row).
CREATE FUNCTION e.swallow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        PERFORM 1 / 0;
    EXCEPTION WHEN division_by_zero THEN
        NULL;
    END;
    RETURN OLD;
END $$;
-- A nested cascade_delete that fails, caught by the trigger.
CREATE FUNCTION e.swallow_nested() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.id % 500 = 0 THEN
        BEGIN
            PERFORM cascade_delete('e.other', 1);
        EXCEPTION WHEN foreign_key_violation THEN
            NULL;
        END;
    END IF;
    RETURN OLD;
END $$;
"""

TABLES = ["e.p", "e.c", "e.g", "e.s", "e.tag", "e.other", "e.other_ref"]

# name, trigger DDL, n, SQLSTATE, expected message (prefix), where the error arrives
TRIGGER_CASES = [
    ("BEFORE ROW DELETE on the grandchild, row 5000",
     "CREATE TRIGGER t BEFORE DELETE ON e.g FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     5000, "CD001", "g refuses (BEFORE ROW DELETE", "call"),
    ("AFTER ROW DELETE on the grandchild, row 7000",
     "CREATE TRIGGER t AFTER DELETE ON e.g FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     7000, "CD002", "g refuses (AFTER ROW DELETE", "call"),
    ("BEFORE ROW DELETE on the child, first row",
     "CREATE TRIGGER t BEFORE DELETE ON e.c FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     1, "CD003", "c refuses (BEFORE ROW DELETE", "call"),
    ("AFTER STATEMENT DELETE on the child, last statement",
     "CREATE TRIGGER t AFTER DELETE ON e.c FOR EACH STATEMENT EXECUTE FUNCTION e.fail_at_n()",
     None, "CD004", "c refuses (AFTER STATEMENT DELETE", "call"),
    ("BEFORE ROW UPDATE on the SET NULL table, row 2000",
     "CREATE TRIGGER t BEFORE UPDATE ON e.s FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     2000, "CD005", "s refuses (BEFORE ROW UPDATE", "call"),
    ("BEFORE ROW DELETE on the policy-only table, row 100",
     "CREATE TRIGGER t BEFORE DELETE ON e.tag FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     100, "CD006", "tag refuses (BEFORE ROW DELETE", "call"),
    ("BEFORE ROW DELETE on the root",
     "CREATE TRIGGER t BEFORE DELETE ON e.p FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     1, "CD007", "p refuses (BEFORE ROW DELETE", "call"),
    ("trigger raising 40001 (a serialization failure's code) on the grandchild",
     "CREATE TRIGGER t BEFORE DELETE ON e.g FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     3000, "40001", "g refuses (BEFORE ROW DELETE", "call"),
    ("trigger raising 23503 (cascade_delete's own refusal code) on the child",
     "CREATE TRIGGER t AFTER DELETE ON e.c FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     2500, "23503", "c refuses (AFTER ROW DELETE", "call"),
    ("deferred constraint trigger on the grandchild, autocommit",
     "CREATE CONSTRAINT TRIGGER t AFTER DELETE ON e.g DEFERRABLE INITIALLY DEFERRED "
     "FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     4000, "CD008", "g refuses (AFTER ROW DELETE", "call"),
    ("deferred constraint trigger on the grandchild, at COMMIT",
     "CREATE CONSTRAINT TRIGGER t AFTER DELETE ON e.g DEFERRABLE INITIALLY DEFERRED "
     "FOR EACH ROW EXECUTE FUNCTION e.fail_at_n()",
     4000, "CD009", "g refuses (AFTER ROW DELETE", "commit"),
    ("nested cascade_delete refused inside a trigger on the child",
     "CREATE TRIGGER t BEFORE DELETE ON e.c FOR EACH ROW EXECUTE FUNCTION e.nested()",
     1500, "23503", None, "call"),
]


def body(s):
    db, conn = s.new_db("errors")
    cur = conn.cursor()
    cur.execute(SCHEMA)
    cur.execute("VACUUM ANALYZE")
    base = checksums(cur, TABLES)

    # What deleting p 1 does, measured once without triggers (then rolled back).
    conn.autocommit = False
    cur.execute("SELECT cascade_delete('e.p', 1)")
    want = cur.fetchone()[0]
    conn.rollback()
    conn.autocommit = True
    s.note(f"cascade of p 1: {want}")

    def works_again(name):
        """The same call succeeds in this session (rolled back)."""
        conn.autocommit = False
        try:
            cur.execute("SELECT cascade_delete('e.p', 1)")
            got = cur.fetchone()[0]
            s.eq(got, want, f"{name}: the same call then succeeds with the same report")
        except psycopg2.Error as e:
            s.ok(False, f"{name}: the same call then succeeds", str(e))
        conn.rollback()
        conn.autocommit = True

    def unchanged(name):
        same = s.eq(checksums(cur, TABLES), base, f"{name}: every table unchanged")
        kt = key_tables(cur)
        # A successful call leaves its small key sets (<= 1000 rows a table) for
        # the next call to clear; a failed or cancelled one leaves none of its own.
        s.ok(all(v <= 1000 for v in kt.values()), f"{name}: key tables hold at most a small call's keys", str(kt))
        if not same:  # start the next case from the same data
            cur.execute("DROP SCHEMA e CASCADE")
            cur.execute(SCHEMA)

    # -- errors raised by user triggers -----------------------------------
    ntrig = 0
    for fp in ("on", "off"):
        for bs in (1000, 10000):
            for label, ddl, n, code, msg, where in TRIGGER_CASES:
                name = f"{label} (fast_path {fp}, batch_size {bs})"
                cur.execute(ddl)
                if n is None:  # the last batch of the 3,000 rows of e.c
                    n = 3000 // bs if bs < 3000 else 1
                cur.execute("UPDATE e.conf SET n = %s, code = %s", (n, code))
                cur.execute("SELECT setval('e.cnt', 1, false)")
                cur.execute(f"SET cascade_delete.fast_path = {fp}; SET cascade_delete.batch_size = {bs}")
                if where == "commit":
                    cur.execute("BEGIN")
                    _, e = attempt(conn, "SELECT cascade_delete('e.p', 1)")
                    s.ok(e is None, f"{name}: the call itself succeeds", str(e))
                    _, e = attempt(conn, "COMMIT")
                else:
                    _, e = attempt(conn, "SELECT cascade_delete('e.p', 1)")
                ntrig += 1
                if s.ok(e is not None, f"{name}: fails"):
                    s.eq(e.pgcode, code, f"{name}: SQLSTATE")
                    d = e.diag
                    if msg is None:
                        s.ok("other" in (d.message_primary or ""),
                             f"{name}: message names the refused table", d.message_primary)
                    else:
                        s.ok((d.message_primary or "").startswith(msg), f"{name}: message",
                             d.message_primary)
                        s.eq((d.message_detail, d.message_hint),
                             ("detail from the trigger", "hint from the trigger"),
                             f"{name}: detail and hint")
                cur.execute("DROP TRIGGER t ON " + ddl.split(" ON ")[1].split(" ")[0])
                unchanged(name)
                works_again(name)
                cur.execute("RESET cascade_delete.fast_path; RESET cascade_delete.batch_size")
    s.figure("trigger_errors_injected", ntrig)

    # Errors a trigger catches itself: the cascade completes, exactly.
    for fn, table in (("e.swallow", "e.g"), ("e.swallow_nested", "e.c")):
        for fp in ("on", "off"):
            name = f"{fn} on {table} (fast_path {fp})"
            cur.execute(f"CREATE TRIGGER t BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()")
            cur.execute(f"SET cascade_delete.fast_path = {fp}")
            conn.autocommit = False
            try:
                cur.execute("SELECT cascade_delete('e.p', 1)")
                s.eq(cur.fetchone()[0], want, f"{name}: errors caught inside the trigger; the cascade completes")
                s.eq(one(cur, "SELECT count(*) FROM e.c WHERE p_id = 1"), 0, f"{name}: rows gone")
                s.eq(one(cur, "SELECT count(*) FROM e.other"), 2, f"{name}: the failed nested call changed nothing")
            except psycopg2.Error as e:
                s.ok(False, f"{name}: cascade completes", str(e))
            conn.rollback()
            conn.autocommit = True
            cur.execute(f"DROP TRIGGER t ON {table}; RESET cascade_delete.fast_path")
            unchanged(name)

    # -- lock timeouts ----------------------------------------------------
    holder = connect(db, autocommit=False)
    hcur = holder.cursor()
    locks = [
        ("SHARE lock on the child", "LOCK TABLE e.c IN SHARE MODE"),
        ("ACCESS EXCLUSIVE lock on the grandchild", "LOCK TABLE e.g IN ACCESS EXCLUSIVE MODE"),
        ("EXCLUSIVE lock on the SET NULL table", "LOCK TABLE e.s IN EXCLUSIVE MODE"),
        ("SHARE lock on the policy-only table", "LOCK TABLE e.tag IN SHARE MODE"),
        ("row lock (FOR UPDATE) on one child row", "SELECT * FROM e.c WHERE id = 3000 FOR UPDATE"),
        ("row lock (FOR KEY SHARE) on the root row", "SELECT * FROM e.p WHERE id = 1 FOR KEY SHARE"),
        ("row lock (FOR UPDATE) on one SET NULL row", "SELECT * FROM e.s WHERE id = 2997 FOR UPDATE"),
        ("row lock (FOR UPDATE) on one grandchild row", "SELECT * FROM e.g WHERE id = 26999 FOR UPDATE"),
        ("ACCESS EXCLUSIVE lock on the policy table",
         "LOCK TABLE public.cascade_delete_policy IN ACCESS EXCLUSIVE MODE"),
    ]
    nlock = 0
    for fp in ("on", "off"):
        for label, sql in locks:
            name = f"{label} held by another session (fast_path {fp})"
            if "policy table" in label:
                # The table graph is cached per session; make this one read it again.
                cur.execute("SELECT cascade_delete_set_policy('e.tag', '{c_ref}', 'CASCADE', parent => 'e.c')")
            hcur.execute(sql)
            cur.execute(f"SET cascade_delete.fast_path = {fp}; SET lock_timeout = '300ms'")
            t = time.time()
            _, e = attempt(conn, "SELECT cascade_delete('e.p', 1)")
            took = time.time() - t
            nlock += 1
            if s.ok(e is not None, f"{name}: fails"):
                s.eq(e.pgcode, "55P03", f"{name}: SQLSTATE 55P03")
                s.ok("lock timeout" in (e.diag.message_primary or ""), f"{name}: message",
                     e.diag.message_primary)
            s.ok(took < 5, f"{name}: fails after the lock timeout, not later", f"{took:.1f} s")
            cur.execute("RESET lock_timeout")
            holder.rollback()
            unchanged(name)
            works_again(name)
            cur.execute("RESET cascade_delete.fast_path")
    # A lock timeout caught by a savepoint: the rest of the transaction's
    # plain statements still run PostgreSQL's own RI triggers.
    for fp in ("on", "off"):
        for lock in ("LOCK TABLE e.g IN ACCESS EXCLUSIVE MODE", "LOCK TABLE e.c IN SHARE MODE"):
            name = f"lock timeout ({lock}) caught by a savepoint (fast_path {fp})"
            hcur.execute(lock)
            conn.autocommit = False
            cur.execute(f"SET LOCAL cascade_delete.fast_path = {fp}; SET LOCAL lock_timeout = '300ms'; SAVEPOINT s")
            try:
                cur.execute("SELECT cascade_delete('e.p', 1)")
                s.ok(False, f"{name}: fails")
            except psycopg2.Error as e:
                s.eq(e.pgcode, "55P03", f"{name}: SQLSTATE 55P03")
                cur.execute("ROLLBACK TO SAVEPOINT s")
            holder.rollback()
            nlock += 1
            cur.execute("SET LOCAL lock_timeout = 0")
            cur.execute("DELETE FROM e.c WHERE id = 3")
            s.eq(one(cur, "SELECT count(*) FROM e.g WHERE c_id = 3"), 0,
                 f"{name}: a plain DELETE afterwards in the transaction still cascades (ON DELETE CASCADE)")
            _, e = attempt(conn, "DELETE FROM e.other WHERE id = 1")
            s.eq(sqlstate(e), "23503", f"{name}: a plain DELETE afterwards still fails on NO ACTION (23503)")
            if e is None:
                conn.rollback()
            conn.autocommit = True
            unchanged(name)
    s.figure("lock_timeouts_injected", nlock)
    holder.close()

    # A statement_timeout while waiting for a lock is 57014, not 55P03.
    holder = connect(db, autocommit=False)
    holder.cursor().execute("LOCK TABLE e.c IN SHARE MODE")
    cur.execute("SET statement_timeout = '300ms'")
    _, e = attempt(conn, "SELECT cascade_delete('e.p', 1)")
    cur.execute("RESET statement_timeout")
    holder.rollback()
    holder.close()
    s.eq(sqlstate(e), "57014", "statement_timeout while waiting for a lock: SQLSTATE 57014")
    unchanged("statement_timeout while waiting for a lock")
    conn.close()


if __name__ == "__main__":
    run_main("errors", body)

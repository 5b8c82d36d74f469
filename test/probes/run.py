#!/usr/bin/python3
"""Index probes (src/probe.cpp): which calls take them, and that what they do
equals PostgreSQL's own ON DELETE CASCADE and the statements' way.

Each shape is built in one template; a call runs on three copies of it: native
DELETE, cascade_delete with the defaults, and cascade_delete with
cascade_delete.probe_rows = 0 (statements). The way a call took is read from
its DEBUG1 phase lines ("index probes"). Then concurrency, with a second
session holding rows: a row updated or deleted meanwhile, a child inserted
meanwhile, and the original SQLSTATEs of a lock timeout and a cancel.

Runs against PGHOST / PGPORT (a superuser). Prints `probes: N passed, M failed`.
"""
import os
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402

T = Tally('probes')

BASE = """
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a ON DELETE CASCADE, v int);
CREATE INDEX ON b (a_id);
CREATE TABLE c (id int PRIMARY KEY, b_id int REFERENCES b ON DELETE CASCADE);
CREATE INDEX ON c (b_id);
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 20) g;
INSERT INTO b SELECT g, 1 + (g - 1) / 3, g FROM generate_series(1, 60) g;
INSERT INTO c SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 1 + (g - 1) / 4 END FROM generate_series(1, 240) g;
"""

# (name, extra schema (None: the previous shape's), call, native statement, expected way)
SHAPES = [
    ("deep a <- b <- c", "", "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'probes'),
    ("many keys, a duplicate, a missing key", "", "SELECT cascade_delete_many('a', ARRAY[2, 3, 2, 99])", "DELETE FROM a WHERE id = ANY(ARRAY[2, 3, 2, 99])", 'probes'),
    ("key as text", "", "SELECT cascade_delete('a', '4'::text)", "DELETE FROM a WHERE id = 4", 'probes'),
    ("a self-referencing tree (a cycle in the data too)",
     "CREATE TABLE e (id int PRIMARY KEY, boss int REFERENCES e ON DELETE CASCADE, a_id int REFERENCES a ON DELETE CASCADE);"
     "CREATE INDEX ON e (boss); CREATE INDEX ON e (a_id);"
     "INSERT INTO e SELECT g, NULL, 1 + g % 5 FROM generate_series(1, 5) g;"
     "INSERT INTO e SELECT g, 1 + g % 5, NULL FROM generate_series(6, 40) g;"
     "INSERT INTO e SELECT g, g - 1, NULL FROM generate_series(41, 60) g;"
     "UPDATE e SET boss = 60 WHERE id = 41;",
     "SELECT cascade_delete('e', 41)", "DELETE FROM e WHERE id = 41", 'probes'),
    ("the tree from its root table's parent", None, "SELECT cascade_delete('a', 2)", "DELETE FROM a WHERE id = 2", 'probes'),
    ("a diamond: d references b and c",
     "CREATE TABLE d (id int PRIMARY KEY, b_id int REFERENCES b ON DELETE CASCADE, c_id int REFERENCES c ON DELETE CASCADE);"
     "CREATE INDEX ON d (b_id); CREATE INDEX ON d (c_id);"
     "INSERT INTO d SELECT g, 1 + g % 60, 1 + g % 240 FROM generate_series(1, 300) g;",
     "SELECT cascade_delete_many('a', ARRAY[1, 5])", "DELETE FROM a WHERE id = ANY(ARRAY[1, 5])", 'probes'),
    ("composite and cross-type keys",
     "CREATE TABLE p (x int, y text, PRIMARY KEY (x, y));"
     "CREATE TABLE q (id int PRIMARY KEY, py varchar, px bigint, FOREIGN KEY (px, py) REFERENCES p (x, y) ON DELETE CASCADE);"
     "CREATE INDEX ON q (py, px);"
     "INSERT INTO p SELECT g, 'k' || g FROM generate_series(1, 10) g;"
     "INSERT INTO q SELECT g, 'k' || (1 + g % 10), 1 + g % 10 FROM generate_series(1, 50) g;",
     "SELECT cascade_delete('p', ARRAY['3', 'k3'])", "DELETE FROM p WHERE x = 3 AND y = 'k3'", 'probes'),
    ("no index on a foreign key", "DROP INDEX c_b_id_idx;", "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("a trigger", "CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; END';"
     "CREATE TRIGGER t BEFORE DELETE ON c FOR EACH ROW EXECUTE FUNCTION t();",
     "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("row-level security", "ALTER TABLE b ENABLE ROW LEVEL SECURITY;", "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("a SET NULL key", "CREATE TABLE n (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE SET NULL);"
     "CREATE INDEX ON n (a_id); INSERT INTO n SELECT g, 1 + g % 20 FROM generate_series(1, 40) g;",
     "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("policies: on a key, and an application-only key", "SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE');"
     "CREATE TABLE g (id int PRIMARY KEY, a_id int);"
     "SELECT cascade_delete_set_policy('g', '{a_id}', 'CASCADE', parent => 'a');",
     "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("a condition", "", "SELECT cascade_delete_where('a', 'id = 1')", "DELETE FROM a WHERE id = 1", 'statements'),
    ("more rows than cascade_delete.probe_rows", "SET cascade_delete.probe_rows = 5;",
     "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("max_rows set", "SET cascade_delete.max_rows = 1000;", "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
    ("a partition", "CREATE TABLE pt (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE) PARTITION BY RANGE (id);"
     "CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (100); CREATE INDEX ON pt (a_id);"
     "INSERT INTO pt SELECT g, 1 + g % 20 FROM generate_series(1, 60) g;",
     "SELECT cascade_delete('a', 1)", "DELETE FROM a WHERE id = 1", 'statements'),
]


def connect(db):
    c = psycopg2.connect(dbname=db)
    c.autocommit = True
    return c


def fresh(name, template):
    admin = connect('postgres')
    k = admin.cursor()
    k.execute(f"DROP DATABASE IF EXISTS {name}")
    k.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    admin.close()


def state(cur):
    cur.execute("SELECT c.relname, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I', c.relname),"
                " false, true, '')))[1]::text::int FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
                " AND c.relname NOT LIKE 'cascade_delete%' ORDER BY 1")
    counts = cur.fetchall()
    cur.execute("SELECT string_agg(format('%s:%s', relname, md5(rows)), ',' ORDER BY relname) FROM ("
                " SELECT c.relname, (SELECT string_agg(x::text, ';' ORDER BY x::text) FROM"
                " (SELECT * FROM unnest(xpath('/table/row', query_to_xml(format('SELECT * FROM %I', c.relname), false, false, '')))) x(x)) rows"
                " FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
                " AND c.relname NOT LIKE 'cascade_delete%') s")
    return counts, cur.fetchone()[0]


def way_of(conn, cur, call):
    cur.execute("SET client_min_messages = debug1")
    del conn.notices[:]
    cur.execute(call)
    report = cur.fetchone()[0]
    cur.execute("RESET client_min_messages")
    probes = any('cascade_delete: index probes' in n for n in conn.notices)
    return report, 'probes' if probes else 'statements'


def shapes():
    prev_extra = ""
    for name, extra, call, native, want in SHAPES:
        if extra is None:
            extra = prev_extra  # the previous shape's schema, another call
        prev_extra = extra
        session_settings = [s for s in extra.split(';') if s.strip().upper().startswith('SET ')]
        schema = ';'.join(s for s in extra.split(';') if not s.strip().upper().startswith('SET '))
        fresh('probes_tpl', 'template0')
        with connect('probes_tpl') as c:
            c.autocommit = True
            c.cursor().execute(BASE + schema)
        c.close()
        results = {}
        for variant in ('native', 'probes', 'statements'):
            fresh('probes_' + variant, 'probes_tpl')
            conn = connect('probes_' + variant)
            cur = conn.cursor()
            for s in session_settings:
                cur.execute(s)
            if variant == 'native':
                cur.execute(native)
                report, way = None, None
            else:
                if variant == 'statements':
                    cur.execute("SET cascade_delete.probe_rows = 0")
                report, way = way_of(conn, cur, call)
            results[variant] = (state(cur), report, way)
            conn.close()
        T.check(results['probes'][2] == want, f"{name}: by {want} (took {results['probes'][2]})")
        T.check(results['statements'][2] == 'statements', f"{name}: probe_rows = 0 takes statements")
        T.check(results['probes'][0] == results['native'][0],
                f"{name}: the tables equal native's after the call {results['probes'][0][0]}")
        T.check(results['probes'][1] == results['statements'][1] and results['probes'][0] == results['statements'][0],
                f"{name}: report and tables equal the statements' way's ({results['probes'][1]})")


def privileges():
    fresh('probes_priv', 'template0')
    c = connect('probes_priv')
    k = c.cursor()
    k.execute(BASE)
    k.execute("DROP ROLE IF EXISTS probe_deleter; CREATE ROLE probe_deleter;"
              "GRANT SELECT, DELETE ON a, b TO probe_deleter; GRANT DELETE ON c TO probe_deleter;"
              "GRANT USAGE ON SCHEMA public TO probe_deleter;")
    k.execute("SET ROLE probe_deleter")
    try:
        k.execute("SELECT cascade_delete('a', 1)")
        code = None
    except psycopg2.Error as e:
        code = e.pgcode
    T.check(code == '42501', f"DELETE without SELECT on c: refused with 42501 as the statements refuse (got {code})")
    k.execute("RESET ROLE")
    k.execute("SELECT count(*) FROM c WHERE b_id IN (1, 2, 3)")
    T.check(k.fetchone()[0] > 0, "nothing deleted by the refused call")
    k.execute("GRANT SELECT ON c TO probe_deleter; SET ROLE probe_deleter")
    report, way = way_of(c, k, "SELECT cascade_delete('a', 1)")
    T.check(way == 'probes' and report['total'] == 1 + 3 + 11, f"with SELECT granted: by probes, {report}")
    k.execute("RESET ROLE; DROP OWNED BY probe_deleter; DROP ROLE probe_deleter")
    c.close()


def many_tables():
    """A chain of 600 tables: by probes, and by statements, where memory
    mode's one collecting statement would return more columns than
    PostgreSQL allows (it must use key tables instead of failing)."""
    fresh('probes_chain', 'template0')
    c = connect('probes_chain')
    k = c.cursor()
    k.execute("CREATE EXTENSION cascade_delete; CREATE TABLE l0 (id int PRIMARY KEY);"
              "INSERT INTO l0 SELECT generate_series(1, 3)")
    for i in range(1, 600):
        k.execute(f"CREATE TABLE l{i} (id int PRIMARY KEY, up int REFERENCES l{i - 1} ON DELETE CASCADE);"
                  f"CREATE INDEX ON l{i} (up); INSERT INTO l{i} SELECT g, g FROM generate_series(1, 3) g")
    c.close()
    for variant, setting in (('probes', ''), ('statements', 'SET cascade_delete.probe_rows = 0')):
        fresh('probes_chain_' + variant, 'probes_chain')
        conn = connect('probes_chain_' + variant)
        cur = conn.cursor()
        if setting:
            cur.execute(setting)
        try:
            report, way = way_of(conn, cur, "SELECT cascade_delete('l0', 2)")
            cur.execute("SELECT count(*) FROM l599")
            left = cur.fetchone()[0]
            T.check(way == variant and report['total'] == 600 and left == 2,
                    f"a chain of 600 tables by {variant}: {report['total']} rows, {left} left in the last table")
        except psycopg2.Error as e:
            T.check(False, f"a chain of 600 tables by {variant}: {e.pgcode} {e.pgerror.splitlines()[0]}")
        conn.close()
    admin = connect('postgres').cursor()
    for db in ('probes_chain', 'probes_chain_probes', 'probes_chain_statements'):
        admin.execute(f"DROP DATABASE IF EXISTS {db}")


def kept_indexes():
    """The index each key's probes use is kept with the backend's graph: a
    session that has called by probes must notice another session dropping
    or replacing that index (a kept index OID that no longer exists would
    fail to open; one that no longer fits would give wrong rows)."""
    fresh('probes_kept', 'template0')
    admin = connect('probes_kept')
    a = admin.cursor()
    a.execute(BASE)
    conn = connect('probes_kept')
    cur = conn.cursor()

    def call(key, want, what):
        cur.execute("SELECT count(*) FROM c WHERE b_id IN (SELECT id FROM b WHERE a_id = %s)", (key,))
        children = cur.fetchone()[0]
        report, way = way_of(conn, cur, f"SELECT cascade_delete('a', {key})")
        cur.execute("SELECT count(*) FROM c WHERE b_id NOT IN (SELECT id FROM b)")
        orphans = cur.fetchone()[0]
        T.check(way == want and report['deleted'].get('public.c', 0) == children and orphans == 0,
                f"{what}: by {want} (took {way}), {children} rows of c deleted ({report}), {orphans} orphans")

    call(1, 'probes', "first call, the index looked up")
    call(2, 'probes', "second call, the kept index")
    a.execute("DROP INDEX c_b_id_idx")
    call(3, 'statements', "index dropped by another session")
    a.execute("CREATE INDEX c_by_b ON c (b_id, id)")
    call(4, 'probes', "a new index on (b_id, id) created by another session")
    a.execute("DROP INDEX c_by_b; CREATE INDEX c_by_b_hash ON c USING hash (b_id)")
    call(5, 'statements', "replaced by a hash index")
    a.execute("DROP INDEX c_by_b_hash; CREATE INDEX c_by_b ON c (b_id)")
    call(6, 'probes', "a btree index again")
    conn.close()
    admin.close()
    connect('postgres').cursor().execute("DROP DATABASE probes_kept")


def in_thread(fn):
    out = {}

    def run():
        try:
            out['value'] = fn()
        except psycopg2.Error as e:
            out['error'] = e
    th = threading.Thread(target=run)
    th.start()
    return th, out


def wait_for_lock(admin_cur, app):
    for _ in range(200):
        admin_cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                          (app,))
        if admin_cur.fetchone()[0]:
            return True
        time.sleep(0.02)
    return False


def concurrent(name, isolation, holder_sql, expect_code, check=None, call="SELECT cascade_delete('a', 1)",
               settings=""):
    """holder_sql runs in an open transaction of a second session; the call
    waits for it; the holder commits (or not, for timeouts); the call ends
    with expect_code (None: success, then check(report, cur))."""
    fresh('probes_conc', 'probes_base')
    holder = connect('probes_conc')
    holder.autocommit = False
    h = holder.cursor()
    h.execute(holder_sql)
    caller = psycopg2.connect(dbname='probes_conc', application_name='probes_caller')
    caller.autocommit = False
    k = caller.cursor()
    k.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
    k.execute("SELECT 1")  # the transaction's snapshot, before the holder commits
    if settings:
        k.execute(settings)

    def do():
        k.execute("SET client_min_messages = debug1")
        k.execute(call)
        return k.fetchone()[0]
    th, out = in_thread(do)
    mon = connect('postgres').cursor()
    waited = wait_for_lock(mon, 'probes_caller')
    if expect_code in ('55P03', '57014'):
        th.join()
        holder.rollback()
    else:
        holder.commit()
        th.join()
    probes = any('cascade_delete: index probes' in n for n in caller.notices)
    err = out.get('error')
    code = err.pgcode if err else None
    ok = waited and code == expect_code and (probes or code is not None)
    detail = f"waited {waited}, got {code}{': ' + err.pgerror.splitlines()[0] if err else ''}"
    if ok and check and not err:
        caller.commit()
        ok = check(out['value'], connect('probes_conc').cursor())
        detail += f", {out['value']}"
    T.check(ok, f"{name} ({isolation}): {expect_code or 'success'}; {detail}")
    caller.close()
    holder.close()


def main():
    shapes()
    privileges()
    kept_indexes()
    many_tables()
    fresh('probes_base', 'template0')
    with connect('probes_base') as c:
        c.autocommit = True
        c.cursor().execute(BASE)
    c.close()

    def child_gone(report, cur):
        cur.execute("SELECT count(*) FROM c WHERE b_id IN (1, 2, 3)")
        return cur.fetchone()[0] == 0
    # a child inserted under b 1 by a transaction that commits while the call
    # waits for b 1: the post-check finds it
    concurrent("a child inserted meanwhile", "READ COMMITTED", "INSERT INTO c VALUES (1000, 1)", '40001')
    concurrent("a child inserted meanwhile", "REPEATABLE READ", "INSERT INTO c VALUES (1000, 1)", '40001')
    # a row of the cascade updated meanwhile
    concurrent("a row updated meanwhile", "READ COMMITTED", "UPDATE b SET v = -1 WHERE id = 2", '40001')
    concurrent("a row updated meanwhile", "REPEATABLE READ", "UPDATE b SET v = -1 WHERE id = 2", '40001')
    # a row deleted meanwhile: gone either way in READ COMMITTED, not counted
    concurrent("a row deleted meanwhile", "READ COMMITTED", "DELETE FROM c WHERE id = 1", None,
               check=lambda report, cur: report['deleted'].get('public.c') == 10 and child_gone(report, cur))
    concurrent("a row deleted meanwhile", "REPEATABLE READ", "DELETE FROM c WHERE id = 1", '40001')
    # the original SQLSTATEs of a wait cut short
    concurrent("a lock timeout", "READ COMMITTED", "UPDATE b SET v = -1 WHERE id = 2", '55P03',
               settings="SET lock_timeout = '300ms'")
    concurrent("a statement timeout", "READ COMMITTED", "UPDATE b SET v = -1 WHERE id = 2", '57014',
               settings="SET statement_timeout = '300ms'")
    admin = connect('postgres').cursor()
    for db in ('probes_tpl', 'probes_native', 'probes_probes', 'probes_statements', 'probes_priv', 'probes_base',
               'probes_conc'):
        admin.execute(f"DROP DATABASE IF EXISTS {db}")
    T.finish()


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""cascade_delete on Citus (src/distributed.cpp): a coordinator and two workers
of its own (initdb in a temporary directory, 127.0.0.1, free ports), each with
Citus preloaded. Skipped, with one line saying so, when Citus is not installed
(production users get it from Citus's packages, postgresql-15-citus-13.2; on
the project's machines ../shared/citus/build.sh builds it, and .ci/run calls
that).

Two copies of each schema, one per Postgres schema: `n` deleted by PostgreSQL's
and Citus's own ON DELETE actions (the oracle), `x` by cascade_delete; after
each call the two are compared row by row. Then what only cascade_delete does
(PROTECT against RESTRICT, SET(value), dry runs), the statements' routing to
the shards of the roots' tenants (citus.log_remote_commands), an error on a
worker halfway leaving every node unchanged, and the shapes refused up front.

Prints `citus: N passed, M failed`.
"""
import os
import random
import shutil
import sys
import threading
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from cluster import citus_installed, own_dir, start_citus  # noqa: E402
from tally import Tally  # noqa: E402

T = Tally('citus')

# Tenants 1..4, each: 10 a, 50 b, 200 c, 60 ev (partitioned by day, two
# partitions) and 20 evnote under ev; kind is a reference table referenced
# by item (distributed) and shelf, a plain table that the foreign key to a
# reference table makes a coordinator-local table in Citus's metadata, as it
# does book, which references shelf. (Citus allows no SET NULL / SET DEFAULT
# foreign key that includes the distribution column: SET_* of distributed
# tables is tested with policies.)
SCHEMA = """
CREATE SCHEMA {s};
CREATE TABLE {s}.a (tenant int, id int, note text, PRIMARY KEY (tenant, id));
CREATE TABLE {s}.b (tenant int, id int, a_id int, PRIMARY KEY (tenant, id),
                    FOREIGN KEY (tenant, a_id) REFERENCES {s}.a ON DELETE CASCADE);
CREATE TABLE {s}.c (tenant int, id int, b_id int, PRIMARY KEY (tenant, id),
                    FOREIGN KEY (tenant, b_id) REFERENCES {s}.b ON DELETE CASCADE);
CREATE TABLE {s}.forest (tenant int, id int, PRIMARY KEY (tenant, id));
CREATE TABLE {s}.tree (tenant int, id int, up int, forest_id int, PRIMARY KEY (tenant, id),
                       FOREIGN KEY (tenant, up) REFERENCES {s}.tree ON DELETE CASCADE,
                       FOREIGN KEY (tenant, forest_id) REFERENCES {s}.forest ON DELETE CASCADE);
CREATE TABLE {s}.leaf (tenant int, id int, tree_id int, PRIMARY KEY (tenant, id),
                       FOREIGN KEY (tenant, tree_id) REFERENCES {s}.tree ON DELETE CASCADE);
CREATE TABLE {s}.kind (id int PRIMARY KEY, name text);
CREATE TABLE {s}.item (tenant int, id int, kind_id int REFERENCES {s}.kind ON DELETE CASCADE,
                       PRIMARY KEY (tenant, id));
CREATE TABLE {s}.ev (tenant int, id int, a_id int, day date, PRIMARY KEY (tenant, id, day),
                     FOREIGN KEY (tenant, a_id) REFERENCES {s}.a ON DELETE CASCADE) PARTITION BY RANGE (day);
CREATE TABLE {s}.ev1 PARTITION OF {s}.ev FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE {s}.ev2 PARTITION OF {s}.ev FOR VALUES FROM ('2026-02-01') TO ('2027-01-01');
CREATE TABLE {s}.evnote (tenant int, id int, ev_id int, ev_day date, PRIMARY KEY (tenant, id),
                       FOREIGN KEY (tenant, ev_id, ev_day) REFERENCES {s}.ev ON DELETE CASCADE);
CREATE TABLE {s}.ring1 (tenant int, id int, ring2_id int, PRIMARY KEY (tenant, id));
CREATE TABLE {s}.ring2 (tenant int, id int, ring1_id int, PRIMARY KEY (tenant, id),
                        FOREIGN KEY (tenant, ring1_id) REFERENCES {s}.ring1 ON DELETE CASCADE);
CREATE TABLE {s}.shelf (id int PRIMARY KEY, kind_id int REFERENCES {s}.kind ON DELETE CASCADE);
CREATE TABLE {s}.book (id int PRIMARY KEY, shelf_id int REFERENCES {s}.shelf ON DELETE SET NULL);
SELECT create_reference_table('{s}.kind');
SELECT create_distributed_table('{s}.a', 'tenant', colocate_with => 'none');
SELECT create_distributed_table('{s}.b', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.c', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.item', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.forest', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.tree', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.leaf', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.ev', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.evnote', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.ring1', 'tenant', colocate_with => '{s}.a');
SELECT create_distributed_table('{s}.ring2', 'tenant', colocate_with => '{s}.a');
INSERT INTO {s}.a SELECT t, g, 'a' || g FROM generate_series(1, 4) t, generate_series(1, 10) g;
INSERT INTO {s}.b SELECT t, g, 1 + g % 10 FROM generate_series(1, 4) t, generate_series(1, 50) g;
INSERT INTO {s}.c SELECT t, g, 1 + g % 50 FROM generate_series(1, 4) t, generate_series(1, 200) g;
INSERT INTO {s}.forest SELECT t, g FROM generate_series(1, 4) t, generate_series(1, 3) g;
INSERT INTO {s}.tree SELECT t, g, NULL, 1 + g % 3 FROM generate_series(1, 4) t, generate_series(1, 6) g;
INSERT INTO {s}.tree SELECT t, g, g - 6, NULL FROM generate_series(1, 4) t, generate_series(7, 40) g;
INSERT INTO {s}.leaf SELECT t, g, 1 + g % 40 FROM generate_series(1, 4) t, generate_series(1, 80) g;
INSERT INTO {s}.kind SELECT g, 'k' || g FROM generate_series(1, 5) g;
INSERT INTO {s}.item SELECT t, g, 1 + g % 5 FROM generate_series(1, 4) t, generate_series(1, 40) g;
INSERT INTO {s}.ev SELECT t, g, 1 + g % 10, DATE '2026-01-01' + g FROM generate_series(1, 4) t, generate_series(1, 60) g;
INSERT INTO {s}.evnote SELECT t, g, g, DATE '2026-01-01' + g FROM generate_series(1, 4) t, generate_series(1, 60, 3) g;
INSERT INTO {s}.ring1 SELECT t, g, CASE WHEN g > 1 THEN g - 1 END FROM generate_series(1, 4) t, generate_series(1, 12) g;
INSERT INTO {s}.ring2 SELECT t, g, g FROM generate_series(1, 4) t, generate_series(1, 12) g;
INSERT INTO {s}.shelf SELECT g, 1 + g % 5 FROM generate_series(1, 20) g;
INSERT INTO {s}.book SELECT g, 1 + g % 20 FROM generate_series(1, 60) g;
"""
TABLES = ('a', 'b', 'c', 'ev', 'evnote', 'forest', 'tree', 'leaf', 'kind', 'item', 'shelf', 'book', 'ring1', 'ring2')


def rows(cur, schema):
    out = {}
    for t in TABLES:
        cur.execute(f"SELECT * FROM {schema}.{t} ORDER BY 1, 2")
        out[t] = cur.fetchall()
    return out


def lock_waiter(nodes, condition):
    """(node, pid) of a backend on one of nodes that waits for a lock and
    whose query matches condition (SQL on pg_stat_activity), polled for up to
    10 s; None if none came."""
    for _ in range(200):
        for n in nodes:
            k = n.connect('app')
            kc = k.cursor()
            kc.execute(f"SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND ({condition}) LIMIT 1")
            row = kc.fetchone()
            k.close()
            if row:
                return n, row[0]
        time.sleep(0.05)
    return None


def error_of(cur, sql, args=None, result=None):
    """The SQLSTATE and message of sql's error (None, None without one; then
    the first column of its first row goes to result[0] when given)."""
    cur.execute("SAVEPOINT s")
    try:
        cur.execute(sql, args)
        if result is not None:
            result.append(cur.fetchone()[0])
        cur.execute("RELEASE SAVEPOINT s")
        return None, None
    except psycopg2.Error as e:
        cur.execute("ROLLBACK TO SAVEPOINT s")
        return e.pgcode, (e.pgerror or '').strip()


def differential(conn):
    """cascade_delete against the native actions on the same data."""
    cur = conn.cursor()
    cases = [
        ("one tenant's a row",
         "SELECT cascade_delete('x.a', ARRAY[3, 1])", "DELETE FROM n.a WHERE tenant = 3 AND id = 1"),
        ("several rows of two tenants",
         "SELECT cascade_delete_many('x.a', ARRAY[[2, 2], [4, 7], [4, 8], [4, 99]])",
         "DELETE FROM n.a WHERE (tenant, id) IN ((2, 2), (4, 7), (4, 8), (4, 99))"),
        ("from the middle: b rows", "SELECT cascade_delete_many('x.b', ARRAY[[1, 5], [1, 6]])",
         "DELETE FROM n.b WHERE (tenant, id) IN ((1, 5), (1, 6))"),
        ("one tenant's forest row: a self-referencing tree below it, and the tree's leaves",
         "SELECT cascade_delete('x.forest', ARRAY[2, 1])", "DELETE FROM n.forest WHERE tenant = 2 AND id = 1"),
        ("from the middle of the tree", "SELECT cascade_delete('x.tree', ARRAY[3, 8])",
         "DELETE FROM n.tree WHERE tenant = 3 AND id = 8"),
        ("a reference table's row, cascading into a distributed table on every worker and into "
         "coordinator-local tables (a SET NULL among them)",
         "SELECT cascade_delete('x.kind', 2)", "DELETE FROM n.kind WHERE id = 2"),
        ("cascade_delete_where over two tenants", "SELECT cascade_delete_where('x.a', 'tenant IN (3, 4) AND id = 10')",
         "DELETE FROM n.a WHERE tenant IN (3, 4) AND id = 10"),
        ("cascade_delete_where into a self-referencing tree",
         "SELECT cascade_delete_where('x.forest', 'forest.tenant = 4 AND id >= 2')",
         "DELETE FROM n.forest WHERE tenant = 4 AND id >= 2"),
        ("cascade_delete_where matching no row", "SELECT cascade_delete_where('x.a', 'false')", "SELECT 1"),
        ("a cycle through two tables within a tenant (ring1 -> ring2 -> ring1 ...)",
         "SELECT cascade_delete('x.ring1', ARRAY[2, 7])", "DELETE FROM n.ring1 WHERE tenant = 2 AND id = 7"),
        ("roots in two tenants with a self-referencing tree below them (statements run once per tenant)",
         "SELECT cascade_delete_many('x.forest', ARRAY[[1, 1], [3, 1]])",
         "DELETE FROM n.forest WHERE (tenant, id) IN ((1, 1), (3, 1))"),
        ("roots in three tenants in a cycle through two tables",
         "SELECT cascade_delete_many('x.ring1', ARRAY[[1, 5], [3, 9], [4, 11]])",
         "DELETE FROM n.ring1 WHERE (tenant, id) IN ((1, 5), (3, 9), (4, 11))"),
        ("a coordinator-local table's rows", "SELECT cascade_delete_many('x.shelf', ARRAY[3, 4])",
         "DELETE FROM n.shelf WHERE id IN (3, 4)"),
    ]
    for name, call, native in cases:
        before = rows(cur, 'x')
        conn.commit()  # each its own transaction, as an application would
        cur.execute(call)
        report = cur.fetchone()[0]
        conn.commit()
        cur.execute(native)
        conn.commit()
        after_x, after_n = rows(cur, 'x'), rows(cur, 'n')
        gone = {t: len(before[t]) - len(after_x[t]) for t in TABLES}
        counted = {t.split('.')[1]: v for t, v in report['deleted'].items()}
        T.check(after_x == after_n, f"{name}: every table equals the native actions' ({report})")
        T.check(all(gone[t] == counted.get(t, 0) for t in TABLES) and report['total'] == sum(gone.values()),
                f"{name}: the report counts the rows gone {gone}")
        changed = {t: len(set(after_x[t]) - set(before[t])) for t in TABLES}
        counted = {t.split('.')[1]: v for t, v in report['updated'].items()}
        T.check(all(changed[t] == counted.get(t, 0) for t in TABLES),
                f"{name}: the report counts the rows updated {({t: v for t, v in changed.items() if v})}")


def routing(conn):
    """A cascade whose roots share a tenant runs on the shards of that tenant
    only; one over two tenants on theirs (Citus logs each remote command)."""
    cur = conn.cursor()
    for keys, tenants in (("ARRAY[1, 3]", 1), ("ARRAY[[2, 4], [3, 9]]", 2)):
        fn = 'cascade_delete' if tenants == 1 else 'cascade_delete_many'
        cur.execute("SET citus.log_remote_commands = on; SET client_min_messages = log")
        del conn.notices[:]
        cur.execute(f"SELECT {fn}('x.a', {keys})")
        cur.execute("RESET citus.log_remote_commands; RESET client_min_messages")
        deletes = [n for n in conn.notices if 'issuing DELETE' in n]
        shards = {n.split('DELETE FROM ')[1].replace('ONLY ', '').split(' ')[0] for n in deletes}
        T.check(len(deletes) == 5 * tenants and len(shards) == 5 * tenants,  # a, b, c, ev, evnote
                f"roots of {tenants} tenant(s): each table's DELETE sent to {tenants} shard(s) "
                f"({len(deletes)} remote deletes, shards {sorted(shards)})")


def semantics(conn):
    """What only cascade_delete does: PROTECT against RESTRICT, SET(value), dry runs."""
    cur = conn.cursor()
    cur.execute("""
        CREATE TABLE x.p (tenant int, id int, a_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.p', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.p VALUES (1, 1, 9), (2, 1, 9);
        SELECT cascade_delete_set_policy('x.p', '{tenant,a_id}', 'PROTECT', parent => 'x.a');
    """)
    before = rows(cur, 'x')
    code, msg = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[1, 9])")
    T.check(code == '23503' and 'PROTECT' in msg and rows(cur, 'x') == before,
            f"PROTECT: 23503 and nothing changed on any node ({code}: {msg.splitlines()[0] if msg else ''})")
    cur.execute("SELECT cascade_delete('x.a', ARRAY[1, 9], dry_run => true)")
    dry = cur.fetchone()[0]
    T.check(dry['dry_run'] and len(dry['blocked']) == 1 and dry['blocked'][0]['action'] == 'PROTECT'
            and dry['blocked'][0]['count'] == 1, f"a dry run lists the PROTECT blocker: {dry['blocked']}")
    # RESTRICT: a referencing row the cascade deletes anyway does not block;
    # one that survives does.
    cur.execute("""
        SELECT cascade_delete_set_policy('x.p', '{tenant,a_id}', 'RESTRICT', parent => 'x.a');
        CREATE TABLE x.q (tenant int, id int, a_id int, b_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.q', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.q VALUES (1, 1, 10, 10);
        INSERT INTO x.q VALUES (1, 2, 10, 11);
        SELECT cascade_delete_set_policy('x.q', '{tenant,a_id}', 'RESTRICT', parent => 'x.a');
        SELECT cascade_delete_set_policy('x.q', '{tenant,b_id}', 'CASCADE', parent => 'x.b');
    """)
    # a 10's b rows: 9, 19, 29, 39, 49 (b_id 10 and 11 belong to a 1 and 2)
    code, msg = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[1, 10])")
    T.check(code == '23503' and 'RESTRICT' in msg,
            f"RESTRICT: a referencing row that would survive blocks ({code})")
    cur.execute("UPDATE x.q SET b_id = 9 WHERE tenant = 1")
    cur.execute("SELECT count(*) FROM x.b WHERE tenant = 1 AND a_id = 10")
    nb = cur.fetchone()[0]
    cur.execute("SELECT cascade_delete('x.a', ARRAY[1, 10])")
    report = cur.fetchone()[0]
    cur.execute("SELECT count(*) FROM x.q WHERE tenant = 1")
    T.check(report['deleted'].get('x.q') == 2 and report['deleted'].get('x.b') == nb and cur.fetchone()[0] == 0,
            f"RESTRICT: referencing rows the cascade deletes through another key do not block ({report})")
    # SET(value) from a reference table's row into a distributed table (a
    # policy's SET writes all its columns: here the one, not the distribution column)
    cur.execute("""
        CREATE TABLE x.s (tenant int, id int, kind_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.s', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.s VALUES (4, 1, 3), (1, 2, 3), (4, 3, 4);
        SELECT cascade_delete_set_policy('x.s', '{kind_id}', 'SET', parent => 'x.kind', value => '-1');
    """)
    conn.commit()  # a reference table is modified: a transaction of its own (see README)
    cur.execute("SELECT cascade_delete('x.kind', 3, dry_run => true)")
    dry = cur.fetchone()[0]
    cur.execute("SELECT cascade_delete('x.kind', 3)")
    report = cur.fetchone()[0]
    conn.commit()
    cur.execute("SELECT id, kind_id FROM x.s ORDER BY id")
    T.check(cur.fetchall() == [(1, -1), (2, -1), (3, 4)] and report['updated'].get('x.s') == 2,
            f"SET(value): the two referencing rows on both workers set to -1 ({report})")
    T.check(dry['deleted'] == report['deleted'] and dry['updated'] == report['updated'],
            f"the dry run's counts equal the call's ({dry})")


def more(conn, coordinator):
    """A dry run predicting an update's refusal; max_rows; and a warm session
    noticing a table distributed by another session (its shell on the
    coordinator is empty: a call that took it for a plain table would find
    nothing to delete)."""
    cur = conn.cursor()
    conn.commit()
    cur.execute("INSERT INTO x.kind VALUES (9, 'k9')")
    conn.commit()
    cur.execute("""
        CREATE TABLE x.nn (tenant int, id int, kind_id int NOT NULL, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.nn', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.nn VALUES (1, 1, 9);
    """)
    conn.commit()
    # the policy is checked against NOT NULL when set: set it on a nullable
    # column, then make the column NOT NULL
    cur.execute("ALTER TABLE x.nn ALTER COLUMN kind_id DROP NOT NULL")
    cur.execute("SELECT cascade_delete_set_policy('x.nn', '{kind_id}', 'SET_NULL', parent => 'x.kind')")
    cur.execute("ALTER TABLE x.nn ALTER COLUMN kind_id SET NOT NULL")
    conn.commit()
    cur.execute("SELECT cascade_delete('x.kind', 9, dry_run => true)")
    dry = cur.fetchone()[0]
    T.check(len(dry['blocked']) == 1 and dry['blocked'][0]['table'] == 'x.nn',
            f"a dry run predicts the SET_NULL of a NOT NULL column ({dry['blocked']})")
    code, _ = error_of(cur, "SELECT cascade_delete('x.kind', 9)")
    conn.rollback()
    T.check(code == '23502', f"and the call fails with 23502 ({code})")
    cur.execute("DELETE FROM cascade_delete_policy WHERE child = 'x.nn'::regclass")
    conn.commit()
    # the explain of a reference table's row: per table, what the dry run counts
    cur.execute("SELECT max(kind_id) FROM x.shelf")
    kind = cur.fetchone()[0]
    cur.execute("SELECT cascade_delete('x.kind', %s, dry_run => true)", (kind,))
    dry = cur.fetchone()[0]
    cur.execute("SELECT table_name::text, action, table_rows, note FROM cascade_delete_explain('x.kind', %s) "
                "ORDER BY path", (kind,))
    paths = cur.fetchall()
    deleted = {t: n for t, a, n, _ in paths if a in (None, 'CASCADE') and n}
    updated = {t: n for t, a, n, _ in paths if a and a.startswith('SET') and n}
    T.check(deleted == dry['deleted'] and updated == dry['updated'] and len(paths) >= 4,
            f"the explain on Citus (a reference table's row into distributed and coordinator-local tables) "
            f"counts per table what the dry run does ({len(paths)} paths: {deleted}, {updated})")
    conn.commit()
    cur.execute("SET cascade_delete.max_rows = 5")
    before = rows(cur, 'x')
    code, msg = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[4, 1])")
    T.check(code == '54000' and rows(cur, 'x') == before, f"max_rows: 54000 and nothing changed ({code})")
    cur.execute("RESET cascade_delete.max_rows")
    conn.commit()
    # a warm session, a table distributed by another
    cur.execute("""
        CREATE TABLE x.late (tenant int, id int, PRIMARY KEY (tenant, id));
        CREATE TABLE x.late_child (tenant int, id int, late_id int, PRIMARY KEY (tenant, id),
                                   FOREIGN KEY (tenant, late_id) REFERENCES x.late ON DELETE CASCADE);
        INSERT INTO x.late SELECT 1, g FROM generate_series(1, 5) g;
        INSERT INTO x.late_child SELECT 1, g, 1 + g % 5 FROM generate_series(1, 20) g;
    """)
    conn.commit()
    cur.execute("SELECT cascade_delete('x.late', ARRAY[1, 1])")
    first = cur.fetchone()[0]
    conn.commit()
    other = coordinator.connect('app')
    other.cursor().execute("SELECT create_distributed_table('x.late', 'tenant', colocate_with => 'x.a');"
                           "SELECT create_distributed_table('x.late_child', 'tenant', colocate_with => 'x.a')")
    other.close()
    cur.execute("SELECT cascade_delete('x.late', ARRAY[1, 2])")
    second = cur.fetchone()[0]
    conn.commit()
    cur.execute("SELECT count(*) FROM x.late_child WHERE late_id = 2")
    T.check(first['total'] == 5 and second['total'] == 5 and cur.fetchone()[0] == 0,
            f"a table distributed by another session after a call: the next call deletes its rows on the workers "
            f"({first}, then {second})")


def atomicity(conn):
    """An error on a worker after some statements ran: every node unchanged."""
    cur = conn.cursor()
    cur.execute("""
        CREATE TABLE x.keep (tenant int, id int, a_id int, PRIMARY KEY (tenant, id),
                             FOREIGN KEY (tenant, a_id) REFERENCES x.a);
        SELECT create_distributed_table('x.keep', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.keep VALUES (2, 1, 5);
        SELECT cascade_delete_set_policy('x.keep', '{tenant,a_id}', 'DO_NOTHING', parent => 'x.a');
    """)
    before = rows(cur, 'x')
    cur.execute("SELECT count(*) FROM x.c WHERE tenant = 2 AND b_id IN (SELECT id FROM x.b WHERE tenant = 2 AND a_id = 5)")
    children = cur.fetchone()[0]
    code, msg = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[2, 5])")
    T.check(code == '23503' and children > 0 and rows(cur, 'x') == before,
            f"the root's delete refused by the worker (a key left to PostgreSQL): 23503, and the {children} "
            f"c rows deleted before it are back ({code})")
    cur.execute("DROP TABLE x.keep")
    conn.commit()
    # a cancel while a worker waits for a row another session holds
    holder = psycopg2.connect(host=conn.info.host, port=conn.info.port, user=conn.info.user, dbname='app')
    h = holder.cursor()
    h.execute("UPDATE x.c SET b_id = b_id WHERE tenant = 3 AND id = (SELECT min(id) FROM x.c WHERE tenant = 3"
              " AND b_id IN (SELECT id FROM x.b WHERE tenant = 3 AND a_id = 6))")
    before = rows(cur, 'x')
    cur.execute("SET statement_timeout = '500ms'")
    code, _ = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[3, 6])")
    cur.execute("RESET statement_timeout")
    holder.rollback()
    holder.close()
    T.check(code == '57014' and rows(cur, 'x') == before,
            f"a statement timeout while a worker waits for a locked row: 57014, every node unchanged ({code})")

WRITERS = """
CREATE SCHEMA w;
CREATE TABLE w.a (tenant int, id int, PRIMARY KEY (tenant, id));
CREATE TABLE w.b (tenant int, id int, a_id int, PRIMARY KEY (tenant, id));
CREATE TABLE w.c (tenant int, id int, b_id int, PRIMARY KEY (tenant, id));
CREATE TABLE w.tree (tenant int, id int, up int, PRIMARY KEY (tenant, id));
CREATE TABLE w.leaf (tenant int, id int, tree_id int, PRIMARY KEY (tenant, id));
CREATE TABLE w.kind (id int PRIMARY KEY);
CREATE TABLE w.item (tenant int, id int, kind_id int, PRIMARY KEY (tenant, id));
CREATE TABLE w.itemnote (tenant int, id int, item_id int, PRIMARY KEY (tenant, id));
SELECT create_reference_table('w.kind');
SELECT create_distributed_table('w.a', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.b', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.c', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.tree', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.leaf', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.item', 'tenant', colocate_with => 'x.a');
SELECT create_distributed_table('w.itemnote', 'tenant', colocate_with => 'x.a');
ALTER TABLE w.b ADD FOREIGN KEY (tenant, a_id) REFERENCES w.a ON DELETE CASCADE;
ALTER TABLE w.c ADD FOREIGN KEY (tenant, b_id) REFERENCES w.b ON DELETE CASCADE;
ALTER TABLE w.tree ADD FOREIGN KEY (tenant, up) REFERENCES w.tree ON DELETE CASCADE;
ALTER TABLE w.leaf ADD FOREIGN KEY (tenant, tree_id) REFERENCES w.tree ON DELETE CASCADE;
ALTER TABLE w.item ADD FOREIGN KEY (kind_id) REFERENCES w.kind ON DELETE CASCADE;
ALTER TABLE w.itemnote ADD FOREIGN KEY (tenant, item_id) REFERENCES w.item ON DELETE CASCADE;
INSERT INTO w.a SELECT t, g FROM generate_series(1, 4) t, generate_series(1, 4) g;
INSERT INTO w.b SELECT t, g, 1 + g % 4 FROM generate_series(1, 4) t, generate_series(1, 20) g;
INSERT INTO w.c SELECT t, g, 1 + g % 20 FROM generate_series(1, 4) t, generate_series(1, 60) g;
INSERT INTO w.tree SELECT t, g, CASE WHEN g > 1 THEN g / 2 END FROM generate_series(1, 4) t, generate_series(1, 30) g;
INSERT INTO w.leaf SELECT t, g, 1 + g % 30 FROM generate_series(1, 4) t, generate_series(1, 60) g;
INSERT INTO w.kind SELECT g FROM generate_series(1, 4) g;
INSERT INTO w.item SELECT t, g, 1 + g % 4 FROM generate_series(1, 4) t, generate_series(1, 20) g;
INSERT INTO w.itemnote SELECT t, g, g FROM generate_series(1, 4) t, generate_series(1, 20) g;
"""


def concurrent_writers(conn, nodes):
    """A row another transaction writes under a row the call deletes, while
    the call runs: it must not be deleted by the foreign key's own action on
    a worker and left out of the report. The call is held on a row lock of a
    third session at its first delete; the writer inserts then; the holder
    lets go. The call locks the rows it will delete that such keys reference
    before anything else (a reference table's referencing tables as a
    whole), so the writer waits, and fails with 23503 once the call commits.
    Under REPEATABLE READ nothing is locked: the writer goes on, and the
    key's own action on the worker fails the call with 40001 (the row is not
    in its snapshot), nothing deleted."""
    cur = conn.cursor()
    cur.execute(WRITERS)
    conn.commit()
    cases = [
        ("one tenant: a -> b -> c", "SELECT cascade_delete('w.a', ARRAY[1, 2])",
         "UPDATE w.c SET b_id = b_id WHERE tenant = 1 AND id = 4",
         "INSERT INTO w.c VALUES (1, 1000, 5)", 'w.c', "tenant = 1", False),
        ("one tenant under REPEATABLE READ", "SELECT cascade_delete('w.a', ARRAY[1, 3])",
         "UPDATE w.c SET b_id = b_id WHERE tenant = 1 AND id = 1",
         "INSERT INTO w.c VALUES (1, 1001, 6)", 'w.c', "tenant = 1", True),
        ("roots in two tenants (locks taken per shard group)",
         "SELECT cascade_delete_many('w.a', ARRAY[[2, 2], [3, 2]])",
         "UPDATE w.c SET b_id = b_id WHERE tenant = 3 AND id = 4",
         "INSERT INTO w.c VALUES (3, 1000, 5)", 'w.c', "tenant IN (2, 3)", False),
        ("a self-referencing tree", "SELECT cascade_delete('w.tree', ARRAY[1, 2])",
         "UPDATE w.leaf SET tree_id = tree_id WHERE tenant = 1 AND id = 3",
         "INSERT INTO w.tree VALUES (1, 1000, 9)", 'w.tree', "tenant = 1", False),
        ("a reference table's row into a distributed table", "SELECT cascade_delete('w.kind', 2)",
         "UPDATE w.itemnote SET item_id = item_id WHERE tenant = 4 AND id = 1",
         "INSERT INTO w.item VALUES (4, 1000, 2)", 'w.item', "true", False),
        ("and into a distributed table below that one (its rows in every tenant)",
         "SELECT cascade_delete('w.kind', 3)",
         "UPDATE w.itemnote SET item_id = item_id WHERE tenant = 4 AND id = 2",
         "INSERT INTO w.itemnote VALUES (4, 1000, 2)", 'w.itemnote', "true", False),
    ]
    for name, call, hold, write, table, where, repeatable in cases:
        holder, writer = nodes[0].connect('app'), nodes[0].connect('app')
        holder.autocommit = writer.autocommit = False
        cur.execute(f"SELECT count(*) FROM {table} WHERE {where}")
        before = cur.fetchone()[0]
        conn.commit()
        holder.cursor().execute(hold)
        result = {}

        def run(what, connection, sql):
            c = connection.cursor()
            if repeatable and what == 'call':
                c.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            c.execute("SET lock_timeout = '20s'")
            rows = result.setdefault(what + ' row', []) if what == 'call' else None
            result[what] = error_of(c, sql, result=rows)
            connection.commit()
        caller = threading.Thread(target=run, args=('call', conn, call))
        caller.start()
        waiting = lock_waiter(nodes, "query LIKE '%cascade_delete%' OR query LIKE 'DELETE%' OR query LIKE '%LOCK %'")
        inserter = threading.Thread(target=run, args=('write', writer, write))
        inserter.start()
        time.sleep(1)
        holder.rollback()
        caller.join(60)
        inserter.join(60)
        holder.close()
        writer.close()
        report = (result.get('call row') or [{}])[0]
        cur.execute(f"SELECT count(*) FROM {table} WHERE {where}")
        gone = before + (result['write'][0] is None) - cur.fetchone()[0]  # the writer's row, if it got in
        conn.commit()
        if repeatable:
            T.check(waiting and result['call'][0] == '40001' and result['write'] == (None, None) and gone == 0,
                    f"{name}: the writer's row goes in, and the call fails with 40001 on the worker, nothing "
                    f"deleted ({result['call'][0]}, {gone} rows gone)")
            continue
        T.check(waiting and result['call'] == (None, None) and result['write'][0] == '23503'
                and report['deleted'].get(table) == gone,
                f"{name}: a row inserted under a deleted row while the call runs waits and fails with 23503 "
                f"({result['write'][0]}), and the report counts the rows gone from {table} "
                f"({report['deleted'].get(table)} of {gone})")


def least_privilege(conn, coordinator):
    """A caller with SELECT and DELETE only: FOR UPDATE needs UPDATE
    privilege, so instead of the rows it cannot lock the call locks the tables
    referencing them whole; it deletes as any other call, and a writer of
    those tables waits for it."""
    cur = conn.cursor()
    cur.execute("CREATE ROLE deleter LOGIN; GRANT USAGE ON SCHEMA w TO deleter;"
                "GRANT SELECT, DELETE ON w.a, w.b, w.c TO deleter")
    conn.commit()
    cur.execute("SELECT count(*) FROM w.c WHERE tenant = 4")
    before = cur.fetchone()[0]
    conn.commit()
    cur.execute("SET ROLE deleter")
    result = []
    code, msg = error_of(cur, "SELECT cascade_delete('w.a', ARRAY[4, 4])", result=result)
    writer = coordinator.connect('app')
    writer.autocommit = False
    w = writer.cursor()
    w.execute("SET lock_timeout = '300ms'")
    waited, _ = error_of(w, "INSERT INTO w.c VALUES (1, 2000, 1)")
    writer.rollback()
    writer.close()
    conn.commit()
    cur.execute("RESET ROLE")
    cur.execute("SELECT count(*) FROM w.c WHERE tenant = 4")
    gone = before - cur.fetchone()[0]
    conn.commit()
    report = result[0] if result else {}
    T.check(code is None and report.get('deleted', {}).get('w.c') == gone and gone > 0 and waited == '55P03',
            f"a caller with SELECT and DELETE only: the call deletes ({code} {(msg or '').splitlines()[:1]}, "
            f"{report.get('deleted')}, {gone} c rows gone), the tables below locked whole (a writer of w.c: "
            f"{waited})")


def worker_killed(conn, nodes):
    """A worker's connection killed while the cascade runs there: the call
    fails and every node is as before. The worker's statement is held on a
    row lock of another session, then its backend terminated."""
    cur = conn.cursor()
    holder = nodes[0].connect('app')
    holder.autocommit = False
    h = holder.cursor()
    h.execute("UPDATE x.c SET b_id = b_id WHERE tenant = 3 AND id = (SELECT min(id) FROM x.c WHERE tenant = 3"
              " AND b_id IN (SELECT id FROM x.b WHERE tenant = 3 AND a_id = 6))")
    before = rows(cur, 'x')
    conn.commit()
    result = {}

    def call():
        result['code'], result['msg'] = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[3, 6])")
        conn.rollback()
    runner = threading.Thread(target=call)
    runner.start()
    killed = None
    waiter = lock_waiter(nodes[1:], "query LIKE 'DELETE%'")
    if waiter:
        node, killed = waiter
        k = node.connect('app')
        k.autocommit = True
        k.cursor().execute("SELECT pg_terminate_backend(%s)", (killed,))
        k.close()
    runner.join(60)
    holder.rollback()
    holder.close()
    T.check(killed is not None and result.get('code') is not None and rows(cur, 'x') == before,
            f"a worker's backend killed mid-cascade: the call fails ({result.get('code')}: "
            f"{(result.get('msg') or '').splitlines()[:1]}) and every node is unchanged")
    conn.commit()


def jobs(conn):
    """Chunked jobs on Citus: planned by the Citus way, run chunk by chunk
    (each chunk a cascade_delete_many() over saved keys, committed), the end
    state Citus's own cascade's on the other copy, the counters the rows
    gone."""
    cur = conn.cursor()
    conn.commit()
    cases = [
        ("roots in two tenants, a -> b -> c, a partitioned table",
         "SELECT cascade_delete_start_many('x.a', ARRAY[[1, 2], [4, 3]], chunk_rows => 7)",
         "DELETE FROM n.a WHERE (tenant, id) IN ((1, 2), (4, 3))"),
        ("one tenant's forest row: a self-referencing tree below it",
         "SELECT cascade_delete_start('x.forest', ARRAY[4, 1], chunk_rows => 5)",
         "DELETE FROM n.forest WHERE tenant = 4 AND id = 1"),
        ("roots in two tenants, a self-referencing tree below them (statements per tenant)",
         "SELECT cascade_delete_start_many('x.forest', ARRAY[[1, 2], [3, 2]], chunk_rows => 5)",
         "DELETE FROM n.forest WHERE (tenant, id) IN ((1, 2), (3, 2))"),
    ]
    for name, start, native in cases:
        before, before_n = rows(cur, 'x'), rows(cur, 'n')  # the copies differ by now: compare what goes
        cur.execute(start)
        job = cur.fetchone()[0]
        conn.commit()
        conn.autocommit = True  # CALL commits chunk by chunk
        cur.execute("CALL cascade_delete_run(%s)", (job,))
        conn.autocommit = False
        cur.execute(native)
        conn.commit()
        after_x, after_n = rows(cur, 'x'), rows(cur, 'n')
        cur.execute("SELECT state, chunks FROM cascade_delete_jobs WHERE job = %s", (job,))
        state, chunks = cur.fetchone()
        cur.execute("SELECT pg_catalog.split_part(table_name::text, '.', 2), deleted, planned_deleted "
                    "FROM cascade_delete_job_tables WHERE job = %s", (job,))
        counted = {t: (d, p) for t, d, p in cur.fetchall()}
        gone = {t: len(before[t]) - len(after_x[t]) for t in TABLES if len(before[t]) != len(after_x[t])}
        conn.commit()
        def gone_keys(b, a):  # the rows' first two columns: x.a has a column more by now
            return {r[:2] for r in b} - {r[:2] for r in a}
        same = all(gone_keys(before[t], after_x[t]) == gone_keys(before_n[t], after_n[t]) and
                   set(after_x[t]) <= set(before[t]) for t in TABLES)
        T.check(state == 'finished' and chunks > 1 and same and
                {t: d for t, (d, _) in counted.items() if d} == gone and all(d == p for d, p in counted.values()),
                f"a chunked job on Citus, {name}: {state} in {chunks} chunks, the rows Citus's own cascade "
                f"deleted and no other, done = planned = rows gone {gone}")
    # the runner's backend killed between chunks, then the job run again
    before, before_n = rows(cur, 'x'), rows(cur, 'n')
    cur.execute("SELECT cascade_delete_start('x.a', ARRAY[2, 5], chunk_rows => 3, pause => '300ms')")
    job = cur.fetchone()[0]
    conn.commit()
    runner = psycopg2.connect(host=conn.info.host, port=conn.info.port, user=conn.info.user, dbname='app')
    runner.autocommit = True
    rc = runner.cursor()
    rc.execute("SELECT pg_backend_pid()")
    pid = rc.fetchone()[0]
    outcome = {}

    def run():
        try:
            rc.execute("CALL cascade_delete_run(%s)", (job,))
        except psycopg2.Error as e:
            outcome['error'] = e.pgcode or 'connection lost'
    thread = threading.Thread(target=run)
    thread.start()
    chunks = 0
    for _ in range(200):
        cur.execute("SELECT chunks FROM cascade_delete_jobs WHERE job = %s", (job,))
        chunks = cur.fetchone()[0]
        conn.commit()
        if chunks >= 2:
            break
        time.sleep(0.05)
    cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    conn.commit()
    thread.join(30)
    runner.close()
    cur.execute("SELECT state, chunks, runner_alive FROM cascade_delete_jobs WHERE job = %s", (job,))
    killed_state = cur.fetchone()
    conn.commit()
    conn.autocommit = True
    cur.execute("CALL cascade_delete_run(%s)", (job,))
    conn.autocommit = False
    cur.execute("DELETE FROM n.a WHERE tenant = 2 AND id = 5")
    conn.commit()
    after_x, after_n = rows(cur, 'x'), rows(cur, 'n')
    cur.execute("SELECT state FROM cascade_delete_jobs WHERE job = %s", (job,))
    state = cur.fetchone()[0]
    conn.commit()
    same = all({r[:2] for r in before[t]} - {r[:2] for r in after_x[t]} ==
               {r[:2] for r in before_n[t]} - {r[:2] for r in after_n[t]} for t in TABLES)
    T.check(outcome.get('error') and killed_state[0] != 'finished' and not killed_state[2] and state == 'finished'
            and same,
            f"a job's runner killed after {chunks} chunks on Citus ({outcome.get('error')}; the job {killed_state[0]}, "
            f"{killed_state[1]} chunks committed, no runner alive), run again: finished, the rows Citus's own cascade "
            f"deleted and no other")


def policy_locks(conn, coordinator):
    """cascade_delete.lock_policy_tables on Citus: a writer of a policy-only
    key's table waits for the deleting transaction (LOCK TABLE reaches the
    shards); under REPEATABLE READ the setting is refused (no check after the
    deletes could catch a row its snapshot missed)."""
    cur = conn.cursor()
    cur.execute("""
        CREATE TABLE x.note (tenant int, id int, a_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.note', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.note VALUES (1, 1, 8);
        SELECT cascade_delete_set_policy('x.note', '{tenant,a_id}', 'CASCADE', parent => 'x.a');
    """)
    conn.commit()
    writer = coordinator.connect('app')
    writer.autocommit = False
    w = writer.cursor()
    w.execute("SET lock_timeout = '300ms'")
    writer.commit()
    outcomes = []
    for lock in ('off', 'on'):
        cur.execute(f"SET cascade_delete.lock_policy_tables = {lock}")
        cur.execute("SELECT cascade_delete('x.a', ARRAY[1, 7])")
        code, _ = error_of(w, "INSERT INTO x.note VALUES (1, 2, 7)")
        writer.rollback()
        outcomes.append(code)
        conn.rollback()
    T.check(outcomes == [None, '55P03'],
            f"lock_policy_tables: a concurrent insert into a policy-only key's distributed table goes through "
            f"without it and waits (55P03 here) with it ({outcomes})")
    cur.execute("SET cascade_delete.lock_policy_tables = on; SELECT cascade_delete('x.a', ARRAY[1, 8])")
    T.check(cur.fetchone()[0]['deleted'].get('x.note') == 1, "and the call with it deletes the policy's rows")
    conn.rollback()
    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET cascade_delete.lock_policy_tables = on")
    code, msg = error_of(cur, "SELECT cascade_delete('x.a', ARRAY[1, 8])")
    conn.rollback()
    T.check(code == '0A000' and 'REPEATABLE READ' in msg,
            f"lock_policy_tables under REPEATABLE READ on Citus: refused with 0A000 ({code})")
    writer.close()
    cur.execute("DROP TABLE x.note")
    conn.commit()


def refusals(conn):
    cur = conn.cursor()
    cur.execute("""
        CREATE TABLE x.other (tenant int, id int, a_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.other', 'tenant', colocate_with => 'none');
        CREATE TABLE x.nodist (tenant int, id int, t2 int, a_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.nodist', 'tenant', colocate_with => 'x.a');
        CREATE TABLE x.cyc (tenant int, id int, a_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.cyc', 'tenant', colocate_with => 'x.a');
        ALTER TABLE x.a ADD COLUMN cyc_id int;
        CREATE TABLE x.plain (id int PRIMARY KEY, a_tenant int, a_id int);
        CREATE TABLE x.setdist (tenant int DEFAULT 0, id int, a_id int DEFAULT 0, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.setdist', 'tenant', colocate_with => 'x.a');
        CREATE TABLE x.onshelf (tenant int, id int, shelf_id int, PRIMARY KEY (tenant, id));
        SELECT create_distributed_table('x.onshelf', 'tenant', colocate_with => 'x.a');
        CREATE TABLE x.rev (id int, tenant int, up int, PRIMARY KEY (id, tenant),
                            FOREIGN KEY (up, tenant) REFERENCES x.rev ON DELETE CASCADE);
        SELECT create_distributed_table('x.rev', 'tenant', colocate_with => 'x.a');
        INSERT INTO x.rev VALUES (1, 1, NULL), (2, 1, 1), (1, 3, NULL);
        CREATE TABLE x.single (id int PRIMARY KEY);
        SELECT create_distributed_table('x.single', NULL);
        INSERT INTO x.single VALUES (1);
    """)
    cases = [
        ("a policy to a table in another co-location group",
         "SELECT cascade_delete_set_policy('x.other', '{tenant,a_id}', 'CASCADE', parent => 'x.a')",
         "SELECT cascade_delete('x.a', ARRAY[1, 1])", "co-located", "x.other"),
        ("a policy that does not pair the distribution columns",
         "SELECT cascade_delete_set_policy('x.nodist', '{t2,a_id}', 'CASCADE', parent => 'x.a')",
         "SELECT cascade_delete('x.a', ARRAY[1, 1])", "distribution columns", "x.nodist"),
        ("a plain local table reached by a policy",
         "SELECT cascade_delete_set_policy('x.plain', '{a_tenant,a_id}', 'CASCADE', parent => 'x.a')",
         "SELECT cascade_delete('x.a', ARRAY[1, 1])", "Citus does not manage", "x.plain"),
        ("a SET_DEFAULT of the distribution column",
         "SELECT cascade_delete_set_policy('x.setdist', '{tenant,a_id}', 'SET_DEFAULT', parent => 'x.a')",
         "SELECT cascade_delete('x.a', ARRAY[1, 1])", "distribution column", "x.setdist"),
        ("a policy from a distributed table to a coordinator-local table",
         "SELECT cascade_delete_set_policy('x.onshelf', '{shelf_id}', 'CASCADE', parent => 'x.shelf')",
         "SELECT cascade_delete('x.shelf', 1)", "coordinator-local", "x.onshelf"),
        ("a partition as the root", "SELECT 1", "SELECT cascade_delete('x.ev1', ARRAY[1, 1, 20260102])",
         "partition tree", None),
        ("a single-shard table (schema-based sharding)", "SELECT 1", "SELECT cascade_delete('x.single', 1)",
         "single-shard", None),
        ("the explain of roots in two tenants with a self-reference, the key not starting with the tenant",
         "SELECT 1", "SELECT * FROM cascade_delete_explain_many('x.rev', ARRAY[[1, 1], [1, 3]])", "first key column",
         None),
        ("the keys of roots in two tenants with a self-reference, the key not starting with the tenant",
         "SELECT 1", "SELECT * FROM cascade_delete_keys_many('x.rev', ARRAY[[1, 1], [1, 3]])", "first key column",
         None),
    ]
    # a chain deeper than the predicates may nest (limits::kCitusMaxDepth)
    cur.execute("SET citus.shard_count = 2; CREATE TABLE x.l0 (tenant int, id int, PRIMARY KEY (tenant, id));"
                "SELECT create_distributed_table('x.l0', 'tenant', colocate_with => 'none')")
    for i in range(1, 52):
        cur.execute(f"CREATE TABLE x.l{i} (tenant int, id int, up int, PRIMARY KEY (tenant, id),"
                    f" FOREIGN KEY (tenant, up) REFERENCES x.l{i - 1} ON DELETE CASCADE);"
                    f"SELECT create_distributed_table('x.l{i}', 'tenant', colocate_with => 'x.l0')")
    cur.execute("RESET citus.shard_count; INSERT INTO x.l0 VALUES (1, 1)")
    cases.append(("a chain of 52 tables", "SELECT 1", "SELECT cascade_delete('x.l0', ARRAY[1, 1])", "deep", None))
    for name, setup, call, words, policy_table in cases:
        cur.execute(setup)
        before = rows(cur, 'x')
        code, msg = error_of(cur, call)
        T.check(code == '0A000' and words in msg and rows(cur, 'x') == before,
                f"refused up front, nothing changed: {name} ({code}: {msg.splitlines()[0] if msg else ''})")
        for t in (policy_table or '').split():
            cur.execute(f"DELETE FROM cascade_delete_policy WHERE child = '{t}'::regclass")


def fuzz(conn, cases, seed):
    """Random co-located schemas (2 to 6 tables, each key to one or two earlier
    tables, ON DELETE CASCADE or NO ACTION, self-references, sometimes a key to
    a later table (a cycle through several tables) or a policy-only key with
    one of Django's actions, diamonds and NULL keys),
    the same data in three copies: cascade_delete_many() (or, in about a third
    of the cases, cascade_delete_where() with the same roots) on the
    distributed tables (x), Citus's own DELETE (n), and cascade_delete_many()
    on plain tables of the coordinator (l: cascade_delete's semantics on one
    node). x must equal l in outcome, tables and report, and n unless n fails
    with 23503 where l succeeds: a NO ACTION key whose referencing rows the
    cascade deletes through another key, which PostgreSQL's own triggers may
    check before they are gone (README, Semantics); and the report must count
    the rows gone."""
    cur = conn.cursor()
    conn.autocommit = True
    cur.execute("SET citus.shard_count = 4")
    conn.autocommit = False
    equal = deleted = differs = explained = cycles = with_policy = 0
    for case in range(cases):
        rng = random.Random(seed * 1000 + case)
        k = rng.randint(2, 6)
        parents = {i: sorted(rng.sample(range(i), min(i, rng.choice((1, 1, 2))))) for i in range(1, k)}
        action = {(i, j): rng.choice(("CASCADE", "CASCADE", "NO ACTION")) for i in parents for j in parents[i]}
        # a self-reference (a tree: up < id) on some tables
        selfref = {i: rng.choice(("CASCADE", "CASCADE", "NO ACTION")) for i in range(k) if rng.random() < 0.3}
        # a key from an earlier table to a later one that references it: a
        # cycle through several tables (added once both exist)
        back = {}
        if rng.random() < 0.4:
            j = rng.randrange(1, k)
            up, above = list(parents[j]), set()
            while up:  # the tables t_j references, directly or not
                t = up.pop()
                above.add(t)
                up += [q for q in parents.get(t, []) if q not in above]
            if above:
                back[rng.choice(sorted(above))] = (j, rng.choice(("CASCADE", "CASCADE", "NO ACTION")))
        # a policy-only key from a table to an earlier one, with Django's
        # actions (x and l only: n is compared without). No SET_*: between
        # co-located tables it would set the distribution column (refused).
        policy = {}
        if k > 1 and rng.random() < 0.35:
            i = rng.randrange(1, k)
            policy[i] = (rng.randrange(i), rng.choice(("PROTECT", "RESTRICT", "DO_NOTHING", "CASCADE")))
        ids = {i: list(range(1, rng.randint(4, 12))) for i in range(k)}
        data = {}
        for i in range(k):
            data[i] = []
            for tenant in (1, 2, 3):
                for id_ in ids[i]:
                    refs = [rng.choice(ids[j]) if rng.random() < 0.75 else None for j in parents.get(i, [])]
                    if i in selfref:
                        refs.append(rng.randrange(1, id_) if id_ > 1 and rng.random() < 0.8 else None)
                    if i in back:
                        refs.append(rng.choice(ids[back[i][0]]) if rng.random() < 0.5 else None)
                    if i in policy:
                        refs.append(rng.choice(ids[policy[i][0]]) if rng.random() < 0.6 else None)
                    data[i].append((tenant, id_, *refs))
        for copy in ('n', 'x', 'l'):
            s = f"fz{case}_{copy}"
            cur.execute(f"CREATE SCHEMA {s}")
            for i in range(k):
                cols = ''.join(f", p{j} int" for j in parents.get(i, [])) + (", up int" if i in selfref else "") + (
                    ", later int" if i in back else "") + (", pol int" if i in policy else "")
                fks = ''.join(f", FOREIGN KEY (tenant, p{j}) REFERENCES {s}.t{j} ON DELETE {action[(i, j)]}"
                              for j in parents.get(i, []))
                if i in selfref:
                    fks += f", FOREIGN KEY (tenant, up) REFERENCES {s}.t{i} ON DELETE {selfref[i]}"
                cur.execute(f"CREATE TABLE {s}.t{i} (tenant int, id int{cols}, PRIMARY KEY (tenant, id){fks})")
                if copy != 'l':
                    cur.execute(f"SELECT create_distributed_table('{s}.t{i}', 'tenant', colocate_with => "
                                f"{repr(s + '.t0') if i else repr('none')})")
                cur.executemany(f"INSERT INTO {s}.t{i} VALUES ({', '.join(['%s'] * len(data[i][0]))})", data[i])
                conn.commit()  # Citus: no schema command after parallel writes in one transaction
            for i, (j, act) in back.items():
                cur.execute(f"ALTER TABLE {s}.t{i} ADD FOREIGN KEY (tenant, later) REFERENCES {s}.t{j} ON DELETE {act}")
                conn.commit()
            for i, (j, act) in policy.items():
                if copy != 'n':
                    cur.execute(f"SELECT cascade_delete_set_policy('{s}.t{i}', '{{tenant,pol}}', '{act}', "
                                f"parent => '{s}.t{j}')")
                    conn.commit()
        root = rng.choice([0, 0, rng.randrange(k)])
        # one tenant or three (with a cycle, statements then run per tenant)
        tenants = [rng.choice((1, 2, 3))] if rng.random() < 0.5 else [1, 2, 3]
        keys = rng.sample([[t, i] for t in tenants for i in ids[root]], min(len(ids[root]), rng.randint(1, 3)))

        def state(copy):
            out = []
            for i in range(k):
                cur.execute(f"SELECT * FROM fz{case}_{copy}.t{i} ORDER BY 1, 2")
                out.append(cur.fetchall())
            return out
        before = state('x')
        # the explain first (only reads): the same tree as on plain tables
        explains = {}
        for copy in ('x', 'l'):
            result = []
            code, msg = error_of(cur, f"SELECT pg_catalog.array_agg(tree ORDER BY path) FROM "
                                      f"cascade_delete_explain_many('fz{case}_{copy}.t{root}', %s::int[])", (keys,), result)
            explains[copy] = (code, msg) if code else [t.replace(f"fz{case}_{copy}.", "") for t in result[0]]
            result = []
            code, _ = error_of(cur, f"SELECT pg_catalog.array_agg(ROW(pg_catalog.replace(table_name::text, "
                                    f"'fz{case}_{copy}.', ''), key, delete_order)::text ORDER BY delete_order, key) "
                                    f"FROM cascade_delete_keys_many('fz{case}_{copy}.t{root}', %s::int[])", (keys,), result)
            explains[copy] = (explains[copy], code or result[0])
        conn.commit()
        if explains['x'] != explains['l']:
            T.check(False, f"fuzz case {case} (seed {seed}): the explain and keys on Citus {explains['x']} differ "
                           f"from theirs on plain tables {explains['l']}")
        explained += explains['x'] == explains['l']
        result = []
        # the roots by their keys, or now and then by a condition
        values = ', '.join(f"({t}, {i})" for t, i in keys)
        by_where = rng.random() < 0.3

        def call(copy):
            if by_where:
                return f"SELECT cascade_delete_where('fz{case}_{copy}.t{root}', '(tenant, id) IN ({values})')", None
            return f"SELECT cascade_delete_many('fz{case}_{copy}.t{root}', %s::int[])", (keys,)
        code_x, msg_x = error_of(cur, *call('x'), result)
        report = result[0] if result else None
        conn.commit()
        result = []
        code_l, _ = error_of(cur, *call('l'), result)
        report_l = result[0] if result else None
        conn.commit()
        code_n, _ = error_of(cur, f"DELETE FROM fz{case}_n.t{root} WHERE (tenant, id) IN ({values})")
        conn.commit()
        after_x, after_n, after_l = state('x'), state('n'), state('l')
        gone = sum(len(b) - len(a) for b, a in zip(before, after_x))
        as_plain = code_x == code_l and after_x == after_l and (report or {}).get('total') == (report_l or {}).get('total')
        documented = code_n == '23503' and code_x is None and code_l is None
        ok = as_plain and (report is None or report['total'] == gone) and (
            documented or bool(policy) or (code_x == code_n and after_x == after_n))
        equal += ok
        cycles += bool(back) and code_x is None
        with_policy += bool(policy)
        deleted += code_x is None
        differs += ok and documented
        if not ok:
            T.check(False, f"fuzz case {case} (seed {seed}): {k} tables, keys {parents}, actions {action}, "
                           f"self-references {selfref}, keys to later tables {back}, policies {policy}, "
                           f"root t{root} {keys}: cascade_delete {code_x or report} ({(msg_x or '')[:200]}), "
                           f"native {code_n}, tables equal: {after_x == after_n}; on plain tables {code_l or report_l}, "
                           f"tables equal: {after_x == after_l}")
        conn.commit()  # the reads above count as parallel operations for Citus
        for copy in ('n', 'x', 'l'):
            cur.execute(f"DROP SCHEMA fz{case}_{copy} CASCADE")
            conn.commit()
    cur.execute("RESET citus.shard_count")
    conn.commit()
    T.check(explained == cases, f"fuzz (seed {seed}): the explain and cascade_delete_keys of {explained} of {cases} "
                                f"cases on Citus equal theirs on plain tables: tree, counts, sample keys; keys and "
                                f"order (or the same refusal)")
    T.check(equal == cases and 0 < deleted < cases,
            f"fuzz (seed {seed}): {equal} of {cases} random co-located schemas with the outcome, tables and report "
            f"of cascade_delete on plain tables and the outcome and tables of Citus's own actions ({deleted} "
            f"deleted, {cycles} of them through a cycle of several tables, {cases - deleted} refused with 23503; "
            f"{with_policy} with a policy-only key (PROTECT, RESTRICT, DO_NOTHING or CASCADE: Citus's own actions "
            f"not compared there); "
            f"{differs} where Citus's own actions refuse a NO ACTION key the cascade empties)")


def main():
    if not citus_installed():
        print("citus: skipped: Citus not installed (postgresql-15-citus-13.2 from Citus's packages; "
              "../shared/citus/build.sh on the project's machines)")
        T.finish()
    base = own_dir('cascade_delete_citus_')
    nodes = []
    try:
        nodes = start_citus(base, 'app')
        nodes[0].execute('CREATE EXTENSION cascade_delete', 'app')
        conn = nodes[0].connect('app')
        conn.autocommit = False
        cur = conn.cursor()
        for s in ('n', 'x'):
            cur.execute(SCHEMA.format(s=s))
            conn.commit()  # Citus: no schema command after parallel writes in one transaction
            cur.execute(f"ALTER TABLE {s}.ring1 ADD FOREIGN KEY (tenant, ring2_id) REFERENCES {s}.ring2 "
                        f"ON DELETE CASCADE")
            conn.commit()
        for part in (differential, routing, semantics, atomicity, refusals):
            part(conn)
            conn.commit()
        more(conn, nodes[0])
        conn.commit()
        jobs(conn)
        policy_locks(conn, nodes[0])
        concurrent_writers(conn, nodes)
        least_privilege(conn, nodes[0])
        worker_killed(conn, nodes)
        conn.commit()
        fuzz(conn, int(os.environ.get('CITUS_FUZZ_CASES', 30)), int(os.environ.get('CITUS_FUZZ_SEED', 1)))
        conn.close()
    except Exception as e:  # a failure of the harness is a failed test
        import traceback
        traceback.print_exc()
        T.check(False, "harness: %s" % str(e)[:2000])
    finally:
        for n in nodes:
            n.stop()
        for n in nodes:
            bad = [line for line in n.log_text().splitlines() if 'terminated by signal' in line or 'TRAP:' in line]
            T.check(not bad, '%s log: no backend crashed%s' % (os.path.basename(n.data), '' if not bad else ': ' + bad[0]))
        shutil.rmtree(base, ignore_errors=True)
    T.finish()


if __name__ == '__main__':
    main()

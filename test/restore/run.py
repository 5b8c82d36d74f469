#!/usr/bin/python3
"""Backup and restore, selective dumps and the update from 0.1.0 to the current version.

A schema with every kind of policy (application-only keys, a generic relation,
a parent link, a SET value on a real foreign key, PROTECT, SET_NULL, a
partition tree) on tables with dropped columns, so that a restore numbers
their columns anew. The oracle is the source database: every call and dry run
in the copy must report exactly what it reports in the source.

Needs PGHOST / PGPORT / PGUSER (a superuser) and the extension installed.
Prints `restore: N passed, M failed` last; exits non-zero on a failure.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
import psycopg2

PREFIX = 'restore_%d' % os.getpid()
# The version a new installation and an update end at (cascade_delete.control).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'cascade_delete.control')) as f:
    DEFAULT_VERSION = [l.split("'")[1] for l in f if l.startswith('default_version')][0]
TALLY = Tally('restore')
check = TALLY.check
created = []




class connect:
    """An autocommit connection, closed at the end of a with block (psycopg2's
    own connection context manager opens a transaction instead)."""

    def __init__(self, db):
        self.conn = psycopg2.connect(dbname=db)
        self.conn.autocommit = True

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def admin(sql):
    with connect('postgres') as c, c.cursor() as cur:
        cur.execute(sql)


def new_db(name):
    admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    admin('CREATE DATABASE "%s"' % name)
    created.append(name)
    return name


def run(*cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


SCHEMA = """
CREATE SCHEMA app;
CREATE TABLE app.owner (id int PRIMARY KEY, junk int, name text);
CREATE TABLE app.pet (junk1 int, id int PRIMARY KEY, junk2 int, owner_id int);
CREATE TABLE app.toy (id int PRIMARY KEY, pet_id int REFERENCES app.pet ON DELETE CASCADE);
CREATE TABLE app.vet (id int PRIMARY KEY, junk int, owner_id int REFERENCES app.owner);
CREATE TABLE app.note (id int PRIMARY KEY, junk int, kind text, obj text);
CREATE TABLE app.place (id int PRIMARY KEY);
CREATE TABLE app.shop (junk int, place_ptr int PRIMARY KEY);
CREATE TABLE app.guard (id int PRIMARY KEY, junk int, owner_id int);
CREATE TABLE app.visit (id int PRIMARY KEY, junk int, owner_id int);
CREATE TABLE app.ev (id int, at int, junk int, owner_id int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE app.ev_1 PARTITION OF app.ev FOR VALUES FROM (0) TO (100);
CREATE TABLE app.ev_2 PARTITION OF app.ev FOR VALUES FROM (100) TO (200);
CREATE TABLE app.ev_ref (id int PRIMARY KEY, junk int, ev_id int, ev_at int);
CREATE TABLE other (id int PRIMARY KEY, junk int, owner_id int);
ALTER TABLE app.owner DROP COLUMN junk;
ALTER TABLE app.pet DROP COLUMN junk1, DROP COLUMN junk2;
ALTER TABLE app.vet DROP COLUMN junk;
ALTER TABLE app.note DROP COLUMN junk;
ALTER TABLE app.shop DROP COLUMN junk;
ALTER TABLE app.guard DROP COLUMN junk;
ALTER TABLE app.visit DROP COLUMN junk;
ALTER TABLE app.ev DROP COLUMN junk;
ALTER TABLE app.ev_ref DROP COLUMN junk;
ALTER TABLE other DROP COLUMN junk;
SELECT cascade_delete_set_policy('app.pet', '{owner_id}', 'CASCADE', parent => 'app.owner');
SELECT cascade_delete_set_policy('app.vet', '{owner_id}', 'SET', value => '0');
SELECT cascade_delete_set_policy('app.note', '{obj}', 'CASCADE', parent => 'app.pet', type_column => 'kind', type_value => 'pet');
SELECT cascade_delete_set_policy('app.shop', '{place_ptr}', 'CASCADE', parent => 'app.place', parent_link => true);
SELECT cascade_delete_set_policy('app.guard', '{owner_id}', 'PROTECT', parent => 'app.owner');
SELECT cascade_delete_set_policy('app.visit', '{owner_id}', 'SET_NULL', parent => 'app.owner');
SELECT cascade_delete_set_policy('app.ev', '{owner_id}', 'CASCADE', parent => 'app.owner');
SELECT cascade_delete_set_policy('app.ev_ref', '{ev_id,ev_at}', 'CASCADE', parent => 'app.ev');
SELECT cascade_delete_set_policy('other', '{owner_id}', 'CASCADE', parent => 'app.owner');
INSERT INTO app.owner SELECT g, 'o' || g FROM generate_series(0, 9) g;
INSERT INTO app.pet SELECT g, g % 10 FROM generate_series(1, 40) g;
INSERT INTO app.toy SELECT g, g % 40 + 1 FROM generate_series(1, 80) g;
INSERT INTO app.vet SELECT g, g FROM generate_series(1, 9) g;
INSERT INTO app.note SELECT g, CASE WHEN g % 2 = 0 THEN 'pet' ELSE 'other' END, (g % 40 + 1)::text FROM generate_series(1, 60) g;
INSERT INTO app.place SELECT generate_series(1, 5);
INSERT INTO app.shop SELECT generate_series(1, 3);
INSERT INTO app.guard VALUES (1, 7);
INSERT INTO app.visit SELECT g, g % 10 FROM generate_series(1, 30) g;
INSERT INTO app.ev SELECT g, g * 7 % 200, g % 10 FROM generate_series(1, 50) g;
INSERT INTO app.ev_ref SELECT g, g, g * 7 % 200 FROM generate_series(1, 50) g;
INSERT INTO other SELECT g, g % 10 FROM generate_series(1, 20) g;
"""

# (statement) each run in a transaction that is rolled back; its report or SQLSTATE
CALLS = ["SELECT cascade_delete('app.owner', %d%s)" % (k, dry) for k in range(1, 10) for dry in ('', ', dry_run => true')]
CALLS += ["SELECT cascade_delete_where('app.ev_1', 'at < 50')",
          "SELECT cascade_delete_where('app.ev', 'id < 20', dry_run => true)",
          "SELECT cascade_delete('app.shop', 2)",
          "SELECT cascade_delete_many('app.pet', '{1,2,3}')"]


def outcomes(db):
    out = []
    with connect(db) as c, c.cursor() as cur:
        for call in CALLS:
            cur.execute('BEGIN')
            try:
                cur.execute(call)
                out.append(json.dumps(cur.fetchone()[0], sort_keys=True))
            except psycopg2.Error as e:
                out.append('error %s' % e.pgcode)
            cur.execute('ROLLBACK')
    return out


def policies(db):
    with connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT child::text, columns, action, value, parent::text, parent_columns, parent_link,"
                    " type_column, type_value FROM cascade_delete_policy ORDER BY 1, 2, 5")
        return cur.fetchall()


def same(db, src_out, what):
    out = outcomes(db)
    diffs = [(c, a, b) for c, a, b in zip(CALLS, src_out, out) if a != b]
    check(not diffs, '%s: %d calls and dry runs report what they report in the source%s'
          % (what, len(CALLS), '' if not diffs else ': ' + repr(diffs[:2])))


def main():
    src = new_db(PREFIX + '_src')
    with connect(src) as c, c.cursor() as cur:
        cur.execute('CREATE EXTENSION cascade_delete')
        cur.execute(SCHEMA)
    src_out = outcomes(src)
    src_pol = policies(src)
    check(sum(1 for o in src_out if o.startswith('{')) >= 20 and any(o.startswith('error') for o in src_out),
          'the source calls delete rows and some are refused (PROTECT)')
    dump = '/tmp/%s.dump' % PREFIX
    sql = '/tmp/%s.sql' % PREFIX

    # whole database, custom and plain format
    rc, msg = run('pg_dump', '-Fc', '-f', dump, src)
    check(rc == 0, 'pg_dump -Fc' + ('' if rc == 0 else ': ' + msg.strip()[:200]))
    db = new_db(PREFIX + '_custom')
    rc, msg = run('pg_restore', '-d', db, dump)
    check(rc == 0, 'pg_restore into a fresh database' + ('' if rc == 0 else ': ' + msg.strip()[:200]))
    check(policies(db) == src_pol, 'custom format: the same policies')
    same(db, src_out, 'custom format')
    rc, msg = run('pg_dump', '-f', sql, src)
    db = new_db(PREFIX + '_plain')
    rc, msg = run('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', db, '-f', sql)
    check(rc == 0, 'plain format restores with psql' + ('' if rc == 0 else ': ' + msg.strip()[:200]))
    check(policies(db) == src_pol, 'plain format: the same policies')
    same(db, src_out, 'plain format')

    # one schema (-n): the extension's policy table is not in the dump; the
    # policies come with cascade_delete_policies_sql()
    with connect(src) as c, c.cursor() as cur:
        cur.execute("SELECT string_agg(s, E'\\n') FROM cascade_delete_policies_sql(schemas => '{app}') s")
        script = cur.fetchone()[0]
    rc, msg = run('pg_dump', '-Fc', '-n', 'app', '-f', dump, src)
    db = new_db(PREFIX + '_schema')
    with connect(db) as c, c.cursor() as cur:
        cur.execute('CREATE EXTENSION cascade_delete')
        cur.execute('CREATE TABLE other (id int PRIMARY KEY, junk int, owner_id int)')
        cur.execute('ALTER TABLE other DROP COLUMN junk')
    rc, msg = run('pg_restore', '-d', db, dump)
    check(rc == 0, 'pg_dump -n app restores' + ('' if rc == 0 else ': ' + msg.strip()[:200]))
    check(policies(db) == [], 'pg_dump -n app carries no policy (documented)')
    with connect(db) as c, c.cursor() as cur:
        cur.execute(script)
        cur.execute("SELECT cascade_delete_set_policy('other', '{owner_id}', 'CASCADE', parent => 'app.owner')")
    with connect(db) as c, c.cursor() as cur:
        cur.execute('INSERT INTO other SELECT g, g % 10 FROM generate_series(1, 20) g')
    check(policies(db) == src_pol, 'pg_dump -n app + cascade_delete_policies_sql(): the same policies')
    same(db, src_out, 'pg_dump -n app + cascade_delete_policies_sql()')

    # a table left out (-T): its policies fail the policy table's restore
    # unless its data is left out too, then carried as SQL
    rc, msg = run('pg_dump', '-Fc', '-T', 'other', '--exclude-table-data=public.cascade_delete_policy',
                  '-f', dump, src)
    db = new_db(PREFIX + '_exclude')
    rc, msg = run('pg_restore', '-d', db, dump)
    check(rc == 0, 'pg_dump -T other --exclude-table-data=cascade_delete_policy restores'
          + ('' if rc == 0 else ': ' + msg.strip()[:200]))
    with connect(src) as c, c.cursor() as cur:
        cur.execute("SELECT string_agg(s, E'\\n') FROM cascade_delete_policies_sql(schemas => '{app}') s")
        script = cur.fetchone()[0]
    with connect(db) as c, c.cursor() as cur:
        cur.execute(script)
        cur.execute('CREATE TABLE other (id int PRIMARY KEY, owner_id int)')
        cur.execute('INSERT INTO other SELECT g, g % 10 FROM generate_series(1, 20) g')
        cur.execute("SELECT cascade_delete_set_policy('other', '{owner_id}', 'CASCADE', parent => 'app.owner')")
    check(policies(db) == src_pol, 'pg_dump -T + cascade_delete_policies_sql(): the same policies')
    same(db, src_out, 'pg_dump -T + cascade_delete_policies_sql()')

    # 0.1.0 -> the current version: the policies set with 0.1.0 work after the update; a
    # temporary table's policy and a dangling one are removed by the update
    db = new_db(PREFIX + '_update')
    with connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE EXTENSION cascade_delete VERSION '0.1.0'")
        cur.execute(SCHEMA)
        # what 0.1.0 accepted (this build's cascade_delete_set_policy refuses it)
        cur.execute('CREATE TEMP TABLE mine (id int PRIMARY KEY, owner_id int)')
        cur.execute("INSERT INTO cascade_delete_policy VALUES ('mine', '{owner_id}', 'PROTECT', NULL,"
                    " 'app.owner', '{id}', false, NULL, NULL, '{2}', '{1}')")
        cur.execute('CREATE TABLE gone (id int PRIMARY KEY, owner_id int)')
        cur.execute("SELECT cascade_delete_set_policy('gone', '{owner_id}', 'PROTECT', parent => 'app.owner')")
        cur.execute('SET session_replication_role = replica')
        cur.execute('DROP TABLE gone')
        cur.execute('RESET session_replication_role')
    with connect(db) as c, c.cursor() as cur:  # the temporary table is gone, its policy is not
        cur.execute('SELECT count(*) FROM cascade_delete_policy')
        before = cur.fetchone()[0]
        cur.execute('ALTER EXTENSION cascade_delete UPDATE')
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'cascade_delete'")
        version = cur.fetchone()[0]
        cur.execute('SELECT count(*) FROM cascade_delete_policy')
        after = cur.fetchone()[0]
    check(version == DEFAULT_VERSION and before == len(src_pol) + 2 and after == len(src_pol),
          'ALTER EXTENSION UPDATE to %s removes the 2 policies of vanished tables (%d -> %d)' % (version, before, after))
    check(policies(db) == src_pol, 'updated: the same policies as a new installation')
    same(db, src_out, 'updated from 0.1.0')
    with connect(db) as c, c.cursor() as cur:
        cur.execute("SELECT count(*) FROM cascade_delete_policies_sql()")
        check(cur.fetchone()[0] == len(src_pol), 'updated: 0.2.0\'s cascade_delete_policies_sql() is there')
        cur.execute("SELECT count(*) FROM cascade_delete_explain('app.owner', 1)")
        n = cur.fetchone()[0]
        cur.execute("SELECT cascade_delete_graph('app.owner') LIKE 'digraph%'")
        check(n > 1 and cur.fetchone()[0], 'updated: 0.3.0\'s explain (%d paths) and graph are there' % n)
        cur.execute("SELECT (cascade_delete('app.owner', 1, dry_run => true) ->> 'total')::int")
        planned = cur.fetchone()[0]
        cur.execute("SELECT cascade_delete_start('app.owner', 1, chunk_rows => 2)")
        job = cur.fetchone()[0]
        c.commit()
        c.autocommit = True
        cur.execute('CALL cascade_delete_run(%s)', (job,))
        cur.execute('SELECT state, done_rows, chunks FROM cascade_delete_jobs WHERE job = %s', (job,))
        state, done, chunks = cur.fetchone()
        check(state == 'finished' and done >= planned > 0 and chunks > 1,
              'updated: 0.4.0\'s jobs run with the policies set by 0.1.0 (%s rows, %s chunks)' % (done, chunks))

    # A job planned by 0.4.0 (pages of 100 keys, every leaf counted) and run
    # after the update to the current version: it finishes, its counts exact.
    # Planned with this library before the update, a leaf below 10,000 keys is
    # counted, not estimated (0.4.0's tables could not say so), and the pages
    # have no count of their own.
    db = new_db(PREFIX + '_job_update')
    with connect(db) as c, c.cursor() as cur:
        cur.execute("CREATE EXTENSION cascade_delete VERSION '0.4.0'")
        cur.execute(SCHEMA)
        cur.execute("SELECT cascade_delete_start('app.owner', 1, chunk_rows => 2)")
        job = cur.fetchone()[0]
        cur.execute('CREATE TABLE big (id int PRIMARY KEY);'
                    'CREATE TABLE big_item (id int PRIMARY KEY, big_id int REFERENCES big ON DELETE CASCADE);'
                    'INSERT INTO big SELECT generate_series(1, 12000);'
                    'INSERT INTO big_item SELECT g, 1 + g % 12000 FROM generate_series(1, 30001) g;'
                    'ANALYZE big, big_item')
        cur.execute("SELECT cascade_delete_start_where('big', 'true')")
        big_job = cur.fetchone()[0]
        cur.execute("SELECT planned_deleted FROM cascade_delete_job_tables WHERE job = %s AND table_name = 'big_item'::regclass",
                    (big_job,))
        planned_items = cur.fetchone()[0]
        check(planned_items == 30001, 'a 0.4.0 database with this library: a leaf below 12,000 keys counted (%s)'
              % planned_items)
    with connect(db) as c, c.cursor() as cur:
        cur.execute('ALTER EXTENSION cascade_delete UPDATE')
        c.commit()
        c.autocommit = True
        cur.execute('CALL cascade_delete_run(%s)', (job,))
        cur.execute('SELECT state, planned_rows, done_rows, chunks, planned_estimated FROM cascade_delete_jobs '
                    'WHERE job = %s', (job,))
        state, planned_rows, done, chunks, estimated = cur.fetchone()
        check(state == 'finished' and planned_rows == done > 0 and chunks > 1 and estimated is False,
              'a job planned by 0.4.0 runs after the update (%s, %s of %s rows, %s chunks)'
              % (state, done, planned_rows, chunks))
        cur.execute('CALL cascade_delete_run(%s)', (big_job,))
        cur.execute('SELECT state, planned_rows, done_rows FROM cascade_delete_jobs WHERE job = %s', (big_job,))
        state, planned_rows, done = cur.fetchone()
        cur.execute('SELECT (SELECT count(*) FROM big) + (SELECT count(*) FROM big_item)')
        left = cur.fetchone()[0]
        check(state == 'finished' and planned_rows == done == 42001 and left == 0,
              'its pages of 100 without counts run after the update (%s, %s of %s rows, %s left)'
              % (state, done, planned_rows, left))

    for f in (dump, sql):
        if os.path.exists(f):
            os.unlink(f)


try:
    main()
except Exception as e:  # a failure of the harness is a failed test
    check(False, 'harness: %r' % e)
finally:
    for db in created:
        try:
            admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % db)
        except Exception:
            pass
TALLY.finish()

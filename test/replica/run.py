#!/usr/bin/python3
"""cascade_delete on a hot standby and on a logical replication subscriber.

Runs on throwaway clusters of its own (initdb in a temporary directory, Unix
sockets there; as the postgres user when run as root): a primary with
wal_level = logical, a streaming standby made by pg_basebackup, and a second
database of the primary subscribed to the first (FOR ALL TABLES, which
includes the policy table).

* Standby: dry runs of every shape (memory mode, more keys than memory mode
  holds, a self-reference, a cycle, a partition tree from a leaf, a SET DEFAULT
  that would be refused) report on the standby exactly what they report on the
  primary, with memory mode on and off; a real call is refused with 25006.
* Subscriber: its schema comes from pg_dump -s (columns numbered anew, no
  dropped columns); the policies arrive by replication and work; a PROTECT
  added on the publisher is obeyed by a subscriber session that had already read
  the policies, and so is its removal.

Needs the extension installed and PG_BINDIR (default PostgreSQL 15's). Prints
`replica: N passed, M failed` last; exits non-zero on a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
from cluster import BINDIR, Cluster, own_dir  # noqa: E402
import psycopg2

TALLY = Tally('replica')
check = TALLY.check




SCHEMA = """
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id int PRIMARY KEY, junk int, note text);
CREATE TABLE b (id int PRIMARY KEY, junk int, a_id int REFERENCES a ON DELETE CASCADE);
CREATE TABLE c (id int PRIMARY KEY, junk int, a_id int);
CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree ON DELETE CASCADE);
CREATE TABLE x (id int PRIMARY KEY, y_id int);
CREATE TABLE y (id int PRIMARY KEY, x_id int REFERENCES x ON DELETE CASCADE);
ALTER TABLE x ADD FOREIGN KEY (y_id) REFERENCES y ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE ev (id int, at int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ev_1 PARTITION OF ev FOR VALUES FROM (0) TO (100);
CREATE TABLE ev_2 PARTITION OF ev FOR VALUES FROM (100) TO (200);
CREATE TABLE ev_note (id int PRIMARY KEY, ev_id int, ev_at int);
CREATE TABLE sp (id int PRIMARY KEY);
CREATE TABLE sd (id int PRIMARY KEY, p_id int DEFAULT 1 REFERENCES sp ON DELETE SET DEFAULT);
ALTER TABLE a DROP COLUMN junk;
ALTER TABLE b DROP COLUMN junk;
ALTER TABLE c DROP COLUMN junk;
SELECT cascade_delete_set_policy('c', '{a_id}', 'CASCADE', parent => 'a');
SELECT cascade_delete_set_policy('ev_note', '{ev_id,ev_at}', 'CASCADE', parent => 'ev');
INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 3000) g;
INSERT INTO b SELECT g, g FROM generate_series(1, 3000) g;
INSERT INTO c SELECT g, g % 3000 + 1 FROM generate_series(1, 3000) g;
INSERT INTO tree SELECT g, nullif(g - 1, 0) FROM generate_series(1, 300) g;
BEGIN;
INSERT INTO x VALUES (1, 1), (2, 2);
INSERT INTO y VALUES (1, 2), (2, 1);
COMMIT;
INSERT INTO ev SELECT g, g % 200 FROM generate_series(1, 400) g;
INSERT INTO ev_note SELECT g, g, g % 200 FROM generate_series(1, 400) g;
INSERT INTO sp VALUES (1), (2);
INSERT INTO sd VALUES (1, 1), (2, 2);
"""

DRY = ["SELECT cascade_delete('a', 7, dry_run => true)",
       "SELECT cascade_delete_where('a', 'id <= 2500', dry_run => true)",
       "SELECT cascade_delete('tree', 3, dry_run => true)",
       "SELECT cascade_delete('x', 1, dry_run => true)",
       "SELECT cascade_delete_where('ev_1', 'id < 150', dry_run => true)",
       "SELECT cascade_delete('sp', 1, dry_run => true)"]


# The explain's tree and the graph, one text each.
EXPLAIN = ["SELECT string_agg(tree, E'\\n' ORDER BY path) FROM cascade_delete_explain('a', 7)",
           "SELECT string_agg(tree, E'\\n' ORDER BY path) FROM cascade_delete_explain('tree', 3)",
           "SELECT string_agg(tree, E'\\n' ORDER BY path) FROM cascade_delete_explain_where('ev_1', 'id < 150')",
           "SELECT cascade_delete_graph('a', 'dot', cascade_delete('a', 7, dry_run => true))"]


def reports(conn, calls, settings=()):
    out = []
    cur = conn.cursor()
    for s in settings:
        cur.execute(s)
    for call in calls:
        try:
            cur.execute(call)
            out.append(json.dumps(cur.fetchone()[0], sort_keys=True))
        except psycopg2.Error as e:
            out.append('error %s %s' % (e.pgcode, e.pgerror.splitlines()[0] if e.pgerror else ''))
    return out


def wait_for(what, probe, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        if probe():
            return True
        time.sleep(0.2)
    print('timed out waiting for ' + what)
    return False


def standby_checks(primary, standby):
    p = primary.connect('app')
    cur = p.cursor()
    cur.execute('SELECT pg_current_wal_lsn()::text')
    lsn = cur.fetchone()[0]
    s = standby.connect('app')
    cur = s.cursor()
    check(wait_for('the standby to replay', lambda: (cur.execute(
        'SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn', (lsn,)) or cur.fetchone()[0])),
        'the standby replays the primary')
    cur.execute('SELECT pg_is_in_recovery()')
    check(cur.fetchone()[0] is True, 'the standby is in recovery (a hot standby)')
    if True:
        for mode, settings in (('memory mode', ()), ('key sets for all', ('SET cascade_delete.memory_keys = 0',))):
            want = reports(p, DRY, settings)
            got = reports(s, DRY, settings)
            check(all(w.startswith('{') for w in want), 'primary (%s): every dry run answers' % mode)
            diffs = [(c, w, g) for c, w, g in zip(DRY, want, got) if w != g]
            check(not diffs, 'standby (%s): %d dry runs of every shape report what the primary reports%s'
                  % (mode, len(DRY), '' if not diffs else ': ' + repr(diffs[:2])))
            want = reports(p, EXPLAIN, settings)
            got = reports(s, EXPLAIN, settings)
            check(all(w.startswith('"') and '->' in w for w in want), 'primary (%s): every explain answers' % mode)
            check(want == got, 'standby (%s): %d explains and graphs say what they say on the primary%s'
                  % (mode, len(EXPLAIN), '' if want == got else ': ' + repr([(w, g) for w, g in zip(want, got)
                                                                                 if w != g][:1])))
    got = reports(s, ["SELECT cascade_delete('a', 7)"])[0]
    check(got.startswith('error 25006') and 'cascade_delete' in got,
          'standby: a real call is refused with 25006 naming cascade_delete: %s' % got)
    s.close()
    p.close()


def subscriber_checks(primary):
    pub = primary.connect('app')
    pcur = pub.cursor()
    pcur.execute('CREATE PUBLICATION everything FOR ALL TABLES')
    pcur.execute("SELECT count(*) FROM pg_publication_tables WHERE tablename = 'cascade_delete_policy'")
    check(pcur.fetchone()[0] == 1, 'FOR ALL TABLES publishes the policy table')
    pcur.execute("SELECT pg_create_logical_replication_slot('everything', 'pgoutput')")
    dump = subprocess.run([BINDIR + '/pg_dump', '-s', '-h', primary.dir, '-p', str(primary.port), '-U',
                           primary.user, 'app'], check=True, capture_output=True, text=True).stdout
    primary.execute('CREATE DATABASE sub')
    path = os.path.join(primary.dir, 'schema.sql')
    with open(path, 'w') as f:
        f.write(dump)
    primary.run(BINDIR + '/psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', primary.dir, '-p',
                str(primary.port), '-U', primary.user, '-d', 'sub', '-f', path)
    sub = primary.connect('sub')
    scur = sub.cursor()
    scur.execute("CREATE SUBSCRIPTION everything CONNECTION 'host=%s port=%d dbname=app user=%s'"
                 " PUBLICATION everything WITH (create_slot = false, slot_name = 'everything')"
                 % (primary.dir, primary.port, primary.user))
    check(wait_for('the initial copy', lambda: (scur.execute(
        "SELECT count(*) = 0 FROM pg_subscription_rel WHERE srsubstate <> 'r'") or scur.fetchone()[0])),
        'the subscriber copied every table')
    scur.execute("SELECT attnum FROM pg_attribute WHERE attrelid = 'c'::regclass AND attname = 'a_id'")
    check(scur.fetchone()[0] == 2, 'the subscriber numbers c.a_id anew (2, it was 3 on the publisher)')
    calls = ["SELECT cascade_delete('a', 8, dry_run => true)",
             "SELECT cascade_delete_where('ev_1', 'id < 150', dry_run => true)"]
    want, got = reports(pub, calls), reports(sub, calls)
    check(want == got and all(w.startswith('{') for w in got),
          'subscriber: the replicated policies report what the publisher reports%s'
          % ('' if want == got else ': %r / %r' % (want, got)))

    def caught_up(n):
        return lambda: (scur.execute('SELECT count(*) FROM cascade_delete_policy') or scur.fetchone()[0] == n)
    # s2 is a subscriber session that has read the policies already
    pcur.execute('CREATE TABLE guard (id int PRIMARY KEY, a_id int)')
    scur.execute('CREATE TABLE guard (id int PRIMARY KEY, a_id int)')
    scur.execute("ALTER SUBSCRIPTION everything REFRESH PUBLICATION")
    pcur.execute('INSERT INTO guard VALUES (1, 9)')
    wait_for('the guard row', lambda: (scur.execute('SELECT count(*) FROM guard') or scur.fetchone()[0] == 1))
    s2 = primary.connect('sub')
    reports(s2, calls)                  # reads the table graph, guard included
    pcur.execute("SELECT cascade_delete_set_policy('guard', '{a_id}', 'PROTECT', parent => 'a')")
    check(wait_for('the policy to arrive', caught_up(3)), 'a PROTECT set on the publisher arrives')
    got = reports(s2, ["SELECT cascade_delete('a', 9, dry_run => true)"])[0]
    check('"PROTECT"' in got, 'a subscriber session that had read the policies obeys the replicated PROTECT: %s'
          % got[:160])
    pcur.execute("SELECT cascade_delete_drop_policy('guard', '{a_id}')")
    check(wait_for('the policy to go', caught_up(2)), 'dropping it on the publisher reaches the subscriber')
    got = reports(s2, ["SELECT cascade_delete('a', 9, dry_run => true)"])[0]
    check('"blocked": []' in got, 'and the same session no longer sees it: %s' % got[:160])
    s2.close()
    scur.execute('ALTER SUBSCRIPTION everything DISABLE')
    scur.execute('ALTER SUBSCRIPTION everything SET (slot_name = NONE)')
    scur.execute('DROP SUBSCRIPTION everything')
    # The disabled subscription's walsender lets go of the slot a moment later.
    def slot_released():
        pcur.execute("SELECT active FROM pg_replication_slots WHERE slot_name = 'everything'")
        return not pcur.fetchone()[0]
    wait_for('the slot to be released', slot_released)
    pcur.execute("SELECT pg_drop_replication_slot('everything')")
    sub.close()
    pub.close()


def main():
    base = own_dir('cascade_delete_replica_')
    primary = Cluster(base, 'primary')
    standby = Cluster(base, 'standby')
    started = []
    try:
        primary.initdb()
        with open(os.path.join(primary.data, 'postgresql.conf'), 'a') as f:
            f.write('wal_level = logical\nmax_wal_senders = 10\nmax_replication_slots = 10\n')
        primary.start()
        started.append(primary)
        primary.execute('CREATE DATABASE app')
        primary.execute(SCHEMA, 'app')
        primary.run(BINDIR + '/pg_basebackup', '-h', primary.dir, '-p', str(primary.port), '-U', primary.user,
                    '-D', standby.data, '-R', '-X', 'stream', '--no-sync')
        standby.start()
        started.append(standby)
        standby_checks(primary, standby)
        subscriber_checks(primary)
    except Exception as e:  # a failure of the harness is a failed test
        check(False, 'harness: %s' % str(e)[:2000])
    finally:
        for n in started:
            n.stop()
        for n in (primary, standby):
            log = n.log_text()
            bad = [line for line in log.splitlines() if 'terminated by signal' in line or 'TRAP:' in line]
            check(not bad, '%s log: no backend crashed%s' % (os.path.basename(n.data), '' if not bad else ': ' + bad[0]))
        shutil.rmtree(base, ignore_errors=True)


main()
TALLY.finish()

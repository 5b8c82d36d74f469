#!/usr/bin/python3
"""Chunked jobs under failure and concurrency, on a throwaway cluster of its own.

Every scenario starts from a copy of one template database (a <- b <- c with a
PROTECT policy, an application-only CASCADE policy, a self-referencing tree) and
deletes a = 1 as a job. After every scenario the database equals the
one-transaction call's result on another copy (except where the scenario itself
adds rows), and at every moment a watcher looks the database is consistent: no
row references a deleted row (real or policy key), and the job's counters equal
the rows gone.

* watched: a background job, sampled while it runs;
* kill -9 of the runner's backend mid-job (the server restarts every backend),
  then cascade_delete_resume_jobs();
* an immediate server stop mid-job, a restart, cascade_delete_resume_jobs();
* cancels (pg_cancel_backend) at random moments, each followed by CALL again;
* a second runner of the same job is refused (55006) while the first runs;
* a cancel while a chunk runs: no deadlock, the runner stops and removes the keys;
* rows inserted under rows the job will delete are deleted too;
* a PROTECT row inserted after the plan stops the job as blocked (23503), the
  database consistent; the job finishes once it is gone;
* a policy changed after the plan stops the job (55000);
* a row lock held by another session: the job retries (lock_timeout, back-off)
  and finishes once the lock goes;
* cascade_delete.progress: the one-transaction call's NOTICEs, phase by phase.

Needs the extension installed and PG_BINDIR (default PostgreSQL 15's). Prints
`jobs: N passed, M failed` last.
"""
import os
import random
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tally import Tally  # noqa: E402
from cluster import Cluster, own_dir  # noqa: E402
import psycopg2
import psycopg2.errors

TALLY = Tally('jobs')
check = TALLY.check

SCHEMA = """
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id int PRIMARY KEY);
CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE);
CREATE TABLE c (id int PRIMARY KEY, b_id int NOT NULL REFERENCES b ON DELETE CASCADE, v text);
CREATE TABLE note (id int PRIMARY KEY, b_id int);   -- no foreign key: a policy
CREATE TABLE inv (id int PRIMARY KEY, b_id int);    -- PROTECT, as a policy
CREATE TABLE emp (id int PRIMARY KEY, a_id int REFERENCES a ON DELETE CASCADE,
                  boss int REFERENCES emp ON DELETE CASCADE);
SELECT cascade_delete_set_policy('note', '{b_id}', 'CASCADE', parent => 'b');
SELECT cascade_delete_set_policy('inv', '{b_id}', 'PROTECT', parent => 'b');
INSERT INTO a VALUES (1), (2);
INSERT INTO b SELECT g, 1 + (g % 3 = 0)::int FROM generate_series(1, 3000) g;
INSERT INTO c SELECT g, 1 + g % 3000, 'c' || g FROM generate_series(1, 30000) g;
INSERT INTO note SELECT g, 1 + g % 3000 FROM generate_series(1, 3000) g;
INSERT INTO emp VALUES (1, 1, NULL);
INSERT INTO emp SELECT g, 1, g / 2 FROM generate_series(2, 500) g;
INSERT INTO inv VALUES (1, 3);   -- under a = 2: not in the job
"""
TABLES = ['a', 'b', 'c', 'note', 'inv', 'emp']

# Rows that would point at a deleted row: none may exist after any commit.
ORPHANS = """
SELECT (SELECT count(*) FROM b WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.id = b.a_id))
     + (SELECT count(*) FROM c WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = c.b_id))
     + (SELECT count(*) FROM note WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = note.b_id))
     + (SELECT count(*) FROM emp WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.id = emp.a_id)
                                    OR (boss IS NOT NULL AND NOT EXISTS (SELECT 1 FROM emp e WHERE e.id = emp.boss)))
"""


def dump(conn):
    cur = conn.cursor()
    out = {}
    for t in TABLES:
        cur.execute('SELECT * FROM %s ORDER BY id' % t)
        out[t] = cur.fetchall()
    return out


class Env:
    def __init__(self, cluster):
        self.cl = cluster
        self.n = 0
        self.counts = None

    def fresh(self):
        self.n += 1
        name = 'j%d' % self.n
        self.cl.execute('CREATE DATABASE %s TEMPLATE tpl' % name)
        return name

    def connect(self, db):
        return self.cl.connect(db)


def consistent(conn, job, initial):
    """(no orphans, counters equal to rows gone), read in one snapshot."""
    cur = conn.cursor()
    cur.execute('BEGIN ISOLATION LEVEL REPEATABLE READ')
    cur.execute(ORPHANS)
    orphans = cur.fetchone()[0]
    now = {}
    for t in ('a', 'b', 'c', 'note', 'emp'):
        cur.execute('SELECT count(*) FROM %s' % t)
        now[t] = cur.fetchone()[0]
    cur.execute('SELECT table_name::text, deleted FROM cascade_delete_job_tables WHERE job = %s', (job,))
    done = dict(cur.fetchall())
    cur.execute('COMMIT')
    counters = all(done.get(t, 0) == initial[t] - now[t] for t in now)
    return orphans == 0, counters, (orphans, done, {t: initial[t] - now[t] for t in now})


def counts(conn):
    cur = conn.cursor()
    out = {}
    for t in ('a', 'b', 'c', 'note', 'emp'):
        cur.execute('SELECT count(*) FROM %s' % t)
        out[t] = cur.fetchone()[0]
    return out


def start(conn, **pace):
    cur = conn.cursor()
    args = ''.join(', %s => %%(%s)s' % (k, k) for k in pace)
    cur.execute('SELECT cascade_delete_start(\'a\', 1%s)' % args, pace)
    return cur.fetchone()[0]


def job_row(conn, job):
    cur = conn.cursor()
    cur.execute('SELECT state, done_rows, runner_alive, runner_pid, retries, last_sqlstate, planned_rows '
                'FROM cascade_delete_jobs WHERE job = %s', (job,))
    return cur.fetchone()


def wait_for(conn, job, pred, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        r = job_row(conn, job)
        if pred(r):
            return r
        time.sleep(0.02)
    return job_row(conn, job)


def run_in_thread(env, db, job):
    """CALL cascade_delete_run(job) in a thread of its own; returns (thread, result dict)."""
    res = {}
    conn = env.connect(db)
    cur = conn.cursor()
    cur.execute('SELECT pg_backend_pid()')
    res['pid'] = cur.fetchone()[0]

    def body():
        try:
            cur.execute('CALL cascade_delete_run(%s)', (job,))
            res['error'] = None
        except psycopg2.Error as e:
            res['error'] = e.pgcode
        finally:
            conn.close()
    th = threading.Thread(target=body)
    th.start()
    return th, res


def scenario_watched(env, reference, initial):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=400, pause='10 milliseconds')
    conn.cursor().execute('SELECT cascade_delete_run_in_background(%s)', (job,))
    samples = bad = 0
    first_bad = None
    t0 = time.time()
    while True:
        st = job_row(conn, job)
        ok_orphans, ok_counters, info = consistent(conn, job, initial)
        samples += 1
        if not (ok_orphans and ok_counters):
            bad += 1
            first_bad = first_bad or info
        if st[0] in ('finished', 'failed', 'blocked') or time.time() - t0 > 120:
            break
        time.sleep(0.01)
    st = job_row(conn, job)
    check(st[0] == 'finished' and st[1] == st[6], 'watched: the background job finished, %s of %s rows' % (st[1], st[6]))
    check(bad == 0 and samples > 5, 'watched: %d samples while it ran, %d inconsistent %s' % (samples, bad, first_bad or ''))
    check(dump(conn) == reference, 'watched: the result equals the one-transaction call\'s')
    conn.close()


def scenario_kill(env, reference, initial):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=300, pause='20 milliseconds')
    th, res = run_in_thread(env, db, job)
    wait_for(conn, job, lambda r: r[1] > 3000)
    os.kill(res['pid'], 9)
    th.join()
    conn.close()
    conn, secs = env.cl.wait_ready(db)
    st = job_row(conn, job)
    ok_o, ok_c, info = consistent(conn, job, initial)
    check(ok_o and ok_c, 'kill -9: consistent after the crash %s' % (info,))
    check(st[0] == 'running' and not st[2] and 0 < st[1] < st[6],
          'kill -9: the job is interrupted: running, no runner alive, %s of %s rows' % (st[1], st[6]))
    cur = conn.cursor()
    cur.execute('SELECT job FROM cascade_delete_resume_jobs()')
    check([r[0] for r in cur.fetchall()] == [job], 'kill -9: cascade_delete_resume_jobs() restarts it')
    st = wait_for(conn, job, lambda r: r[0] == 'finished')
    check(st[0] == 'finished' and st[1] == st[6], 'kill -9: the resumed job finished, %s of %s rows' % (st[1], st[6]))
    check(dump(conn) == reference, 'kill -9: the result equals the one-transaction call\'s')
    conn.close()


def scenario_restart(env, reference, initial):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=300, pause='20 milliseconds')
    conn.cursor().execute('SELECT cascade_delete_run_in_background(%s)', (job,))
    wait_for(conn, job, lambda r: r[1] > 3000)
    conn.close()
    env.cl.stop()
    env.cl.start()
    conn, _ = env.cl.wait_ready(db)
    ok_o, ok_c, info = consistent(conn, job, initial)
    check(ok_o and ok_c, 'restart: consistent after an immediate stop %s' % (info,))
    st = job_row(conn, job)
    check(st[0] == 'running' and not st[2], 'restart: the job is interrupted (%s, runner alive %s)' % (st[0], st[2]))
    conn.cursor().execute('SELECT cascade_delete_resume_jobs()')
    st = wait_for(conn, job, lambda r: r[0] == 'finished')
    check(st[0] == 'finished', 'restart: resumed and finished')
    check(dump(conn) == reference, 'restart: the result equals the one-transaction call\'s')
    conn.close()


def scenario_cancel(env, reference, initial, rng):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=500)
    runner = env.connect(db)
    cur = runner.cursor()
    cur.execute('SELECT pg_backend_pid()')
    pid = cur.fetchone()[0]
    cancels = 0
    inconsistent = []
    for attempt in range(100):
        timer = threading.Timer(rng.uniform(0, 0.15), lambda: conn.cursor().execute('SELECT pg_cancel_backend(%s)', (pid,)))
        timer.start()
        try:
            cur.execute('CALL cascade_delete_run(%s)', (job,))
        except psycopg2.Error as e:
            if e.pgcode != '57014':
                inconsistent.append('error %s' % e.pgcode)
            cancels += 1
        timer.join()
        ok_o, ok_c, info = consistent(conn, job, initial)
        if not (ok_o and ok_c):
            inconsistent.append(info)
        if job_row(conn, job)[0] == 'finished':
            break
    st = job_row(conn, job)
    check(st[0] == 'finished' and cancels >= 3 and not inconsistent,
          'cancel: %d cancels at random moments, each run again: %s, consistent after each %s'
          % (cancels, st[0], inconsistent[:2]))
    check(dump(conn) == reference, 'cancel: the result equals the one-transaction call\'s')
    runner.close()
    conn.close()


def scenario_owner(env, reference):
    """A superuser starts the background runner of another role's job: the
    worker connects as the job's owner. Terminated, the job stays running
    without a runner; cascade_delete_resume_jobs() resumes it and says so."""
    db = env.fresh()
    conn = env.connect(db)
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'cd_jobs_owner'")
    if cur.fetchone()[0] == 0:
        cur.execute('CREATE ROLE cd_jobs_owner LOGIN')
    cur.execute('GRANT ALL ON ALL TABLES IN SCHEMA public TO cd_jobs_owner')
    cur.execute('SET ROLE cd_jobs_owner')
    job = start(conn, chunk_rows=300, pause='20 milliseconds')
    cur.execute('RESET ROLE')
    cur.execute('SELECT cascade_delete_run_in_background(%s)', (job,))
    pid = cur.fetchone()[0]
    row = None
    for _ in range(250):  # the worker shows in pg_stat_activity once connected
        cur.execute('SELECT usename FROM pg_stat_activity WHERE pid = %s AND usename IS NOT NULL', (pid,))
        row = cur.fetchone()
        if row:
            break
        time.sleep(0.02)
    check(row is not None and row[0] == 'cd_jobs_owner',
          'owner: the background runner a superuser starts connects as the job\'s owner (%s)' % (row,))
    wait_for(conn, job, lambda r: r[1] > 3000)
    cur.execute('SELECT pg_terminate_backend(%s)', (pid,))
    st = wait_for(conn, job, lambda r: not r[2])
    check(st[0] == 'running' and not st[2], 'owner: a terminated runner leaves the job running, no runner (%s)' % (st,))
    del conn.notices[:]
    cur.execute('SELECT job FROM cascade_delete_resume_jobs()')
    resumed = [r[0] for r in cur.fetchall()]
    said = [n for n in conn.notices if 'cascade_delete job %d: its runner (process %d) ended' % (job, pid) in n]
    check(resumed == [job] and said, 'owner: cascade_delete_resume_jobs() resumes it and says so (%s, %s)'
          % (resumed, conn.notices))
    st = wait_for(conn, job, lambda r: r[0] == 'finished')
    check(st[0] == 'finished' and dump(conn) == reference, 'owner: the resumed job equals the one-transaction call')
    conn.close()


def scenario_two_runners(env):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=200, pause='20 milliseconds')
    conn.cursor().execute('SELECT cascade_delete_run_in_background(%s)', (job,))
    wait_for(conn, job, lambda r: r[2])
    code = None
    try:
        conn.cursor().execute('CALL cascade_delete_run(%s)', (job,))
    except psycopg2.Error as e:
        code = e.pgcode
    check(code == '55006', 'two runners: a second CALL while the background runner works is refused (%s)' % code)
    conn.cursor().execute('SELECT cascade_delete_pause(%s)', (job,))
    st = wait_for(conn, job, lambda r: not r[2])
    check(st[0] == 'paused' and not st[2], 'pause: the runner stops after its chunk (%s)' % st[0])
    conn.cursor().execute('CALL cascade_delete_run(%s)', (job,))
    check(job_row(conn, job)[0] == 'finished', 'pause: CALL resumes it to the end')
    conn.close()


def scenario_cancel_running(env, initial):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=300, pause='5 milliseconds')
    conn.cursor().execute('SELECT cascade_delete_run_in_background(%s)', (job,))
    wait_for(conn, job, lambda r: r[1] > 3000)
    code = None
    try:
        conn.cursor().execute("SET statement_timeout = '20s'; SELECT cascade_delete_cancel(%s)", (job,))
    except psycopg2.Error as e:
        code = e.pgcode
    st = wait_for(conn, job, lambda r: not r[2])
    cur = conn.cursor()
    cur.execute('SELECT count(*) FROM cascade_delete_job_key WHERE job = %s', (job,))
    keys = cur.fetchone()[0]
    ok_o, ok_c, info = consistent(conn, job, initial)
    check(code is None and st[0] == 'cancelled' and not st[2] and keys == 0 and 0 < st[1] < st[6],
          'cancel while a chunk runs: no deadlock (%s), %s after %s of %s rows, the runner gone, %d keys left'
          % (code, st[0], st[1], st[6], keys))
    check(ok_o and ok_c, 'cancel while a chunk runs: consistent %s' % (info,))
    conn.close()


def scenario_inserts(env):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=300, pause='20 milliseconds')
    th, res = run_in_thread(env, db, job)
    writer = env.connect(db)
    w = writer.cursor()
    added = 0
    rng = random.Random(7)
    while th.is_alive() and added < 60:
        # under b rows of a = 1 not yet deleted, and a new b under a = 1
        try:
            w.execute('INSERT INTO c SELECT 100000 + %s, id, \'late\' FROM b WHERE a_id = 1 ORDER BY id LIMIT 1', (added,))
            w.execute('INSERT INTO b VALUES (100000 + %s, 1)', (added,))
            w.execute('INSERT INTO note VALUES (100000 + %s, 100000 + %s)', (added, added))
        except psycopg2.errors.ForeignKeyViolation:
            break   # a = 1 is gone: the job's last chunk committed
        added += 1
        time.sleep(rng.uniform(0, 0.04))
    th.join()
    cur = conn.cursor()
    cur.execute("SELECT (SELECT count(*) FROM b WHERE a_id = 1) + (SELECT count(*) FROM c WHERE v = 'late')"
                " + (SELECT count(*) FROM note WHERE id >= 100000)")
    left = cur.fetchone()[0]
    st = job_row(conn, job)
    check(res['error'] is None and st[0] == 'finished' and added > 5 and left == 0,
          'inserts: %d rows inserted under rows being deleted while the job ran; left: %d (%s %s, retries %s)'
          % (added * 3, left, st[0], res['error'], st[4]))
    cur.execute(ORPHANS)
    check(cur.fetchone()[0] == 0, 'inserts: nothing references a deleted row')
    writer.close()
    conn.close()


def scenario_protect(env, initial):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=300)
    cur = conn.cursor()
    cur.execute('INSERT INTO inv VALUES (2, 1)')   # b 1 is under a = 1, deleted last among b
    code = None
    try:
        cur.execute('CALL cascade_delete_run(%s)', (job,))
    except psycopg2.Error as e:
        code = e.pgcode
    st = job_row(conn, job)
    ok_o, ok_c, info = consistent(conn, job, initial)
    check(code == '23503' and st[0] == 'blocked' and st[5] == '23503' and 0 < st[1] < st[6],
          'protect: a PROTECT row inserted after the plan stops the job: %s, %s after %s rows' % (code, st[0], st[1]))
    check(ok_o and ok_c, 'protect: consistent where it stopped %s' % (info,))
    cur.execute('SELECT count(*) FROM b WHERE id = 1')
    check(cur.fetchone()[0] == 1, 'protect: the protected row is there')
    cur.execute('DELETE FROM inv WHERE id = 2')
    cur.execute('CALL cascade_delete_run(%s)', (job,))
    check(job_row(conn, job)[0] == 'finished', 'protect: once the row is gone, CALL finishes the job')
    conn.close()


def scenario_graph_changed(env):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn)
    cur = conn.cursor()
    cur.execute("SELECT cascade_delete_set_policy('note', '{b_id}', 'SET_NULL', parent => 'b')")
    code = None
    try:
        cur.execute('CALL cascade_delete_run(%s)', (job,))
    except psycopg2.Error as e:
        code = e.pgcode
    cur.execute('SELECT count(*) FROM a')
    check(code == '55000' and job_row(conn, job)[0] == 'failed' and cur.fetchone()[0] == 2,
          'graph changed: the job refuses to run on a changed policy (%s), nothing deleted' % code)
    conn.close()


def scenario_lock(env, reference):
    db = env.fresh()
    conn = env.connect(db)
    job = start(conn, chunk_rows=2000, lock_timeout='100 milliseconds')
    holder = env.connect(db)
    hc = holder.cursor()
    hc.execute('BEGIN')
    hc.execute('SELECT * FROM c WHERE id = 1 FOR UPDATE')   # c 1 is under b 2, a = 1
    th, res = run_in_thread(env, db, job)
    st = wait_for(conn, job, lambda r: r[4] >= 2, timeout=30)
    hc.execute('COMMIT')
    th.join()
    st = job_row(conn, job)
    check(res['error'] is None and st[0] == 'finished' and st[4] >= 2 and st[5] == '55P03',
          'lock: a row lock held by another session: %s retries after lock timeouts, then %s' % (st[4], st[0]))
    check(dump(conn) == reference, 'lock: the result equals the one-transaction call\'s')
    holder.close()
    conn.close()


def main():
    base = own_dir('cd_jobs_')
    cl = Cluster(base, 'data')
    try:
        cl.initdb()
        cl.start('max_worker_processes=16')
        cl.execute('CREATE DATABASE tpl')
        cl.execute(SCHEMA, 'tpl')
        env = Env(cl)
        ref_db = env.fresh()
        conn = env.connect(ref_db)
        initial = counts(conn)
        conn.cursor().execute("SET cascade_delete.progress = on")
        conn.cursor().execute("SELECT cascade_delete('a', 1)")
        reference = dump(conn)
        lines = [n.strip() for n in conn.notices]
        check(any(l.startswith('NOTICE:  cascade_delete: collect ') for l in lines)
              and any(l.startswith('NOTICE:  cascade_delete: deleted 20000 rows of public.c in ') for l in lines),
              'progress: the one-transaction call reports its phases and tables (%d NOTICEs)' % len(lines))
        conn.close()
        rng = random.Random(11)
        scenario_watched(env, reference, initial)
        scenario_kill(env, reference, initial)
        scenario_restart(env, reference, initial)
        scenario_cancel(env, reference, initial, rng)
        scenario_owner(env, reference)
        scenario_two_runners(env)
        scenario_cancel_running(env, initial)
        scenario_inserts(env)
        scenario_protect(env, initial)
        scenario_graph_changed(env)
        scenario_lock(env, reference)
        log = cl.log_text()
        crashed = [l for l in log.splitlines() if 'terminated by signal' in l and 'signal 9' not in l]
        check(not crashed, 'server log: no backend died but the one killed %s' % crashed[:2])
    finally:
        cl.stop()
        shutil.rmtree(base, ignore_errors=True)
    TALLY.finish()


if __name__ == '__main__':
    main()

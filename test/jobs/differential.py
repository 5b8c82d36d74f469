"""Chunked jobs against the one-transaction call: on the fuzzer's generated schemas
(test/fuzz/gen.py), the same data in two databases; one runs
cascade_delete_where(root, condition), the other cascade_delete_start_where() with a
tiny chunk size and CALL cascade_delete_run(job). The outcome must be the same
(the same SQLSTATE when refused, at the start for a blocker), and when both
succeed every table and the trigger audit log must be equal.

A job refuses, at its start, a cascade whose rows cascade from a table without a
primary key (55000) or from one with inheritance children (0A000), since it deletes
by key: such cases count as "no key".

    /usr/bin/python3 test/jobs/differential.py [--cases N] [--seed S] [-v]
Needs PGHOST/PGPORT/PGUSER (a superuser) and the extension installed. Prints
`jobs_differential: N passed, M failed` last.
"""
import argparse
import os
import random
import sys

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'fuzz'))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import fuzz  # noqa: E402  (the fuzzer's database helpers)
import gen   # noqa: E402
from tally import Tally  # noqa: E402


def one_transaction(db, root, cond):
    """cascade_delete_where in one committed transaction: None, or the SQLSTATE."""
    cur = db.cursor()
    try:
        cur.execute('SELECT cascade_delete_where(%s, %s)', (root, cond))
        db.conn.commit()
        return None
    except psycopg2.Error as e:
        db.rollback()
        return e.pgcode


def chunked(db, root, cond, chunk_rows):
    """(where it stopped: 'start' | 'run' | None, SQLSTATE or None, job)."""
    cur = db.cursor()
    try:
        cur.execute('SELECT cascade_delete_start_where(%s, %s, chunk_rows => %s)', (root, cond, chunk_rows))
        job = cur.fetchone()[0]
        db.conn.commit()
    except psycopg2.Error as e:
        db.rollback()
        return 'start', e.pgcode, None
    db.conn.autocommit = True
    try:
        cur.execute('CALL cascade_delete_run(%s)', (job,))
        return None, None, job
    except psycopg2.Error as e:
        return 'run', e.pgcode, job
    finally:
        db.conn.autocommit = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cases', type=int, default=60)
    ap.add_argument('--seed', type=int, default=5000)
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()
    tally = Tally('jobs_differential')
    tag = 'jobs_%d' % os.getpid()
    names = [tag + '_one', tag + '_job']
    admin = psycopg2.connect(dbname='postgres')
    admin.autocommit = True
    with admin.cursor() as cur:
        for n in names:
            cur.execute('DROP DATABASE IF EXISTS %s' % n)
            cur.execute('CREATE DATABASE %s TEMPLATE template0' % n)
    dbs = [fuzz.DB(n) for n in names]
    stats = {'equal': 0, 'refused alike': 0, 'no key': 0, 'skipped': 0}
    try:
        fuzz.connect_with_extension(dbs)
        for seed in range(args.seed, args.seed + args.cases):
            case = gen.generate(seed)
            rng = random.Random(seed)
            try:
                for db in dbs:
                    fuzz.reset_and_build(db, case)
            except fuzz.CaseError:
                stats['skipped'] += 1
                continue
            root, cond = case.root_rel(), case.conds[0]
            one = one_transaction(dbs[0], root, cond)
            chunk_rows = rng.choice([1, 2, 3, 5, 20])
            stopped, code, job = chunked(dbs[1], root, cond, chunk_rows)
            what = 'seed %d: %s WHERE %s, chunk_rows %d' % (seed, root, cond, chunk_rows)
            if stopped == 'start' and code in ('55000', '0A000') and one is None:
                stats['no key'] += 1
                continue
            if one is not None or code is not None:
                # Refused alike: a blocker or an update the dry run predicts
                # fails refuses the job at its start (which of several
                # violations is met first may differ within class 23).
                ok = (one == code or (one or '')[:2] == (code or '')[:2] == '23') and \
                    (stopped == 'start' or one not in ('23503', '23502'))
                if ok:
                    stats['refused alike'] += 1
                tally.check(ok, '%s: one transaction %s, job %s at %s' % (what, one, code, stopped))
                continue
            with dbs[0].cursor() as c0, dbs[1].cursor() as c1:
                a, b = fuzz.dump(c0, case), fuzz.dump(c1, case)
                c1.execute('SELECT state, planned_rows, done_rows, chunks FROM cascade_delete_jobs WHERE job = %s', (job,))
                state, planned, done, chunks = c1.fetchone()
                c1.execute('SELECT count(*) FROM cascade_delete_job_key WHERE job = %s', (job,))
                keys_left = c1.fetchone()[0]
            dbs[0].conn.commit()
            dbs[1].conn.commit()
            diff = sorted(t for t in a if a[t] != b.get(t))
            ok = not diff and state == 'finished' and keys_left == 0 and planned == done
            if ok:
                stats['equal'] += 1
            tally.check(ok, '%s: %s%s, %s chunks, planned %s, done %s' % (
                what, state, ' differ: ' + ', '.join(diff) if diff else '', chunks, planned, done))
    finally:
        for db in dbs:
            db.close()
        with admin.cursor() as cur:
            for n in names:
                cur.execute('DROP DATABASE IF EXISTS %s' % n)
    print('jobs_differential: ' + ', '.join('%s %d' % kv for kv in stats.items()))
    tally.finish()


if __name__ == '__main__':
    main()

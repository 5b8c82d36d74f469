#!/usr/bin/python3
"""Differential fuzzer: cascade_delete against PostgreSQL's own ON DELETE actions.

For each seed, gen.py builds a random schema (5-15 tables, composite / cross-type /
unique-constraint / self / cyclic foreign keys, every ON DELETE action incl.
PostgreSQL 15's column lists, deferrable constraints, partitioned tables, audit
triggers) with random data.  The same schema and data are built in two databases;
one runs `DELETE FROM root WHERE cond` (native actions), the other
cascade_delete_where / cascade_delete_many / cascade_delete with the same roots,
each in one committed transaction.  Both must succeed or both fail with the same
SQLSTATE; on success every table (and the audit log of the delete triggers) must
have the same contents, and the report must match the row-count differences (and
the dry run the report).

A second oracle, model.py, computes what README "Semantics" documents (collect
every key through CASCADE edges, check RESTRICT / NO ACTION against the rows that
survive, then SET the surviving referencing rows, then delete) on a snapshot of
the database.  It must agree with cascade_delete on every case.  It decides the
cases where PostgreSQL's own actions give another answer because they run in the
order of its trigger queue, one row at a time:
* RESTRICT and immediate NO ACTION are checked when their trigger fires, so a
  referencing row that the cascade deletes later still blocks (23503), where
  cascade_delete only refuses for rows that would survive;
* a row that one path sets to NULL / its default and another path deletes can be
  SET first, failing on a NOT NULL column (23502) or a default that references a
  deleted row (23503), where cascade_delete just deletes it;
* when a delete is both blocked and would write NULL into a NOT NULL column,
  PostgreSQL reports whichever its queue reaches first.
Those cases pass when cascade_delete agrees with the model; the summary counts
them by kind.  Everything else is a failure: native and cascade_delete disagree
and the model does not side with cascade_delete, or the model disagrees with
both (a fuzzer bug or a shared deviation, to look at).

Usage: fuzz.py [--cases N] [--seed S] [--no-shrink] [--verbose]
Cases S .. S+N-1 run; a failing case prints its seed and writes a shrunk,
self-contained SQL repro to failures/<seed>.sql.  `--seed S --cases 1` re-runs one.
"""

import argparse
import concurrent.futures
import json
import os
import random
import re
import sys
import time

import psycopg2
import psycopg2.extensions

import gen
import model
from gen import qi, lit

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEED = 1000

# Seeds that fail because of an extension bug not fixed yet; run.sh runs them on top
# of the N cases, so they keep failing until the bug is fixed (see failures/<seed>.sql
# after a run, and the report of issue 4 part 3).
KNOWN_FAILING = [
]

STATEMENT_TIMEOUT_MS = 30000
POOL = concurrent.futures.ThreadPoolExecutor(2)
# a key of each type that no generated row has
MISSING = {'int': '2000000000', 'bigint': '900000000000', 'text': 'no such key',
           'uuid': 'ffffffff-ffff-4fff-8fff-ffffffffffff'}


class CaseError(Exception):
    """The fuzzer's own problem (the generated SQL does not load)."""


# ------------------------------------------------------------------ connections

class DB:
    def __init__(self, dbname):
        self.dbname = dbname
        self.conn = None

    def connect(self):
        self.close()
        self.conn = psycopg2.connect(dbname=self.dbname, application_name='cascade_delete_fuzz')
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("SET statement_timeout = %d; SET client_min_messages = warning; "
                        "SET synchronous_commit = off; "
                        "SET search_path = public" % STATEMENT_TIMEOUT_MS)
        self.conn.autocommit = False

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def alive(self):
        return self.conn is not None and self.conn.closed == 0

    def cursor(self):
        if not self.alive():
            self.connect()
        return self.conn.cursor()

    def rollback(self):
        try:
            self.conn.rollback()
        except Exception:
            self.close()


def lost(e):
    return isinstance(e, (psycopg2.OperationalError, psycopg2.InterfaceError)) and e.pgcode is None


def reset_and_build(db, case):
    sql = case.build_sql()
    try:
        cur = db.cursor()
        db.conn.autocommit = True
        cur.execute('DROP SCHEMA IF EXISTS fz CASCADE')
        cur.execute('CREATE SCHEMA fz')
        db.conn.autocommit = False
        cur.execute(sql)
        db.conn.commit()
    except psycopg2.Error as e:
        if lost(e):
            db.close()
            raise
        db.rollback()
        raise CaseError('build failed in %s: %s %s' % (db.dbname, e.pgcode, str(e).strip()))
    finally:
        if db.alive():
            db.conn.autocommit = False


def dump_sql(case):
    parts = []
    for t in case.tables + [None]:
        name, qname = (t.name, t.qname()) if t else ('audit', 'fz.audit')
        parts.append("SELECT %s, coalesce((SELECT jsonb_agg(to_jsonb(x)) FROM %s x), '[]')"
                     % (lit('text', name), qname))
    return ' UNION ALL '.join(parts)


def dump(cur, case):
    """{table: sorted canonical JSON rows}, the audit log included."""
    cur.execute(dump_sql(case))
    return {name: sorted(model.canon(r) for r in rows) for name, rows in cur.fetchall()}


def snapshot(cur, case):
    """The model's input: every row with its ctid and (partition) table name, and
    the ctids of the root rows."""
    parts = []
    for t in case.tables:
        parts.append("SELECT %s, c.relname || ':' || x.ctid::text, c.relname, to_jsonb(x) FROM %s x "
                     "JOIN pg_catalog.pg_class c ON c.oid = x.tableoid" % (lit('text', t.name), t.qname()))
    cur.execute(' UNION ALL '.join(parts))
    snap = {t.name: [] for t in case.tables}
    for name, ctid, rel, row in cur.fetchall():
        snap[name].append((ctid, rel, row))
    root = case.table(case.root)
    cur.execute("SELECT c.relname || ':' || x.ctid::text FROM %s x JOIN pg_catalog.pg_class c "
                "ON c.oid = x.tableoid WHERE %s" % (root.qname(), case.cond))
    return snap, {r[0] for r in cur.fetchall()}


def regclass_text(name):
    """'fz.' + the table name as regclass::text quotes it."""
    if re.fullmatch(r'[a-z_][a-z0-9_$]*', name):
        return 'fz.' + name
    return 'fz.' + qi(name)


class Outcome:
    def __init__(self):
        self.ok = False
        self.code = None
        self.msg = ''
        self.dump = None
        self.before = None
        self.snap = None
        self.roots = None
        self.report = None
        self.dry = None
        self.dry_code = None
        self.call = ''
        self.crashed = False

    def brief(self):
        if self.crashed:
            return 'connection lost (%s)' % self.msg
        return 'ok' if self.ok else 'error %s: %s' % (self.code, self.msg.splitlines()[0] if self.msg else '')


def run_native(db, case):
    o = Outcome()
    root = case.table(case.root)
    o.call = 'DELETE FROM %s WHERE %s;' % (root.qname(), case.cond)
    try:
        cur = db.cursor()
        cur.execute(o.call)
        db.conn.commit()
        o.ok = True
    except psycopg2.Error as e:
        if lost(e):
            db.close()
            o.crashed, o.msg = True, str(e).strip()
            return o
        db.rollback()
        o.code, o.msg = e.pgcode, str(e).strip()
    cur = db.cursor()
    o.dump = dump(cur, case)
    db.conn.commit()
    return o


def ext_call(case, cur, dry):
    """Builds the cascade_delete call for the case (keys read in the same transaction)."""
    root = case.table(case.root)
    rq = root.qname()
    dryarg = ', dry_run => true' if dry else ''
    style = case.seed % 3
    if case.api != 'where':
        cols = root.pk
        cur.execute('SELECT ARRAY[%s] FROM %s WHERE %s ORDER BY 1' % (
            ', '.join('%s::text' % qi(c) for c in cols), rq, case.cond))
        keys = [r[0] for r in cur.fetchall()]
        if case.api == 'one' and len(keys) == 1:
            k = keys[0]
            if len(cols) == 1:
                typ = root.col(cols[0]).typ
                if style == 0:
                    return 'SELECT cascade_delete(%s, %s::%s%s)' % (lit('text', rq), lit('text', k[0]), typ, dryarg)
                if style == 1:
                    return 'SELECT cascade_delete(%s, %s%s)' % (lit('text', rq), lit('text', k[0]), dryarg)
                return 'SELECT cascade_delete(%s::regclass, %s::text%s)' % (lit('text', rq), lit('text', k[0]), dryarg)
            return 'SELECT cascade_delete(%s, ARRAY[%s]%s)' % (lit('text', rq), ', '.join(lit('text', x) for x in k),
                                                              dryarg)
        if keys:
            if case.many_dup:
                keys = keys + keys[:1]
            if case.many_missing:
                keys = keys + [[MISSING[root.col(c).typ] for c in cols]]
            if len(cols) == 1:
                typ = root.col(cols[0]).typ if style != 1 else 'text'
                return 'SELECT cascade_delete_many(%s, ARRAY[%s]::%s[]%s)' % (
                    lit('text', rq), ', '.join(lit('text', k[0]) for k in keys), typ, dryarg)
            return 'SELECT cascade_delete_many(%s, ARRAY[%s]%s)' % (
                lit('text', rq), ', '.join('ARRAY[%s]' % ', '.join(lit('text', x) for x in k) for k in keys), dryarg)
        # no roots: cascade_delete_many refuses an empty key list (22023); use the WHERE form
    return 'SELECT cascade_delete_where(%s, %s%s)' % (lit('text', rq), lit('text', case.cond), dryarg)


def run_ext(db, case):
    o = Outcome()
    settings = ' '.join(case.settings_sql())
    try:
        cur = db.cursor()
        if case.dry_run:
            if settings:
                cur.execute(settings)
            call = ext_call(case, cur, True)
            try:
                cur.execute(call)
                o.dry = cur.fetchone()[0]
            except psycopg2.Error as e:
                if lost(e):
                    raise
                o.dry_code = e.pgcode
            db.rollback()
            cur = db.cursor()
        if settings:
            cur.execute(settings)
        o.before = dump(cur, case)
        o.snap, o.roots = snapshot(cur, case)
        o.call = ext_call(case, cur, False)
        cur.execute(o.call)
        o.report = cur.fetchone()[0]
        db.conn.commit()
        o.ok = True
    except psycopg2.Error as e:
        if lost(e):
            db.close()
            o.crashed, o.msg = True, str(e).strip()
            return o
        db.rollback()
        o.code, o.msg = e.pgcode, str(e).strip()
    cur = db.cursor()
    o.dump = dump(cur, case)
    db.conn.commit()
    return o


def same(a, b):
    if a.crashed or b.crashed:
        return False
    if a.ok != b.ok:
        return False
    if not a.ok:
        return a.code == b.code
    return a.dump == b.dump


def multiset_minus(a, b):
    """Rows of list a not matched by a row of list b (multiset difference)."""
    count = {}
    for x in b:
        count[x] = count.get(x, 0) + 1
    out = []
    for x in a:
        if count.get(x, 0):
            count[x] -= 1
        else:
            out.append(x)
    return out


def check_report(case, o, m):
    """The report against the row-count differences and the model's counts; the
    dry run against the report."""
    problems = []
    rep = o.report
    if not isinstance(rep, dict) or 'total' not in rep:
        return ['report is not a report: %r' % (rep,)]
    deleted, updated = rep.get('deleted', {}), rep.get('updated', {})
    names = {regclass_text(t.name): t.name for t in case.tables}
    for k in list(deleted) + list(updated):
        if k not in names:
            problems.append('report names an unknown table %r' % k)
    total = 0
    for t in case.tables:
        gone = len(o.before[t.name]) - len(o.dump[t.name])
        total += gone
        d = deleted.get(regclass_text(t.name), 0)
        if d != gone:
            problems.append('%s: report deleted %d, rows gone %d' % (t.name, d, gone))
        changed = len(multiset_minus(o.dump[t.name], o.before[t.name]))
        u = updated.get(regclass_text(t.name), 0)
        if changed > u:
            problems.append('%s: %d surviving rows changed, report updated %d' % (t.name, changed, u))
    if m is not None and m.ok:
        for t in case.tables:
            mu, u = m.updated.get(t.name, 0), updated.get(regclass_text(t.name), 0)
            if mu != u:
                problems.append('%s: report updated %d, the model %d' % (t.name, u, mu))
    if rep['total'] != total:
        problems.append('report total %s, rows gone %d' % (rep['total'], total))
    if sum(deleted.values()) != rep['total']:
        problems.append('report total %s is not the sum of deleted %d' % (rep['total'], sum(deleted.values())))
    if case.dry_run and not case.has_triggers('skip'):
        if o.dry is None:
            problems.append('dry run failed with %s, the real call succeeded' % o.dry_code)
        else:
            d = {k: v for k, v in o.dry.items() if k not in ('dry_run', 'blocked', 'max_rows_exceeded')}
            if d != rep:
                problems.append('dry run report %s differs from the real one %s' % (json.dumps(d), json.dumps(rep)))
            if o.dry.get('blocked'):
                problems.append('dry run reports blockers, the real call succeeded: %s' % json.dumps(o.dry['blocked']))
            if o.dry.get('dry_run') is not True:
                problems.append('dry run report lacks "dry_run": true')
    return problems


class Result:
    def __init__(self, category=None, detail='', native=None, ext=None, accepted_by=None, model=None):
        self.category = category        # None: pass
        self.detail = detail
        self.native = native
        self.ext = ext
        self.accepted_by = accepted_by  # why native differed, for passes decided by the model
        self.model = model


def model_matches(m, o):
    if m.ok:
        return o.ok and o.dump == m.state
    return not o.ok and o.code in m.codes


def model_brief(m):
    return 'ok' if m.ok else 'error %s (%s)' % ('/'.join(sorted(m.codes)), m.why)


def check(case, dbs):
    """Runs one case; returns a Result (category None when it passes)."""
    ndb, edb = dbs
    # the two databases are independent: build and run them side by side
    builds = [POOL.submit(reset_and_build, db, case) for db in dbs]
    try:
        for b in builds:
            b.result()
    except CaseError as e:
        return Result('build', str(e))
    fn, fe = POOL.submit(run_native, ndb, case), POOL.submit(run_ext, edb, case)
    nat, ext = fn.result(), fe.result()
    if ext.crashed:
        return Result('crash', ext.msg, nat, ext)
    if nat.crashed:
        return Result('native-crash', nat.msg, nat, ext)
    if ext.code == '57014':
        return Result('timeout', ext.msg, nat, ext)
    m = None
    if ext.snap is not None and not case.has_triggers('skip'):
        m = model.run(case, ext.snap, ext.roots)
    res = Result(None, '', nat, ext, model=m)
    if nat.code is not None and not nat.code.startswith('23'):
        # the native side failed for a reason the comparison cannot use (stack depth ...)
        res.accepted_by = 'inconclusive'
        if m is not None and not model_matches(m, ext):
            return Result('model', 'native inconclusive (%s); cascade_delete %s; model %s'
                          % (nat.brief(), ext.brief(), model_brief(m)), nat, ext, model=m)
        return res
    if same(nat, ext):
        if m is not None and not model_matches(m, ext):
            return Result('model', 'native and cascade_delete agree (%s), the model says %s %s' % (
                ext.brief(), model_brief(m), state_diff('model', m.state, 'both', ext.dump) if m.ok and ext.ok else ''),
                nat, ext, model=m)
    else:
        if m is None or not model_matches(m, ext):
            detail = mismatch_detail(case, nat, ext)
            if m is not None:
                detail += ' | model: %s' % model_brief(m)
            return Result(mismatch_category(nat, ext), detail, nat, ext, model=m)
        res.accepted_by = 'native %s, cascade_delete %s' % (
            'ok' if nat.ok else nat.code, 'ok' if ext.ok else ext.code)
    if ext.ok:
        problems = check_report(case, ext, m)
        if problems:
            return Result('report', '; '.join(problems), nat, ext, model=m)
    elif case.dry_run and ext.dry is not None and ext.dry.get('blocked') and ext.code != '23503':
        return Result('report', 'dry run reports blockers but the call failed with %s' % ext.code, nat, ext)
    return res


def state_diff(an, a, bn, b):
    lines = []
    for name in a:
        x, y = a[name], b.get(name, [])
        if x != y:
            lines.append('%s: only %s %s; only %s %s' % (name, an, multiset_minus(x, y)[:6], bn,
                                                          multiset_minus(y, x)[:6]))
    return ' | '.join(lines)


def mismatch_category(nat, ext):
    if nat.ok != ext.ok:
        return 'outcome'
    if not nat.ok:
        return 'sqlstate'
    return 'state'


def mismatch_detail(case, nat, ext):
    if nat.ok != ext.ok or not nat.ok:
        return 'native %s; cascade_delete %s' % (nat.brief(), ext.brief())
    return 'final contents differ: ' + state_diff('native', nat.dump, 'cascade_delete', ext.dump)


# ------------------------------------------------------------------ shrinking

def shrink(case, dbs, category, budget_s=90, max_tries=400):
    deadline = time.time() + budget_s
    tries = [0]
    best = case

    def fails(c):
        if time.time() > deadline or tries[0] >= max_tries:
            return False
        tries[0] += 1
        try:
            c.repair()
            r = check(c, dbs)
        except psycopg2.Error:
            reconnect(dbs)
            return False
        return r.category == category

    def attempt(mut):
        nonlocal best
        c = gen.clone(best)
        try:
            if mut(c) is False:
                return False
        except (KeyError, IndexError, ValueError):
            return False
        if fails(c):
            best = c
            return True
        return False

    progress = True
    while progress and time.time() < deadline and tries[0] < max_tries:
        progress = False
        # options first: simpler repros
        for mut in (lambda c: setattr(c, 'dry_run', False) if c.dry_run else False,
                    lambda c: setattr(c, 'api', 'where') if c.api != 'where' else False,
                    lambda c: setattr(c, 'fast_path', True) if not c.fast_path else False,
                    lambda c: setattr(c, 'batch_size', None) if c.batch_size else False):
            progress |= attempt(mut)
        for t in [t.name for t in best.tables if t.name != best.root][::-1]:
            progress |= attempt(lambda c, t=t: c.drop_table(t))
        for i in range(len(best.fks) - 1, -1, -1):
            if i < len(best.fks):
                progress |= attempt(lambda c, i=i: c.fks.pop(i) and None)
        for i in range(len(best.triggers) - 1, -1, -1):
            if i < len(best.triggers):
                progress |= attempt(lambda c, i=i: c.triggers.pop(i) and None)
        # rows: remove chunks, halving the chunk size
        for t in [t.name for t in best.tables]:
            n = len(best.table(t).rows)
            chunk = max(1, n // 2)
            while chunk >= 1 and time.time() < deadline and tries[0] < max_tries:
                i = 0
                while i < len(best.table(t).rows):
                    def cut(c, t=t, i=i, chunk=chunk):
                        rows = c.table(t).rows
                        if i >= len(rows):
                            return False
                        del rows[i:i + chunk]
                    if attempt(cut):
                        progress = True
                    else:
                        i += chunk
                if chunk == 1 or len(best.table(t).rows) > 24 and chunk <= max(1, n // 16):
                    break
                chunk //= 2
        # unused columns, unique constraints, partitions, indexes, defaults
        for t in [t.name for t in best.tables]:
            tb = best.table(t)
            used = set(tb.pk) | set(tb.unique) | {'v'}
            for fk in best.fks:
                if fk.child == t:
                    used |= set(fk.cols)
            for cname in [c.name for c in tb.cols if c.name not in used]:
                def dropcol(c, t=t, cname=cname):
                    tt = c.table(t)
                    tt.cols = [x for x in tt.cols if x.name != cname]
                    tt.indexes = [ix for ix in tt.indexes if cname not in ix]
                    for r in tt.rows:
                        r.pop(cname, None)
                progress |= attempt(dropcol)
            if tb.unique and not any(fk.parent == t and fk.pcols != tb.pk for fk in best.fks):
                def dropuniq(c, t=t):
                    tt = c.table(t)
                    for cn in tt.unique:
                        tt.cols = [x for x in tt.cols if x.name != cn]
                        for r in tt.rows:
                            r.pop(cn, None)
                    tt.unique = []
                progress |= attempt(dropuniq)
            if tb.nparts:
                progress |= attempt(lambda c, t=t: setattr(c.table(t), 'nparts', 0))
            if tb.indexes:
                progress |= attempt(lambda c, t=t: setattr(c.table(t), 'indexes', []))
            for cn in [c.name for c in tb.cols if c.default is not None]:
                progress |= attempt(lambda c, t=t, cn=cn: setattr(c.table(t).col(cn), 'default', None))
    return best, tries[0]


def reconnect(dbs):
    for db in dbs:
        db.close()
    for db in dbs:
        for _ in range(30):
            try:
                db.connect()
                break
            except psycopg2.Error:
                time.sleep(1)


def repro_sql(case, res):
    root = case.table(case.root)
    tables = case.tables
    dumpq = ' UNION ALL\n'.join("SELECT %s AS tbl, x::text AS row FROM %s x" % (lit('text', t.name), t.qname())
                                for t in tables) + " UNION ALL\nSELECT 'audit', x::text FROM fz.audit x\nORDER BY 1, 2;"
    nat, ext = res.native, res.ext
    ext_call_sql = ext.call if ext is not None and ext.call else \
        'SELECT cascade_delete_where(%s, %s);' % (lit('text', root.qname()), lit('text', case.cond))
    out = ['-- cascade_delete differential fuzz failure, seed %d (%s)' % (case.seed, case.describe()),
           '-- category: %s' % res.category]
    for line in res.detail.split(' | '):
        out.append('--   ' + line)
    out += ['-- native DELETE: %s' % (nat.brief() if nat else '?'),
            '-- cascade_delete: %s' % (ext.brief() if ext else '?'),
            '-- documented semantics (model.py): %s' % (model_brief(res.model) if res.model else '?'),
            '-- Run in an empty database: psql -v ON_ERROR_STOP=0 -d <db> -f this-file',
            '-- (re-run the whole case: test/fuzz/run.sh --seed %d --cases 1)' % case.seed,
            '',
            'CREATE EXTENSION IF NOT EXISTS cascade_delete;',
            'SET client_min_messages = warning;',
            'DROP SCHEMA IF EXISTS fz CASCADE;',
            'CREATE SCHEMA fz;',
            case.build_sql(),
            '-- 1. PostgreSQL\'s own ON DELETE actions (SET CONSTRAINTS ALL IMMEDIATE = the commit\'s checks)',
            'BEGIN;',
            'DELETE FROM %s WHERE %s;' % (root.qname(), case.cond),
            'SET CONSTRAINTS ALL IMMEDIATE;',
            dumpq,
            'ROLLBACK;',
            '',
            '-- 2. cascade_delete',
            'BEGIN;'] + case.settings_sql() + [
            ext_call_sql.rstrip(';') + ';',
            'SET CONSTRAINTS ALL IMMEDIATE;',
            dumpq,
            'ROLLBACK;', '']
    return '\n'.join(out)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--cases', type=int, default=200)
    ap.add_argument('--seed', type=int, default=DEFAULT_SEED)
    ap.add_argument('--no-shrink', action='store_true')
    ap.add_argument('--no-known', action='store_true', help='do not add the known-failing seeds')
    ap.add_argument('--skip-triggers', type=float, default=0.0,
                    help='probability of a BEFORE DELETE trigger that skips rows (see README of the fuzzer)')
    ap.add_argument('--verbose', '-v', action='store_true')
    args = ap.parse_args()

    tag = 'fuzz_%d' % os.getpid()
    admin = psycopg2.connect(dbname='postgres', application_name='cascade_delete_fuzz')
    admin.autocommit = True
    names = [tag + '_native', tag + '_ext']
    with admin.cursor() as cur:
        for n in names:
            cur.execute('DROP DATABASE IF EXISTS %s' % n)
            cur.execute('CREATE DATABASE %s TEMPLATE template0' % n)
    dbs = [DB(n) for n in names]
    failures_dir = os.path.join(HERE, 'failures')
    passed = failed = 0
    stats = {'ok': 0, 'refused': 0, 'inconclusive': 0}
    differ = {}                         # native differs, the model sides with cascade_delete: by kind
    failed_seeds = []
    t0 = time.time()
    try:
        for db in dbs:
            db.connect()
            with db.cursor() as cur:
                cur.execute('CREATE EXTENSION cascade_delete')
            db.conn.commit()
        seeds = list(range(args.seed, args.seed + args.cases))
        known = [] if args.no_known or args.cases == 1 else [s for s in KNOWN_FAILING if s not in seeds]
        for seed in seeds + known:
            opts = {'p_skip': args.skip_triggers}
            case = gen.generate(seed, opts)
            try:
                res = check(case, dbs)
            except psycopg2.Error as e:
                reconnect(dbs)
                res = Result('crash', str(e).strip())
            if res.category is None:
                passed += 1
                if res.accepted_by == 'inconclusive':
                    stats['inconclusive'] += 1
                elif res.accepted_by:
                    differ[res.accepted_by] = differ.get(res.accepted_by, 0) + 1
                elif res.ext.ok:
                    stats['ok'] += 1
                else:
                    stats['refused'] += 1
                if args.verbose:
                    print('ok   seed=%d %s: %s%s' % (seed, case.describe(), res.ext.brief()[:80],
                                                     ' (native %s; model agrees with cascade_delete)' % res.native.brief()[:90]
                                                     if res.accepted_by else ''), flush=True)
                continue
            failed += 1
            failed_seeds.append(seed)
            print('FAIL seed=%d%s [%s] %s' % (seed, ' (known)' if seed in KNOWN_FAILING else '', res.category,
                                             case.describe()), flush=True)
            print('     ' + res.detail[:2000], flush=True)
            small, tries = case, 0
            if not args.no_shrink and res.category not in ('build',):
                small, tries = shrink(case, dbs, res.category)
            final = check(small, dbs) if small is not case else res
            if final.category is None:          # flaky: keep the original
                small, final = case, res
            os.makedirs(failures_dir, exist_ok=True)
            path = os.path.join(failures_dir, '%d.sql' % seed)
            with open(path, 'w') as f:
                f.write(repro_sql(small, final))
            print('     repro (%d tables, %d rows, %d shrink runs): %s' % (
                len(small.tables), sum(len(t.rows) for t in small.tables), tries, os.path.relpath(path)), flush=True)
    finally:
        for db in dbs:
            db.close()
        with admin.cursor() as cur:
            for n in names:
                try:
                    cur.execute('DROP DATABASE IF EXISTS %s' % n)
                except psycopg2.Error as e:
                    print('could not drop %s: %s' % (n, e), file=sys.stderr)
        admin.close()
    print('fuzz summary: %d both succeeded, %d both refused, %d native inconclusive, %d native differs '
          'where the documented semantics side with cascade_delete%s; %.1f s' % (
              stats['ok'], stats['refused'], stats['inconclusive'], sum(differ.values()),
              ' (%s)' % ', '.join('%s: %d' % kv for kv in sorted(differ.items())) if differ else '',
              time.time() - t0))
    if KNOWN_FAILING:
        print('known-failing seeds (extension bugs): %s' % ' '.join(map(str, KNOWN_FAILING)))
    if failed_seeds:
        print('failed seeds: %s' % ' '.join(map(str, failed_seeds)))
    print('fuzz: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

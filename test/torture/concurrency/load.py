#!/usr/bin/python3
"""Load and concurrency test for cascade_delete.

On the seed's schema a <- b <- c (plus d, e), client threads run for a bounded
time: inserters of new rows (to random parents, some being deleted), updaters
of non-key columns, readers (queries and dry runs), and deleters calling
cascade_delete / cascade_delete_many on overlapping and disjoint roots, under
READ COMMITTED, REPEATABLE READ and SERIALIZABLE, with the fast path on and
off and a lock_timeout on some. Every call is recorded (ok/error, SQLSTATE,
rows deleted). The client keeps a model of what must be in the tables: the
rows committed by inserts, the increments committed by updates, the roots
deleted by committed calls. Afterwards it checks:

  * no orphan for any real foreign key (b->a, c->b, e->a);
  * for the policy-only key d->b: no orphan when every session has
    cascade_delete.lock_policy_tables on (phase "lock"); with it off (phase
    "nolock") orphans are the documented race and only counted;
  * the tables hold exactly the model: every row outside a deleted subtree is
    there with its committed version, every row inside one is gone, no row
    from a failed insert is there (compared row by row, and as an md5 checksum);
  * every failed call failed with a retryable SQLSTATE (40001, 40P01, 55P03),
    or 23503 where that is expected (inserts under a deleted parent; a
    cascade_delete with the fast path off, where PostgreSQL's own NO ACTION
    check catches a concurrent insert), and changed nothing (the model check);
  * the rows reported deleted by committed calls add up to the rows that
    disappeared (equal when every call ran with the fast path, at most that
    otherwise: PostgreSQL's own cascade of a concurrent insert is not counted).

Schema:
  a(id)
  b(a_id)  REFERENCES a ON DELETE CASCADE                 (real CASCADE)
  c(b_id)  REFERENCES b (NO ACTION), policy CASCADE        (Django-like, immediate)
  e(a_id)  REFERENCES a DEFERRABLE INITIALLY DEFERRED, policy CASCADE (Django's own)
  d(b_id)  no constraint, policy CASCADE parent b          (application-only key)

Needs PGHOST/PGPORT/PGUSER (a superuser) in the environment; creates and drops
its own databases (concurrency_<pid>_<phase>). Prints a summary per phase and
a final line "concurrency-load: N passed, M failed"; exits 1 on any failure.
"""

import argparse
import hashlib
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict

import psycopg2
import psycopg2.errorcodes

RETRYABLE = {"40001", "40P01", "55P03"}

SCHEMA = """
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id bigint PRIMARY KEY, ver int NOT NULL DEFAULT 0, name text NOT NULL);
CREATE TABLE b (id bigint PRIMARY KEY, a_id bigint NOT NULL REFERENCES a ON DELETE CASCADE,
                ver int NOT NULL DEFAULT 0, payload text NOT NULL);
CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint NOT NULL REFERENCES b,
                ver int NOT NULL DEFAULT 0, note text NOT NULL);
CREATE TABLE e (id bigint PRIMARY KEY,
                a_id bigint NOT NULL REFERENCES a DEFERRABLE INITIALLY DEFERRED,
                ver int NOT NULL DEFAULT 0);
CREATE TABLE d (id bigint PRIMARY KEY, b_id bigint NOT NULL, ver int NOT NULL DEFAULT 0);
CREATE INDEX ON b (a_id);
CREATE INDEX ON c (b_id);
CREATE INDEX ON e (a_id);
CREATE INDEX ON d (b_id);
SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE');
SELECT cascade_delete_set_policy('e', '{a_id}', 'CASCADE');
SELECT cascade_delete_set_policy('d', '{b_id}', 'CASCADE', parent => 'b');
"""

PARENT = {"a": None, "b": "a", "c": "b", "d": "b", "e": "a"}
PARENT_COL = {"b": "a_id", "c": "b_id", "d": "b_id", "e": "a_id"}
TABLES = ["a", "b", "c", "d", "e"]


def connect(dbname):
    conn = psycopg2.connect(dbname=dbname, application_name="concurrency-load")
    conn.autocommit = True
    return conn


class Model:
    """What the tables must hold: rows committed, increments committed, roots deleted."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = {t: {} for t in TABLES}        # id -> [parent_id, ver]
        self.deleted = {t: set() for t in TABLES}  # roots deleted by committed calls
        self.next_id = {t: 1_000_000 for t in TABLES}
        self.initial = 0
        self.inserted = 0

    def new_id(self, t):
        with self.lock:
            self.next_id[t] += 1
            return self.next_id[t]

    def pick(self, t, rng, alive=0.7):
        """A random known id of t: with probability `alive` one not known to be
        deleted (it may be being deleted right now), else any, deleted or not."""
        with self.lock:
            if not self.rows[t]:
                return None
            keys = self._keys(t)
            want_alive = rng.random() < alive
            for _ in range(8 if want_alive else 1):
                i = rng.choice(keys)
                if not want_alive or not self.gone(t, i):
                    return i
            return i

    def _keys(self, t):
        cache = getattr(self, "_cache", None)
        if cache is None:
            cache = self._cache = {}
        entry = cache.get(t)
        if entry is None or entry[0] != len(self.rows[t]):
            entry = (len(self.rows[t]), list(self.rows[t]))
            cache[t] = entry
        return entry[1]

    def add(self, items):
        with self.lock:
            for t, i, parent in items:
                self.rows[t][i] = [parent, 0]
                self.inserted += 1

    def bump(self, items):
        with self.lock:
            for t, i in items:
                self.rows[t][i][1] += 1

    def delete_roots(self, t, ids):
        with self.lock:
            self.deleted[t].update(ids)

    def gone(self, t, i):
        """Is row i of t inside a deleted subtree?"""
        if i in self.deleted[t]:
            return True
        p = PARENT[t]
        if p is None:
            return False
        parent = self.rows[t][i][0]
        if parent not in self.rows[p]:
            return False  # never happens: children are inserted under known parents
        return self.gone(p, parent)

    def expected(self):
        out = {}
        for t in TABLES:
            out[t] = {i: (v[0], v[1]) for i, v in self.rows[t].items() if not self.gone(t, i)}
        return out


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = Counter()           # (kind, outcome) -> n ; outcome "ok" or SQLSTATE
        self.bad = []                    # (kind, sqlstate, message) not allowed
        self.rows_deleted = 0
        self.latency = []                # seconds, cascade_delete calls that committed
        self.fast_path_off_calls = 0

        self.log = None                  # file: one line per call (--log)
        self.t0 = time.monotonic()

    def record(self, kind, outcome, allowed=True, message="", worker="", detail=""):
        with self.lock:
            self.calls[(kind, outcome)] += 1
            first = message.strip().splitlines()[0] if message else ""
            if not allowed:
                self.bad.append((kind, outcome, first))
            if self.log:
                self.log.write("%.3f\t%s\t%s\t%s\t%s\t%s\t%s\n" % (
                    time.monotonic() - self.t0, worker, kind, outcome,
                    "allowed" if allowed else "NOT-ALLOWED", detail, first))


def sqlstate(exc):
    return getattr(exc, "pgcode", None) or "?????"


def run_txn(cur, isolation, body):
    """Runs body(cur) in one transaction at the given isolation level."""
    if isolation == "autocommit":
        return body(cur)
    cur.execute("BEGIN ISOLATION LEVEL " + isolation)
    try:
        result = body(cur)
        cur.execute("COMMIT")
        return result
    except Exception:
        try:
            cur.execute("ROLLBACK")
        except Exception:
            pass
        raise


class Worker(threading.Thread):
    def __init__(self, name, dbname, model, stats, stop_at, seed, settings):
        super().__init__(name=name, daemon=True)
        self.dbname, self.model, self.stats, self.stop_at = dbname, model, stats, stop_at
        self.rng = random.Random(seed)
        self.settings = settings
        self.error = None

    def run(self):
        try:
            self.conn = connect(self.dbname)
            self.cur = self.conn.cursor()
            for k, v in self.settings.items():
                self.cur.execute("SELECT set_config(%s, %s, false)", (k, v))
            while time.monotonic() < self.stop_at:
                self.step()
            self.conn.close()
        except Exception as exc:  # a client-side bug or a lost connection
            self.error = "%s: %r" % (self.name, exc)

    def pause(self, ms):
        time.sleep(self.rng.uniform(0, ms) / 1000.0)


class Inserter(Worker):
    def step(self):
        r = self.rng.random()
        m = self.model
        isolation = "READ COMMITTED" if self.rng.random() < 0.8 else "REPEATABLE READ"
        items = []  # (table, id, parent) inserted by this transaction

        if r < 0.15:
            kind = "insert_tree"  # a new root with children

            def body(cur):
                a = m.new_id("a")
                cur.execute("INSERT INTO a (id, name) VALUES (%s, %s)", (a, "a%d" % a))
                items.append(("a", a, None))
                for _ in range(self.rng.randint(1, 3)):
                    b = m.new_id("b")
                    cur.execute("INSERT INTO b (id, a_id, payload) VALUES (%s, %s, md5(%s::text))", (b, a, b))
                    items.append(("b", b, a))
                    for _ in range(self.rng.randint(0, 3)):
                        c = m.new_id("c")
                        cur.execute("INSERT INTO c (id, b_id, note) VALUES (%s, %s, 'new')", (c, b))
                        items.append(("c", c, b))
                e = m.new_id("e")
                cur.execute("INSERT INTO e (id, a_id) VALUES (%s, %s)", (e, a))
                items.append(("e", e, a))
        elif r < 0.40:
            kind = "insert_b"  # under a random a, maybe being deleted; with children

            def body(cur):
                a = m.pick("a", self.rng)
                b = m.new_id("b")
                cur.execute("INSERT INTO b (id, a_id, payload) VALUES (%s, %s, md5(%s::text))", (b, a, b))
                items.append(("b", b, a))
                self.pause(5)
                for _ in range(self.rng.randint(0, 2)):
                    c = m.new_id("c")
                    cur.execute("INSERT INTO c (id, b_id, note) VALUES (%s, %s, 'new')", (c, b))
                    items.append(("c", c, b))
        elif r < 0.65:
            kind = "insert_c"

            def body(cur):
                for _ in range(self.rng.randint(1, 3)):
                    b = m.pick("b", self.rng)
                    c = m.new_id("c")
                    cur.execute("INSERT INTO c (id, b_id, note) VALUES (%s, %s, 'new')", (c, b))
                    items.append(("c", c, b))
        elif r < 0.75:
            kind = "insert_e"  # deferred key: a missing parent fails at COMMIT

            def body(cur):
                a = m.pick("a", self.rng)
                e = m.new_id("e")
                cur.execute("INSERT INTO e (id, a_id) VALUES (%s, %s)", (e, a))
                items.append(("e", e, a))
                self.pause(5)
        else:
            kind = "insert_d"  # application-only key: the application checks its parent
            isolation = "READ COMMITTED"

            def body(cur):
                b = m.pick("b", self.rng)
                d = m.new_id("d")
                cur.execute("INSERT INTO d (id, b_id) SELECT %s, %s WHERE EXISTS "
                            "(SELECT FROM b WHERE id = %s)", (d, b, b))
                if cur.rowcount == 1:
                    items.append(("d", d, b))
                self.pause(5)

        try:
            run_txn(self.cur, isolation, body)
            m.add(items)
            self.stats.record(kind, "ok", worker=self.name, detail="%s %s" % (isolation, items))
        except psycopg2.Error as exc:
            code = sqlstate(exc)
            self.stats.record(kind, code, code in RETRYABLE or code == "23503", str(exc),
                              worker=self.name, detail="%s %s" % (isolation, items))
        self.pause(4)


class Updater(Worker):
    def step(self):
        m = self.model
        isolation = self.rng.choice(["READ COMMITTED"] * 3 + ["REPEATABLE READ"])
        targets = []
        for _ in range(self.rng.randint(1, 3)):
            t = self.rng.choice(TABLES)
            i = m.pick(t, self.rng, alive=0.9)
            if i is not None:
                targets.append((t, i))
        done = []

        def body(cur):
            for t, i in targets:  # random order: updaters can deadlock with each other
                cur.execute("UPDATE %s SET ver = ver + 1 WHERE id = %%s" % t, (i,))
                if cur.rowcount == 1:
                    done.append((t, i))
                self.pause(3)

        try:
            run_txn(self.cur, isolation, body)
            m.bump(done)
            self.stats.record("update", "ok", worker=self.name, detail="%s %s" % (isolation, done))
        except psycopg2.Error as exc:
            code = sqlstate(exc)
            self.stats.record("update", code, code in RETRYABLE, str(exc),
                              worker=self.name, detail="%s %s" % (isolation, targets))
        self.pause(4)


class Reader(Worker):
    def step(self):
        m = self.model
        try:
            if self.rng.random() < 0.5:
                a = m.pick("a", self.rng)
                self.cur.execute("SELECT cascade_delete('a', %s, dry_run => true)", (a,))
                self.cur.fetchone()
                kind = "dry_run"
            else:
                self.cur.execute("SELECT count(*), sum(c.ver) FROM a JOIN b ON b.a_id = a.id "
                                 "JOIN c ON c.b_id = b.id WHERE a.id %% 7 = %s", (self.rng.randint(0, 6),))
                self.cur.fetchone()
                kind = "read"
            self.stats.record(kind, "ok", worker=self.name)
        except psycopg2.Error as exc:
            code = sqlstate(exc)
            self.stats.record("read", code, code in RETRYABLE, str(exc), worker=self.name)
        self.pause(5)


class Deleter(Worker):
    def step(self):
        m = self.model
        r = self.rng.random()
        if r < 0.35:
            t, keys = "a", [m.pick("a", self.rng, alive=0.9)]
        elif r < 0.70:
            t, keys = "b", [m.pick("b", self.rng, alive=0.9)]
        elif r < 0.90:
            t, keys = "c", [m.pick("c", self.rng, alive=0.9)]
        else:  # several roots at once, overlapping other calls
            t, keys = "a", sorted({m.pick("a", self.rng, alive=0.9) for _ in range(self.rng.randint(2, 4))})
        isolation = self.rng.choice(["autocommit"] * 5 + ["READ COMMITTED", "REPEATABLE READ",
                                                          "SERIALIZABLE"])
        kind = "cascade_delete " + {"autocommit": "autocommit", "READ COMMITTED": "read committed txn",
                                    "REPEATABLE READ": "repeatable read",
                                    "SERIALIZABLE": "serializable"}[isolation]
        fast = self.settings.get("cascade_delete.fast_path") != "off"
        detail = "%s(%s, %s) fast_path %s" % ("cascade_delete" if len(keys) == 1 else "cascade_delete_many",
                                            t, keys if len(keys) > 1 else keys[0], "on" if fast else "off")
        report = {}

        def body(cur):
            if isolation != "autocommit":
                cur.execute("SELECT count(*) FROM a")  # take the snapshot early
                self.pause(10)
            if len(keys) == 1:
                cur.execute("SELECT cascade_delete(%s, %s)", (t, keys[0]))
            else:
                cur.execute("SELECT cascade_delete_many(%s, %s::bigint[])", (t, keys))
            report.update(cur.fetchone()[0])

        start = time.monotonic()
        try:
            run_txn(self.cur, isolation, body)
            elapsed = time.monotonic() - start
            m.delete_roots(t, keys)
            with self.stats.lock:
                self.stats.rows_deleted += report["total"]
                self.stats.latency.append(elapsed)
                if not fast:
                    self.stats.fast_path_off_calls += 1
            self.stats.record(kind, "ok", worker=self.name,
                              detail="%s %s total %d" % (detail, isolation, report["total"]))
        except psycopg2.Error as exc:
            code = sqlstate(exc)
            allowed = code in RETRYABLE or (code == "23503" and not fast)
            if code == "40001" and "concurrent transaction inserted or updated rows" in str(exc):
                code = "40001 (post-check)"  # cascade_delete's own check, not PostgreSQL's
            elif code == "40001" and "changed after cascade_delete collected them" in str(exc):
                code = "40001 (changed rows)"  # a collected row changed before its delete
            elif code == "23503" and not fast:
                code = "23503 (fast path off)"  # PostgreSQL's own NO ACTION check
            self.stats.record(kind, code, allowed, str(exc), worker=self.name,
                              detail="%s %s" % (detail, isolation))
        self.pause(60)


def load_initial(conn, model, n_a):
    cur = conn.cursor()
    cur.execute("INSERT INTO a (id, name) SELECT g, 'a' || g FROM generate_series(1, %s) g", (n_a,))
    cur.execute("INSERT INTO b (id, a_id, payload) SELECT g, (g - 1) / 5 + 1, md5(g::text) "
                "FROM generate_series(1, %s) g", (n_a * 5,))
    cur.execute("INSERT INTO c (id, b_id, note) SELECT g, (g - 1) / 4 + 1, 'initial' "
                "FROM generate_series(1, %s) g", (n_a * 20,))
    cur.execute("INSERT INTO d (id, b_id) SELECT g, g FROM generate_series(1, %s) g", (n_a * 5,))
    cur.execute("INSERT INTO e (id, a_id) SELECT g, (g - 1) / 2 + 1 FROM generate_series(1, %s) g",
                (n_a * 2,))
    cur.execute("ANALYZE")
    for t in TABLES:
        if t == "a":
            cur.execute("SELECT id, NULL FROM a")
        else:
            cur.execute("SELECT id, %s FROM %s" % (PARENT_COL[t], t))
        for i, p in cur.fetchall():
            model.rows[t][i] = [p, 0]
    model.initial = sum(len(model.rows[t]) for t in TABLES)


def checksum(rows):
    h = hashlib.md5()
    for t in TABLES:
        for i in sorted(rows[t]):
            p, v = rows[t][i]
            h.update(("%s:%s:%s:%s\n" % (t, i, p, v)).encode())
    return h.hexdigest()


def run_phase(phase, args, results):
    lock_on = phase == "lock"
    dbname = "concurrency_%d_%s" % (os.getpid(), phase)
    admin = connect("postgres")
    admin.cursor().execute("DROP DATABASE IF EXISTS %s" % dbname)
    admin.cursor().execute("CREATE DATABASE %s" % dbname)
    try:
        conn = connect(dbname)
        cur = conn.cursor()
        cur.execute(SCHEMA)
        # The settings exist once the library is loaded.
        cur.execute("SELECT cascade_delete('a', 0, dry_run => true)")
        cur.execute("SELECT current_setting('cascade_delete.lock_policy_tables', true)")
        has_lock_setting = cur.fetchone()[0] is not None
        if lock_on and not has_lock_setting:
            print("phase %s: cascade_delete.lock_policy_tables does not exist in this build: skipped" % phase)
            conn.close()
            return
        model, stats = Model(), Stats()
        if args.log:
            stats.log = open("%s.%s" % (args.log, phase), "w")
        rng = random.Random(args.seed + (1 if lock_on else 0))
        load_initial(conn, model, args.roots)
        conn.close()

        common = {"cascade_delete.lock_policy_tables": "on" if lock_on else "off"} if has_lock_setting else {}
        stop_at = time.monotonic() + args.seconds_per_phase
        workers = []
        n = args.clients
        # Roughly: 3/8 deleters, 2/8 inserters, 2/8 updaters, 1/8 readers (at least one each).
        n_del = max(1, n * 3 // 8)
        n_ins = max(1, n * 2 // 8)
        n_upd = max(1, n * 2 // 8)
        n_read = max(1, n - n_del - n_ins - n_upd)
        for k in range(n_del):
            s = dict(common)
            if k % 3 == 2:
                s["cascade_delete.fast_path"] = "off"
            if k % 3 == 1:
                s["lock_timeout"] = "200ms"
            workers.append(Deleter("deleter%d" % k, dbname, model, stats, stop_at, rng.random(), s))
        for k in range(n_ins):
            s = dict(common)
            if k % 2 == 1:
                s["lock_timeout"] = "300ms"
            workers.append(Inserter("inserter%d" % k, dbname, model, stats, stop_at, rng.random(), s))
        for k in range(n_upd):
            workers.append(Updater("updater%d" % k, dbname, model, stats, stop_at, rng.random(), dict(common)))
        for k in range(n_read):
            workers.append(Reader("reader%d" % k, dbname, model, stats, stop_at, rng.random(), dict(common)))
        for w in workers:
            w.start()
        for w in workers:
            w.join()

        if stats.log:
            stats.log.close()
        conn = connect(dbname)
        if args.sabotage:
            sabotage(conn, model)
        verify(phase, lock_on, conn, model, stats, workers, results)
        conn.close()
    finally:
        if not args.keep:
            admin.cursor().execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % dbname)
        admin.close()


def sabotage(conn, model):
    """Checker self-test (--sabotage): changes the model does not know of; verify must fail."""
    cur = conn.cursor()
    expected = model.expected()
    c = min(expected["c"])
    b = min(expected["b"])
    cur.execute("DELETE FROM c WHERE id = %s", (c,))                      # a lost row
    cur.execute("UPDATE b SET ver = ver + 100 WHERE id = %s", (b,))       # a changed row
    cur.execute("INSERT INTO d (id, b_id) VALUES (-1, -1)")               # an orphan nobody inserted
    print("  sabotage: deleted c %d, changed b %d, inserted orphan d -1" % (c, b))


def verify(phase, lock_on, conn, model, stats, workers, results):
    cur = conn.cursor()

    def check(name, ok, detail=""):
        results.append((phase, name, ok))
        print("  %-4s %s%s" % ("ok" if ok else "FAIL", name, (": " + detail) if detail else ""))

    print("phase %s (lock_policy_tables %s):" % (phase, "on" if lock_on else "off"))
    client_errors = [w.error for w in workers if w.error]
    check("clients ran without client-side errors", not client_errors, "; ".join(client_errors))

    orphan_sql = {
        "b->a": "SELECT count(*) FROM b WHERE NOT EXISTS (SELECT FROM a WHERE a.id = b.a_id)",
        "c->b": "SELECT count(*) FROM c WHERE NOT EXISTS (SELECT FROM b WHERE b.id = c.b_id)",
        "e->a": "SELECT count(*) FROM e WHERE NOT EXISTS (SELECT FROM a WHERE a.id = e.a_id)",
        "d->b": "SELECT count(*) FROM d WHERE NOT EXISTS (SELECT FROM b WHERE b.id = d.b_id)",
    }
    orphans = {}
    for k, sql in orphan_sql.items():
        cur.execute(sql)
        orphans[k] = cur.fetchone()[0]
    for k in ("b->a", "c->b", "e->a"):
        check("no orphans for the real foreign key %s" % k, orphans[k] == 0, "%d orphans" % orphans[k])
    if lock_on:
        check("no orphans for the policy-only key d->b", orphans["d->b"] == 0, "%d orphans" % orphans["d->b"])

    # The tables against the model.
    actual = {}
    for t in TABLES:
        if t == "a":
            cur.execute("SELECT id, NULL, ver FROM a")
        else:
            cur.execute("SELECT id, %s, ver FROM %s" % (PARENT_COL[t], t))
        actual[t] = {i: (p, v) for i, p, v in cur.fetchall()}
    cur.execute("SELECT count(*) FROM b WHERE payload <> md5(id::text)")
    bad_payload = cur.fetchone()[0]
    expected = model.expected()
    missing, extra, changed, race_orphans = [], [], [], 0
    for t in TABLES:
        for i, row in expected[t].items():
            if i not in actual[t]:
                missing.append((t, i))
            elif actual[t][i] != row:
                changed.append((t, i, row, actual[t][i]))
        for i, row in actual[t].items():
            if i not in expected[t]:
                # d rows inserted by a committed insert whose b is gone since: the
                # policy-only race, allowed with the lock off.
                if t == "d" and not lock_on and i in model.rows["d"] and row[0] not in actual["b"]:
                    race_orphans += 1
                else:
                    extra.append((t, i))
    if not lock_on:
        print("  info d->b (policy-only, lock_policy_tables off): %d orphans, %d of them rows of "
              "committed inserts whose parent was deleted concurrently (the documented race)"
              % (orphans["d->b"], race_orphans))
    surviving = sum(len(expected[t]) for t in TABLES)
    check("every row outside a deleted subtree is intact (%d rows, md5 %s)"
          % (surviving, checksum({t: expected[t] for t in TABLES})),
          not missing and not changed and bad_payload == 0,
          "%d missing %s, %d changed %s, %d bad payloads" % (len(missing), missing[:5], len(changed),
                                                             changed[:5], bad_payload))
    check("no row of a deleted subtree or a failed insert is left", not extra,
          "%d extra %s" % (len(extra), extra[:5]))
    # The race orphans (lock off) are left out; any other extra row changes the sum.
    actual_sum = checksum({t: {i: (p, v) for i, (p, v) in actual[t].items()
                               if not (t == "d" and not lock_on and i in model.rows["d"]
                                       and i not in expected["d"] and p not in actual["b"])}
                           for t in TABLES})
    check("checksum of the tables equals the model's", actual_sum == checksum(expected))

    check("every failed call failed with a retryable SQLSTATE (or 23503 where expected)",
          not stats.bad, "; ".join("%s %s %s" % b for b in stats.bad[:5]))

    total_rows = sum(len(actual[t]) for t in TABLES)
    disappeared = model.initial + model.inserted - total_rows
    if stats.fast_path_off_calls:
        ok = stats.rows_deleted <= disappeared
        rel = "<="
    else:
        ok = stats.rows_deleted == disappeared
        rel = "=="
    check("rows reported deleted by committed calls %s rows gone" % rel, ok,
          "reported %d, gone %d" % (stats.rows_deleted, disappeared))

    ok_deletes = sum(n for (k, o), n in stats.calls.items() if k.startswith("cascade_delete ") and o == "ok")
    ok_inserts = sum(n for (k, o), n in stats.calls.items() if k.startswith("insert") and o == "ok")
    check("the load did something (deletes and inserts committed)", ok_deletes > 0 and ok_inserts > 0,
          "%d deletes, %d inserts" % (ok_deletes, ok_inserts))

    # Figures.
    calls = sum(stats.calls.values())
    by_kind = defaultdict(Counter)
    for (k, o), n in stats.calls.items():
        by_kind[k][o] += n
    errors = Counter()
    for (k, o), n in stats.calls.items():
        if o != "ok":
            errors[o] += n
    lat = sorted(stats.latency)
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0)
    print("  calls %d; rows: initial %d, inserted %d, deleted (reported) %d, left %d; "
          "cascade_delete ok p50 %.1f ms p99 %.1f ms"
          % (calls, model.initial, model.inserted, stats.rows_deleted, total_rows, p(0.5), p(0.99)))
    for k in sorted(by_kind):
        print("    %-34s %s" % (k, ", ".join("%s %d" % (o, n) for o, n in sorted(by_kind[k].items()))))
    print("  errors by SQLSTATE: %s" % (", ".join("%s %d" % (o, n) for o, n in sorted(errors.items()))
                                        or "none"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0,
                    help="total load time, split between the phases (default 20)")
    ap.add_argument("--clients", type=int, default=8, help="client threads per phase (default 8)")
    ap.add_argument("--roots", type=int, default=400, help="initial a rows; each has 5 b, 20 c, 5 d, 2 e")
    ap.add_argument("--phase", choices=["nolock", "lock", "both"], default="both",
                    help="lock_policy_tables off, on, or one phase each (default)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the databases")
    ap.add_argument("--log", metavar="FILE",
                    help="write every call (time, worker, kind, outcome, details) to FILE.<phase>")
    ap.add_argument("--sabotage", action="store_true",
                    help="checker self-test: change rows behind the model's back; the checks must fail")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    phases = ["nolock", "lock"] if args.phase == "both" else [args.phase]
    args.seconds_per_phase = args.seconds / len(phases)
    print("concurrency load: %d clients, %.0f s per phase, seed %d" % (args.clients, args.seconds_per_phase,
                                                                       args.seed))
    results = []
    for phase in phases:
        try:
            run_phase(phase, args, results)
        except Exception as exc:
            print("phase %s: aborted: %r" % (phase, exc))
            results.append((phase, "phase ran", False))
    passed = sum(1 for r in results if r[2])
    failed = len(results) - passed
    print("concurrency-load: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

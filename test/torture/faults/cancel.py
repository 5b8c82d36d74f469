#!/usr/bin/python3
"""Cancels and statement timeouts at random points of a large cascade.

One big root (blk 0) whose cascade takes a few tenths of a second, and many
small roots (blk 1..K). Each trial interrupts the big cascade after a seeded
random delay (statement_timeout or pg_cancel_backend from another session),
in autocommit, in a transaction block, or inside a savepoint, with
cascade_delete.fast_path on or off and a random batch_size. After each trial:
the error is 57014, every table is exactly as before (per-blk checksums),
the session's key tables are empty, no non-temporary relation appeared or
vanished, the settings are what the session set, PostgreSQL's own RI
triggers still fire for plain statements (NO ACTION refuses with 23503, ON
DELETE CASCADE cascades), and a small cascade_delete in the same session
deletes exactly its subtree.

Environment: FAULTS_SEED (default 20261121), FAULTS_TRIALS (default 100),
FAULTS_SCALE (multiplies the big root's size, default 1).
"""
import collections
import os
import random
import threading
import time

from lib import (attempt, catalog_objects, connect, key_tables, memory_bytes, one, q,
                 run_main, sqlstate)

SEED = int(os.environ.get("FAULTS_SEED", "20261121"))
TRIALS = int(os.environ.get("FAULTS_TRIALS", "100"))
SCALE = float(os.environ.get("FAULTS_SCALE", "1"))
M = int(12000 * SCALE)  # mid rows under the big root
K = 130                 # small roots
GUARD = 99999           # a root that a NO ACTION row references

TABLES = ["app.root", "app.mid", "app.leaf", "app.side", "app.tag", "app.node", "app.dj",
          "app.keeper"]

SCHEMA = f"""
CREATE SCHEMA app;
CREATE TABLE app.root (id int PRIMARY KEY, blk int NOT NULL, note text);
CREATE TABLE app.mid (id int PRIMARY KEY, root_id int NOT NULL REFERENCES app.root ON DELETE CASCADE,
                      blk int NOT NULL, pad text);
CREATE TABLE app.leaf (id int PRIMARY KEY, mid_id int NOT NULL REFERENCES app.mid ON DELETE CASCADE,
                       blk int NOT NULL);
-- SET NULL: the cascade updates these rows
CREATE TABLE app.side (id int PRIMARY KEY, mid_id int REFERENCES app.mid ON DELETE SET NULL,
                       blk int NOT NULL);
-- a foreign key that exists only in the application (policy CASCADE)
CREATE TABLE app.tag (id int PRIMARY KEY, mid_ref int, blk int NOT NULL);
-- a self-reference below mid
CREATE TABLE app.node (id int PRIMARY KEY, parent_id int REFERENCES app.node ON DELETE CASCADE,
                       mid_id int REFERENCES app.mid ON DELETE CASCADE, blk int NOT NULL);
-- Django's deferred NO ACTION key with a CASCADE policy
CREATE TABLE app.dj (id int PRIMARY KEY,
                     leaf_id int NOT NULL REFERENCES app.leaf DEFERRABLE INITIALLY DEFERRED,
                     blk int NOT NULL);
-- NO ACTION: guards root {GUARD}
CREATE TABLE app.keeper (id int PRIMARY KEY, root_id int REFERENCES app.root, blk int NOT NULL);
CREATE INDEX ON app.mid (root_id);
CREATE INDEX ON app.leaf (mid_id);
CREATE INDEX ON app.side (mid_id);
CREATE INDEX ON app.tag (mid_ref);
CREATE INDEX ON app.node (parent_id);
CREATE INDEX ON app.node (mid_id);
CREATE INDEX ON app.dj (leaf_id);
CREATE INDEX ON app.keeper (root_id);
SELECT cascade_delete_set_policy('app.tag', '{{mid_ref}}', 'CASCADE', parent => 'app.mid');
SELECT cascade_delete_set_policy('app.dj', '{{leaf_id}}', 'CASCADE');

-- the big root: blk 0
INSERT INTO app.root VALUES (0, 0, 'big');
INSERT INTO app.mid SELECT g, 0, 0, repeat('m', 40) FROM generate_series(1, {M}) g;
INSERT INTO app.leaf SELECT g, 1 + (g - 1) / 4, 0 FROM generate_series(1, {4 * M}) g;
INSERT INTO app.side SELECT g, g, 0 FROM generate_series(1, {M}) g;
INSERT INTO app.tag SELECT g, g, 0 FROM generate_series(1, {M}) g;
-- chains of 10 nodes, each chain hanging from one mid row
INSERT INTO app.node SELECT g, NULL, g, 0 FROM generate_series(1, {M // 2}, 10) g;
INSERT INTO app.node SELECT g, g - 1, NULL, 0 FROM generate_series(1, {M // 2}) g WHERE g % 10 <> 1;
INSERT INTO app.dj SELECT g, 2 * g, 0 FROM generate_series(1, {2 * M}) g;

-- small roots r = 1..{K}: ids 1000000 + 10 r + j
INSERT INTO app.root SELECT r, r, 'small' FROM generate_series(1, {K}) r;
INSERT INTO app.mid SELECT 1000000 + 10 * r + j, r, r, 'm' FROM generate_series(1, {K}) r, generate_series(0, 1) j;
INSERT INTO app.leaf SELECT 1000000 + 10 * r + j, 1000000 + 10 * r + j / 2, r
    FROM generate_series(1, {K}) r, generate_series(0, 3) j;
INSERT INTO app.side SELECT 1000000 + 10 * r + j, 1000000 + 10 * r + j, r
    FROM generate_series(1, {K}) r, generate_series(0, 1) j;
INSERT INTO app.tag SELECT 1000000 + 10 * r, 1000000 + 10 * r + 1, r FROM generate_series(1, {K}) r;
INSERT INTO app.node SELECT 1000000 + 10 * r, NULL, 1000000 + 10 * r, r FROM generate_series(1, {K}) r;
INSERT INTO app.node SELECT 1000000 + 10 * r + 1, 1000000 + 10 * r, NULL, r FROM generate_series(1, {K}) r;
INSERT INTO app.dj SELECT 1000000 + 10 * r + j, 1000000 + 10 * r + j, r
    FROM generate_series(1, {K}) r, generate_series(0, 2) j;

-- the guarded root and rows that survive everything
INSERT INTO app.root VALUES ({GUARD}, {GUARD}, 'guarded');
INSERT INTO app.mid VALUES (2000000, {GUARD}, {GUARD}, 'g');
INSERT INTO app.leaf VALUES (2000000, 2000000, {GUARD});
INSERT INTO app.keeper VALUES (1, {GUARD}, {GUARD});
INSERT INTO app.side VALUES (2000000, NULL, {GUARD});
"""


def key_table_bytes(cur):
    return one(cur, "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "WHERE c.relnamespace = pg_my_temp_schema()")


def grouped(cur):
    """{(table, blk): (rows, hash sum)} over every table."""
    out = {}
    for t in TABLES:
        for blk, n, h in q(cur, f"SELECT blk, count(*), sum(hashtextextended(x::text, 7))::text "
                                f"FROM {t} x GROUP BY blk"):
            out[(t, blk)] = (n, h)
    return out


def body(s):
    rng = random.Random(SEED)
    s.note(f"seed {SEED}, {TRIALS} trials, {M} mid rows under the big root")
    db, conn = s.new_db("cancel")
    cur = conn.cursor()
    t0 = time.time()
    cur.execute(SCHEMA)
    cur.execute("VACUUM ANALYZE")
    s.figure("setup_seconds", f"{time.time() - t0:.1f}")

    base = grouped(cur)
    # What a deleted small root leaves: its side rows with mid_id NULL.
    after_small = {}
    for blk, n, h in q(cur, "SELECT blk, count(*), sum(hashtextextended(ROW(id, NULL::int, blk)::text, 7))::text "
                            "FROM app.side GROUP BY blk"):
        after_small[blk] = (n, h)
    big_rows = sum(n for (t, blk), (n, h) in base.items() if blk == 0 and t != "app.side")
    s.figure("big_cascade_rows_deleted", big_rows)
    s.figure("big_cascade_rows_updated", base[("app.side", 0)][0])

    def expected_state(deleted):
        exp = {}
        for (t, blk), v in base.items():
            if blk in deleted:
                if t == "app.side":
                    exp[(t, blk)] = after_small[blk]
            else:
                exp[(t, blk)] = v
        return exp

    def small_report(r):
        d = {}
        for (t, blk), (n, h) in base.items():
            if blk == r and t != "app.side":
                d[t] = n
        return {"total": sum(d.values()), "deleted": d, "updated": {"app.side": base[("app.side", r)][0]}}

    ctl = connect(db)
    ccur = ctl.cursor()
    pid = one(cur, "SELECT pg_backend_pid()")

    # Calibration: how long the big cascade takes with each setting.
    combos = [(fp, bs) for fp in ("on", "off") for bs in (500, 5000, 10000, 100000)]
    duration = {}
    conn.autocommit = False
    for fp, bs in combos:
        cur.execute(f"SET cascade_delete.fast_path = {fp}; SET cascade_delete.batch_size = {bs}")
        t = time.time()
        cur.execute("SELECT cascade_delete('app.root', 0)")
        rep = cur.fetchone()[0]
        duration[(fp, bs)] = time.time() - t
        conn.rollback()
        s.eq(rep["total"], big_rows, f"big cascade (fast_path {fp}, batch_size {bs}) deletes every row of blk 0")
    conn.autocommit = True
    s.figure("big_cascade_seconds", ", ".join(f"fp={fp}/bs={bs}: {d:.2f}" for (fp, bs), d in duration.items()))
    s.eq(grouped(cur), base, "calibration runs left everything as it was")

    # The baseline of the session's state, after its first calls.
    objects0 = catalog_objects(cur)
    nkeytables0 = None
    mem_first = None
    deleted = set()
    next_small = 1
    counts = collections.Counter()
    phases = collections.Counter()
    notices = []
    conn.notices = notices
    small_ms = []

    for trial in range(TRIALS):
        mode = rng.choice(["timeout", "cancel"])
        shape = rng.choice(["autocommit", "transaction", "savepoint"])
        fp, bs = rng.choice(combos)
        entry = rng.choice(["SELECT cascade_delete('app.root', 0)", "SELECT cascade_delete_many('app.root', ARRAY[0])",
                            "SELECT cascade_delete_where('app.root', 'id = 0')"])
        d = duration[(fp, bs)]
        # Mostly spread over the whole call; sometimes in its first milliseconds.
        delay = rng.uniform(0.0, 0.03) if rng.random() < 0.15 else rng.uniform(0.0, 1.0) * d
        name = (f"trial {trial + 1} ({entry.split('(')[0][7:]}, {mode} after {delay * 1000:.0f} ms, {shape}, "
                f"fast_path {fp}, batch_size {bs})")
        cur.execute(f"SET cascade_delete.fast_path = {fp}; SET cascade_delete.batch_size = {bs};"
                    "SET client_min_messages = debug1")
        del notices[:]
        if shape != "autocommit":
            cur.execute("BEGIN")
            # work of the same transaction, which the failure must take with it
            cur.execute("INSERT INTO app.root VALUES (500000, 500000, 'in the transaction')")
            if shape == "savepoint":
                cur.execute("SAVEPOINT s")
        if mode == "timeout":
            cur.execute(f"SET statement_timeout = {max(1, int(delay * 1000))}")
        result = {}

        def call():
            result["rows"], result["err"] = attempt(conn, entry)

        th = threading.Thread(target=call)
        th.start()
        if mode == "cancel":
            time.sleep(delay)
            ccur.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = %s "
                         "AND state = 'active' AND query LIKE 'SELECT cascade_delete%%'", (pid,))
        th.join()
        err = result["err"]
        # A cancel that arrived just as the call ended may hit the next statement.
        for _ in range(3):
            _, e2 = attempt(conn, "SELECT 1")
            if e2 is None:
                break
            if shape != "autocommit" and e2.pgcode == "25P02":
                break
            counts["late_cancel"] += 1
        if mode == "timeout" and (shape == "autocommit" or err is None):
            cur.execute("RESET statement_timeout")
        reached = [n.split("cascade_delete: ")[1].split(" ")[0] for n in notices
                   if "cascade_delete: " in n and " ms" in n and "deleted" not in n]
        nxt = {"setup": "key tables", "key": "collect", "collect": "checks", "checks": "updates",
               "updates": "deletes", "deletes": "post-check", "post-check": "end of call"}
        phases[nxt.get(reached[-1], reached[-1]) if reached else "setup"] += 1

        if err is None:
            counts["completed"] += 1
            s.note(f"{name}: completed before the interruption; undoing it")
            if shape == "autocommit":
                # Put blk 0 back (parents first).
                cur.execute("""
                    INSERT INTO app.root VALUES (0, 0, 'big');
                    INSERT INTO app.mid SELECT g, 0, 0, repeat('m', 40) FROM generate_series(1, %(m)s) g;
                    INSERT INTO app.leaf SELECT g, 1 + (g - 1) / 4, 0 FROM generate_series(1, 4 * %(m)s) g;
                    UPDATE app.side SET mid_id = id WHERE blk = 0;
                    INSERT INTO app.tag SELECT g, g, 0 FROM generate_series(1, %(m)s) g;
                    INSERT INTO app.node SELECT g, NULL, g, 0 FROM generate_series(1, %(m)s / 2, 10) g;
                    INSERT INTO app.node SELECT g, g - 1, NULL, 0 FROM generate_series(1, %(m)s / 2) g WHERE g %% 10 <> 1;
                    INSERT INTO app.dj SELECT g, 2 * g, 0 FROM generate_series(1, 2 * %(m)s) g;
                """, {"m": M})
            else:
                cur.execute("ROLLBACK")
                cur.execute("RESET statement_timeout")
        else:
            counts["interrupted"] += 1
            counts[mode] += 1
            if not s.ok(err.pgcode == "57014", f"{name}: SQLSTATE 57014",
                        f"got {err.pgcode}: {err.pgerror}"):
                continue
            if shape == "transaction":
                _, e = attempt(conn, "SELECT 1")
                s.eq(sqlstate(e), "25P02", f"{name}: the transaction is aborted")
                cur.execute("ROLLBACK")
                cur.execute("RESET statement_timeout")
            elif shape == "savepoint":
                cur.execute("ROLLBACK TO SAVEPOINT s")
                cur.execute("SET statement_timeout = 0")

        cur.execute("SET client_min_messages = notice")
        # The small cascade in the same session (and, for a savepoint, in the
        # same transaction, committed with the row inserted before it).
        r = next_small
        next_small += 1
        t = time.time()
        rows, e = attempt(conn, "SELECT cascade_delete('app.root', %s)", (r,))
        small_ms.append((time.time() - t) * 1000)
        if shape == "savepoint" and err is not None:
            cur.execute("COMMIT")
            cur.execute("RESET statement_timeout")
            s.eq(one(cur, "SELECT count(*) FROM app.root WHERE id = 500000"), 1,
                 f"{name}: the transaction's own work before the savepoint is committed")
            cur.execute("DELETE FROM app.root WHERE id = 500000")
        if s.ok(e is None, f"{name}: the next cascade_delete in the session works", str(e)):
            s.eq(rows[0][0], small_report(r), f"{name}: its report")
            deleted.add(r)
        got = grouped(cur)
        exp = expected_state(deleted)
        bad = sorted(k for k in set(got) | set(exp) if got.get(k) != exp.get(k))
        s.ok(not bad, f"{name}: every table holds exactly the expected rows",
             "; ".join(f"{k}: {got.get(k)} != {exp.get(k)}" for k in bad[:5]))
        kt = key_tables(cur)
        # A successful call leaves its small key sets (<= 1000 rows a table) for
        # the next call to clear; a failed or cancelled one leaves none of its own.
        s.ok(all(v <= 1000 for v in kt.values()), f"{name}: key tables hold at most a small call's keys", str(kt))
        if nkeytables0 is None:
            nkeytables0 = len(kt)
        counts["max_key_tables"] = max(counts["max_key_tables"], len(kt))
        s.eq(catalog_objects(cur), objects0, f"{name}: no relation left behind or lost")
        s.eq((one(cur, "SHOW cascade_delete.fast_path"), one(cur, "SHOW cascade_delete.batch_size")),
             (fp, str(bs)), f"{name}: settings as the session set them")
        s.eq(one(cur, "SHOW statement_timeout"), "0", f"{name}: statement_timeout back to 0")
        # PostgreSQL's own RI triggers still fire for plain statements.
        _, e = attempt(conn, "DELETE FROM app.root WHERE id = %s", (GUARD,))
        s.eq(sqlstate(e), "23503", f"{name}: plain DELETE of a NO ACTION parent still fails 23503")
        conn.autocommit = False
        cur.execute("DELETE FROM app.mid WHERE id = 2000000")
        s.eq(one(cur, "SELECT count(*) FROM app.leaf WHERE id = 2000000"), 0,
             f"{name}: plain DELETE still cascades through ON DELETE CASCADE")
        conn.rollback()
        conn.autocommit = True
        if mem_first is None:
            mem_first = memory_bytes(cur)
        mem_last = memory_bytes(cur)
        if trial == min(9, TRIALS - 1):
            kt_early = key_table_bytes(cur)
            small_early = sorted(small_ms)[len(small_ms) // 2]

    s.figure("trials", TRIALS)
    s.figure("interrupted", counts["interrupted"])
    s.figure("interrupted_by_timeout", counts["timeout"])
    s.figure("interrupted_by_cancel", counts["cancel"])
    s.figure("completed_before_interrupt", counts["completed"])
    s.figure("late_cancels_absorbed", counts["late_cancel"])
    s.figure("interrupted_during_phase", dict(phases))
    s.figure("key_tables", f"{nkeytables0} after the first trial, at most {counts['max_key_tables']}")
    s.figure("backend_memory_contexts_bytes", f"{mem_first} after trial 1, {mem_last} after trial {TRIALS}")
    s.ok(mem_last - mem_first < 4 * 1024 * 1024, "backend memory contexts do not grow over the trials",
         f"{mem_first} -> {mem_last}")
    ktsize = key_table_bytes(cur)
    s.figure("key_tables_bytes", f"{kt_early} after trial 10, {ktsize} after trial {TRIALS}")
    # Rows a failed call inserted into the session's key tables are dead
    # tuples that nothing vacuums (temporary tables): they must not pile up
    # over interrupted calls (they did before key tables became ON COMMIT
    # DELETE ROWS: 182 MB after 100 trials, small calls 5x slower).
    # (After trial 10 there may be none yet: every call that made one may have been
    # interrupted, its CREATE rolled back; a large cascade's key tables take a few MB.)
    s.ok(ktsize <= 2 * kt_early + 8 * 1024 * 1024,
         "key tables do not keep growing over interrupted calls",
         f"{kt_early} bytes after trial 10, {ktsize} after trial {TRIALS}")
    s.figure("small_call_ms", f"first {small_ms[0]:.1f}, median of trials 1-10 {small_early:.1f}, "
                              f"median of all {sorted(small_ms)[len(small_ms) // 2]:.1f}, last {small_ms[-1]:.1f}")
    # rows lost: every row that should exist does (checked per trial above)
    exp = expected_state(deleted)
    got = grouped(cur)
    lost = sum(max(0, exp[k][0] - got.get(k, (0, 0))[0]) for k in exp)
    s.figure("rows_lost", lost)
    s.eq(lost, 0, "no row lost over all trials")
    ctl.close()
    conn.close()


if __name__ == "__main__":
    run_main("cancel", body)
